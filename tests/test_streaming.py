"""ImageNet-32's training set streams from a memory-mapped cache instead of being loaded whole.

A synthetic dataset in the official npz format (ten ``train_data_batch_N.npz`` and a
``val_data.npz``, keys ``data`` uint8 (N, 3072), 1-based ``labels``, ``mean``) stands in for the
real 3.9 GB one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hourglass.core.errors import UserError
from hourglass.data import load_dataset

TRAIN_FILES, PER_FILE, VAL = 10, 16_000, 2_000  # 160k images: a 492 MB training set


def write_imagenet32(root: Path, per_file: int, val: int = VAL) -> int:
    """Official-format npz batches under root/imagenet32; returns the training bytes."""
    folder = root / "imagenet32"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, TRAIN_FILES + 1):
        np.savez(folder / f"train_data_batch_{i}.npz",
                 data=rng.integers(0, 256, (per_file, 3072), dtype=np.uint8),
                 labels=rng.integers(1, 1001, per_file), mean=np.zeros(3072))
    np.savez(folder / "val_data.npz", data=rng.integers(0, 256, (val, 3072), dtype=np.uint8),
             labels=rng.integers(1, 1001, val))
    return TRAIN_FILES * per_file * 3072


def test_training_set_is_memory_mapped_and_equal_to_the_batches(tmp_path):
    write_imagenet32(tmp_path, per_file=50, val=40)
    ds = load_dataset("imagenet32", tmp_path)
    assert ds.train.streamed and not ds.eval.streamed and len(ds.train) == 500
    with np.load(tmp_path / "imagenet32" / "train_data_batch_2.npz") as z:
        first = torch.from_numpy(z["data"][0].reshape(3, 32, 32))
        label = int(z["labels"][0]) - 1
    assert torch.equal(ds.train.images[50], first) and int(ds.train.labels[50]) == label
    assert ds.train.take(10).streamed


def test_a_damaged_or_stale_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("HOURGLASS_CACHE_DIR", str(tmp_path / "cache"))  # its own cache only
    write_imagenet32(tmp_path, per_file=20, val=40)
    before = load_dataset("imagenet32", tmp_path).train.images.clone()
    (cache,) = (tmp_path / "cache").glob("imagenet32-*.u8")
    with open(cache, "r+b") as f:
        f.truncate(1000)
    assert torch.equal(load_dataset("imagenet32", tmp_path).train.images, before)
    batch = tmp_path / "imagenet32" / "train_data_batch_1.npz"
    np.savez(batch, data=np.zeros((20, 3072), np.uint8), labels=np.ones(20, np.int64))
    assert int(load_dataset("imagenet32", tmp_path).train.images[:20].max()) == 0


def test_flip4_is_refused_on_a_streamed_set(tmp_path):
    from hourglass.data import flip4

    write_imagenet32(tmp_path, per_file=10, val=40)
    with pytest.raises(UserError, match="flip4"):
        flip4(load_dataset("imagenet32", tmp_path).train)


def _peak_memory(cmd: list[str], env: dict) -> tuple[int, int]:
    """Peak (anonymous, file-backed) resident memory of a child process, in bytes.

    Pages of a memory-mapped file count in the process's RSS while they are resident, but the
    kernel drops them under pressure like any page cache; anonymous memory (RssAnon) is what
    the process really holds, so that is what must not grow with the file."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    peak = {"RssAnon": 0, "RssFile": 0}
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    key = line.split(":")[0]
                    if key in peak:
                        peak[key] = max(peak[key], int(line.split()[1]) * 1024)
        except OSError:
            pass  # the child exited between poll() and open()
        time.sleep(0.005)
    assert proc.returncode == 0, proc.stderr.read()
    return peak["RssAnon"], peak["RssFile"]


@pytest.mark.integration
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_an_epoch_over_the_whole_file_holds_far_less_memory_than_the_file(tmp_path):
    size = write_imagenet32(tmp_path / "big", per_file=PER_FILE)
    write_imagenet32(tmp_path / "tiny", per_file=100)
    env = dict(os.environ, HOURGLASS_CACHE_DIR=str(tmp_path / "cache"), OMP_NUM_THREADS="1")

    def run(name: str) -> tuple[int, int]:
        return _peak_memory([
            sys.executable, "-m", "hourglass", "train", "--dataset", "imagenet32",
            "--data-dir", str(tmp_path / name), "--task", "classify", "--skip-dim", "64",
            "--inner-dim", "16", "--depth", "1", "--input-proj", "fixed", "--epochs", "1",
            "--out", str(tmp_path / f"run-{name}"), "--quiet"], env)

    # The same command on a 1k-image training set is the baseline: interpreter, torch,
    # model and the (equal) eval split.
    anon, resident_file = run("big")
    tiny_anon, _ = run("tiny")
    print(f"file {size >> 20} MB; peak anonymous {anon >> 20} MB (1k-image set "
          f"{tiny_anon >> 20} MB); peak file-backed {resident_file >> 20} MB")
    assert anon - tiny_anon < size / 8
    assert resident_file < size + (256 << 20)  # the mapping is the file, not a copy of it
