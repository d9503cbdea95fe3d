"""CIFAR-10's official python batches (data_batch_1..5, test_batch), read without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hourglass.core.errors import UserError
from hourglass.data.safe_pickle import UnsafePickleError, load_data_pickle

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        obj = load_data_pickle(path.read_bytes())
    except UnsafePickleError as e:
        raise UserError(f"{path}: not a CIFAR-10 python batch ({e})") from e
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e})") from e
    if not isinstance(obj, dict) or "data" not in obj or "labels" not in obj:
        raise UserError(f"{path}: not a CIFAR-10 python batch (no 'data' and 'labels')")
    data, labels = obj["data"], np.asarray(obj["labels"], dtype=np.int64)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise UserError(f"{path}: expected uint8 data (N, 3072) with N labels")
    return data, labels


def load_cifar_batches(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 (N, 3, 32, 32) in the official CHW order, labels int64."""
    parts = []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(path)
        parts.append(read_batch(path))
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)
