"""Image-folder trees ``ROOT/<split>/<class>/*.png|jpg``, decoded once and cached as .npy.

Decoding tens of thousands of JPEGs takes longer than a small training run, so the decoded
uint8 array is cached under the cache directory, keyed by the files' names, sizes and mtimes
and the requested size: editing the folder invalidates the cache.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from hourglass.core.errors import UserError
from hourglass.core.files import (
    cache_dir,
    file_stamps,
    files_key,
    write_npy_atomic,
    write_text_atomic,
)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
# Pillow's grey modes: 1-bit, 8-bit (with alpha), 16-bit (I;16*, and I as 16-bit PNGs open in
# some versions), 32-bit float (assumed in [0, 1]).
SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
GREY_MODES = {"1", "L", "LA", "F", "P;L", *SIXTEEN_BIT_MODES}
MAX_SOURCE_PIXELS = 64 << 20  # one image's pixels before resizing: a 64-megapixel photograph
MAX_DECODED_BYTES = 8 << 30  # a whole folder decoded to uint8 at the size the run reads


def bit_depth(mode: str) -> int:
    return 16 if mode in SIXTEEN_BIT_MODES else 32 if mode == "F" else 1 if mode == "1" else 8


def _eight_bit(img: Image.Image) -> Image.Image:
    """The image with 8 bits per channel. Pillow's own convert("L") clips 16-bit values at
    255 (a 16-bit grey PNG comes out white); scale them instead, as the bit depth says."""
    if img.mode in SIXTEEN_BIT_MODES:
        arr = np.asarray(img).astype(np.float64) / 257.0  # 65535 -> 255
    elif img.mode == "F":
        arr = np.asarray(img).astype(np.float64) * 255.0
    else:
        return img
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def class_names(split_dir: Path) -> list[str]:
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True)
class SplitListing:
    """One split folder's images, listed and stat-ed once: tens of thousands of files cost
    seconds for each pass, and the header scan and the pixel cache both key on them."""

    folder: Path
    paths: list[str]  # strings, not Paths: 60,000 Paths cost seconds to build
    labels: list[int]
    stamps: list[str]  # file_stamps(paths)


def list_split(split_dir: Path, classes: list[str]) -> SplitListing:
    paths, labels = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(split_dir, name)
        if not os.path.isdir(folder):
            continue
        # names, not Paths, sorted: comparing 60,000 Paths costs seconds (the same order)
        names = sorted(e.name for e in os.scandir(folder)
                       if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES)
        paths += [os.path.join(folder, n) for n in names]
        labels += [label] * len(names)
    return SplitListing(split_dir, paths, labels, file_stamps(paths))


def decode_image(path: str | Path, size: tuple[int, int], channels: int) -> np.ndarray:
    """uint8 (C, H, W): converted to grey or RGB, resized (bicubic) when its size differs."""
    try:
        with Image.open(path) as img:
            img = _eight_bit(img).convert("L" if channels == 1 else "RGB")
            if img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.Resampling.BICUBIC)
            arr = np.array(img, dtype=np.uint8)  # a writable copy: torch.from_numpy needs one
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise UserError(f"{path}: cannot decode image ({e})") from e
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


@dataclass(frozen=True)
class FolderScan:
    """What the headers of a folder's images say, read before any pixel is decoded."""

    sizes: dict[tuple[int, int], int]  # (height, width) -> how many images have it
    examples: dict[tuple[int, int], str]  # (height, width) -> one file that has it
    channels: int  # 3 when any image has colour, else 1
    count: int


def scan_headers(splits: list[SplitListing]) -> FolderScan:
    """Every image's size and colour from its header alone (cached like the decoded pixels,
    by the files' names, sizes and mtimes); an image over MAX_SOURCE_PIXELS is refused."""
    paths = [p for split in splits for p in split.paths]
    key = files_key(paths, header="scan", stamps=[s for split in splits for s in split.stamps])
    cached = cache_dir() / f"folder-scan-{key}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        d = json.loads(cached.read_text())
        return FolderScan({tuple(s): n for s, n in d["sizes"]},
                          {tuple(s): e for s, e in d["examples"]}, int(d["channels"]),
                          int(d["count"]))
    sizes: Counter[tuple[int, int]] = Counter()
    examples: dict[tuple[int, int], str] = {}
    channels = 1
    for path in paths:
        size, chans, _ = describe_image(path)
        if size[0] * size[1] > MAX_SOURCE_PIXELS:
            raise UserError(f"{path}: {size[0]}x{size[1]} pixels (height x width); at most "
                            f"{MAX_SOURCE_PIXELS:,} per image (its header says so: nothing "
                            "was decoded)")
        sizes[size] += 1
        examples.setdefault(size, str(path))
        channels = max(channels, chans)
    scan = FolderScan(dict(sizes), examples, channels, len(paths))
    with contextlib.suppress(OSError):  # an unwritable cache only costs speed
        write_text_atomic(cached, json.dumps({
            "sizes": [[list(k), v] for k, v in sizes.items()],
            "examples": [[list(k), v] for k, v in examples.items()],
            "channels": channels, "count": len(paths)}))
    return scan


def describe_image(path: str | Path) -> tuple[tuple[int, int], int, int]:
    """(height, width), channel count (1 for grey modes, else 3) and bits per channel."""
    try:
        with Image.open(path) as img:
            return ((img.height, img.width), 1 if img.mode in GREY_MODES else 3,
                    bit_depth(img.mode))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise UserError(f"{path}: cannot decode image ({e})") from e


def load_split(split: SplitListing, size: tuple[int, int], channels: int,
               use_cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    paths, labels = split.paths, split.labels
    if not paths:
        raise UserError(f"{split.folder}: no images found (expected "
                        f"{split.folder}/<class>/*.png|jpg)")
    key = files_key(paths, labels, header=json.dumps([list(size), channels]),
                    stamps=split.stamps)
    cached = cache_dir() / f"folder-{key}.npy"
    if use_cache and cached.is_file():
        try:
            images = np.load(cached, allow_pickle=False)
            if images.shape == (len(paths), channels, *size) and images.dtype == np.uint8:
                return torch.from_numpy(images), torch.tensor(labels, dtype=torch.int64)
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow frees the GIL
        images = np.stack(list(pool.map(lambda p: decode_image(p, size, channels), paths)))
    if use_cache:
        with contextlib.suppress(OSError):  # an unwritable cache only costs speed
            write_npy_atomic(cached, images)
    return torch.from_numpy(images), torch.tensor(labels, dtype=torch.int64)
