"""What the benchmarks share: their command line, their data, the machine's matmul peak."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from hourglass.data import ImageDataset, load_dataset
from hourglass.training.machine import cpu_name

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMOKE_HELP = "one or two steps on a small subset: checks that the script runs (CI runs it so); " \
    "its figures mean nothing"


def by_mode(args: argparse.Namespace, smoke, quick, full):
    """The benchmark's size for --smoke, --quick or a full run."""
    return smoke if args.smoke else quick if args.quick else full


def bench_args(doc: str, quick_help: str, dataset: str = "mnist",
               flags: dict[str, str] | None = None) -> tuple[argparse.Namespace, ImageDataset]:
    """--quick, --smoke, --data-dir and the benchmark's own on/off ``flags`` (name: help);
    prints the machine, the first line of every timing benchmark."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    ap.add_argument("--data-dir", default=str(SHARED_DATA))
    for name, text in (flags or {}).items():
        ap.add_argument(name, action="store_true", help=text)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    return args, load_dataset(dataset, args.data_dir)


def machine() -> str:
    """The CPU a benchmark ran on, and whether it has bfloat16 matmul units: timings compare
    only on one machine, and bf16's speed turns on those units (12x slower without)."""
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return f"{cpu_name()}, {os.cpu_count()} cores, bfloat16 units: {'yes' if native else 'no'}"


def matmul_peak(args: argparse.Namespace, repeats: int = 5) -> tuple[int, float]:
    """(n, FLOP/s) of the best of ``repeats`` n x n fp32 matmuls: this machine's practical
    peak, n = 4096 (512 in a smoke run, whose figures mean nothing)."""
    n = by_mode(args, 512, 4096, 4096)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return n, 2 * n**3 / min(times)
