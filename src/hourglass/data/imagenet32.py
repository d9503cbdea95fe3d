"""Downsampled ImageNet 32x32 (Chrabaszcz et al. 2017), official npz batches.

Each npz holds ``data`` uint8 (N, 3072) in CHW order and ``labels`` 1-based ints.
Training files: ``train_data_batch_1.npz`` .. ``_10``; validation: ``val_data.npz``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from hourglass.errors import UserError


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
