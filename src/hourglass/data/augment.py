"""Batched augmentation of uint8 image batches, drawn from the run's epoch generator.

``crop_flip``: the standard CIFAR recipe, a random crop of the image zero-padded by ``pad``
pixels on every side, then a horizontal flip with probability 1/2; every image of the batch
gets its own offsets and flip, computed for the whole batch at once (one gather, one where).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CROP_PAD = 4


def crop_flip(images: torch.Tensor, gen: torch.Generator, pad: int = CROP_PAD) -> torch.Tensor:
    """(B, C, H, W) images -> the same shape, randomly cropped from the padded image and
    flipped; the offsets and flips are drawn from ``gen``."""
    b, c, h, w = images.shape
    offsets = torch.randint(0, 2 * pad + 1, (2, b), generator=gen)
    flips = torch.rand(b, generator=gen) < 0.5
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = (offsets[0, :, None] + torch.arange(h))[:, None, :, None]  # (B, 1, H, 1)
    cols = (offsets[1, :, None] + torch.arange(w))[:, None, None, :]  # (B, 1, 1, W)
    out = padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None],
                 rows, cols]
    return torch.where(flips[:, None, None, None], out.flip(-1), out)


BATCH_AUGMENTS = {"crop-flip": crop_flip}  # drawn per batch (flip4 copies the split once)
