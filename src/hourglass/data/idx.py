"""MNIST-style IDX files (gzip or raw), checked against their published checksums."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np
import torch

from hourglass.core.errors import UserError

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# md5 of the *uncompressed* bytes: a re-packed .gz of the official data still verifies.
IDX_MD5 = {
    "mnist": {
        "train_images": "6bbc9ace898e44ae57da46a324031adb",
        "train_labels": "a25bea736e30d166cdddb491f175f624",
        "test_images": "2646ac647ad5339dbf082846283269ea",
        "test_labels": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
        "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
        "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

_UBYTE = 0x08


def find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


# The largest official IDX file (MNIST and Fashion-MNIST training images) is 47,040,016
# bytes; anything much larger is not one, and is refused while it is read, not after.
MAX_IDX_BYTES = 64 << 20
CHUNK = 1 << 20


def read_idx_bytes(path: Path) -> bytes:
    too_big = UserError(f"{path}: holds more than {MAX_IDX_BYTES >> 20} MiB, more than any "
                        "MNIST-style file; it is not one (download it again)")
    try:
        if path.suffix != ".gz":
            if path.stat().st_size > MAX_IDX_BYTES:
                raise too_big
            return path.read_bytes()
        parts, size = [], 0
        with gzip.open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                size += len(chunk)
                if size > MAX_IDX_BYTES:
                    raise too_big
                parts.append(chunk)
        return b"".join(parts)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"{path}: cannot read ({e}); the file is damaged, download it again") from e


def parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """Parse an unsigned-byte IDX array: magic 0x0000 08 <ndim>, big-endian dims, data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or raw[3] == 0:
        raise UserError(f"{path}: not an IDX file of unsigned bytes (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise UserError(f"{path}: wrong size, {len(raw)} bytes where the header "
                        f"{dims} implies {expected}; the file is truncated or damaged")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_idx_pair(folder: Path, dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N,1,H,W), labels int64) of the 'train' or 'test' split."""
    arrays = []
    for kind in ("images", "labels"):
        key = f"{split}_{kind}"
        path = find_idx(folder, IDX_FILES[key])
        if path is None:
            raise FileNotFoundError(folder / (IDX_FILES[key] + ".gz"))
        raw = read_idx_bytes(path)
        expected_md5 = IDX_MD5.get(dataset, {}).get(key)
        if expected_md5 and hashlib.md5(raw).hexdigest() != expected_md5:
            raise UserError(f"{path}: checksum mismatch (md5 of its content is "
                            f"{hashlib.md5(raw).hexdigest()}, expected {expected_md5}); "
                            f"the file is damaged, run `hourglass data download {dataset}`")
        arrays.append(parse_idx(raw, path))
    images, labels = arrays
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise UserError(f"{folder}: {split} images {images.shape} and labels {labels.shape} "
                        "do not match")
    return (torch.from_numpy(images.copy()).unsqueeze(1),
            torch.from_numpy(labels.astype(np.int64)))
