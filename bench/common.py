"""What the MNIST benchmarks share: their command line and their data."""

from __future__ import annotations

import argparse
from pathlib import Path

from hourglass.data import ImageDataset, load_dataset

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def mnist_bench_args(doc: str, quick_help: str) -> tuple[argparse.Namespace, ImageDataset]:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--data-dir", default=str(SHARED_DATA))
    args = ap.parse_args()
    return args, load_dataset("mnist", args.data_dir)
