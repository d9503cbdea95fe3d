"""Downsampled ImageNet 32x32 (Chrabaszcz et al. 2017), official npz batches.

Each npz holds ``data`` uint8 (N, 3072) in CHW order and ``labels`` 1-based ints.
Training files: ``train_data_batch_1.npz`` .. ``_10``; validation: ``val_data.npz``.

The training set is 3.9 GB as uint8, more than many machines can hold next to a model, so it
is streamed: the batches are copied once, one at a time, into a single raw uint8 file in the
cache directory, and training memory-maps that file. The kernel pages images in as batches
touch them and can drop them again, so the process's own memory stays far below the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from hourglass.core.errors import UserError
from hourglass.core.files import cache_dir, files_key, open_atomic, write_npy_atomic

IMAGE_BYTES = 3 * 32 * 32


def find_batches(folder: Path) -> tuple[list[Path], Path | None]:
    train = sorted(folder.rglob("train_data_batch_*.npz"),
                   key=lambda p: int(p.stem.rsplit("_", 1)[-1]))
    val = sorted(folder.rglob("val_data.npz"))
    return train, (val[0] if val else None)


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            data, labels = z["data"], z["labels"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: not an ImageNet-32 npz batch ({e})") from e
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 \
            or data.shape[0] != labels.shape[0]:
        raise UserError(f"{path}: expected 'data' uint8 (N, 3072) and N 'labels'")
    if labels.size and (labels.min() < 1 or labels.max() > 1000):
        raise UserError(f"{path}: labels must be 1-based in 1..1000")
    return data, labels - 1


def load_npz_batches(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [read_npz(p) for p in paths]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(data.reshape(-1, 3, 32, 32)), torch.from_numpy(labels)


def mapped_batches(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, 32, 32) memory-mapped from the cache (built on first use, one batch file
    in memory at a time) and labels (N,) in memory. Editing a batch file rebuilds the cache."""
    key = files_key([p.resolve() for p in paths])
    images_file = cache_dir() / f"imagenet32-{key}.u8"
    labels_file = cache_dir() / f"imagenet32-{key}-labels.npy"
    labels = None
    if images_file.is_file() and labels_file.is_file():
        try:
            labels = np.load(labels_file, allow_pickle=False)
        except (OSError, ValueError):
            labels = None  # a damaged cache is rebuilt below
        if labels is not None and images_file.stat().st_size != labels.shape[0] * IMAGE_BYTES:
            labels = None
    if labels is None:
        parts = []
        try:
            with open_atomic(images_file) as f:
                for p in paths:
                    data, part = read_npz(p)
                    f.write(data.data)  # the buffer itself: no copy
                    parts.append(part)
                    del data
        except OSError as e:
            raise UserError(f"cannot write the ImageNet-32 stream cache {images_file} ({e}); "
                            "set HOURGLASS_CACHE_DIR to a folder with room for it") from e
        labels = np.concatenate(parts)
        write_npy_atomic(labels_file, labels)
    # copy-on-write: a writable array for torch, and nothing ever writes through it
    images = np.memmap(images_file, dtype=np.uint8, mode="c", shape=(labels.shape[0], 3, 32, 32))
    return torch.from_numpy(images), torch.from_numpy(labels)
