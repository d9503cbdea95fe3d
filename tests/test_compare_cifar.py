"""`hourglass compare` of a family on real CIFAR-10 files, at the sizes its compare space
picks for 32x32x3 images (the MLP-Mixer's: patch 4, widths to 512)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def small_cifar(tmp_path_factory, cifar_dir) -> Path:
    """A data directory whose cifar10/ holds, of each class, the first 100 training images by
    name in train/, the next 20 in val/ (so the eval split is those 200, not CIFAR-10's
    5,000-image holdout) and the first 20 test images: hard links into the shared extraction,
    the real files, few enough for a compare of a minute or two."""
    root = tmp_path_factory.mktemp("small-cifar")
    for split, source, first, last in (("train", "train", 0, 100), ("val", "train", 100, 120),
                                       ("test", "test", 0, 20)):
        for cls in sorted(os.listdir(cifar_dir / "cifar10" / source)):
            (root / "cifar10" / split / cls).mkdir(parents=True)
            for name in sorted(os.listdir(cifar_dir / "cifar10" / source / cls))[first:last]:
                os.link(cifar_dir / "cifar10" / source / cls / name,
                        root / "cifar10" / split / cls / name)
    return root


@pytest.mark.integration
def test_compare_runs_the_mixer_on_cifar10(small_cifar, tmp_path):
    out = tmp_path / "compare"
    r = subprocess.run([sys.executable, "-m", "hourglass", "compare", "--family", "mixer",
                        "--dataset", "cifar10", "--data-dir", str(small_cifar),
                        "--budget-minutes", "0.1", "--workers", "2", "--out", str(out),
                        "--quiet"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "frontier.json").read_text())
    assert summary["space"]["family"] == "mixer" and summary["space"]["dataset"] == "cifar10"
    assert set(summary["frontiers"]) == {"hourglass", "conventional"}
    runs = sorted((out / "runs").glob("*/data.json"))
    assert runs and all(json.loads(d.read_text())["files"] == 1400 for d in runs)  # val/ too
