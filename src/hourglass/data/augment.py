"""Batched augmentation of uint8 image batches, drawn from the run's epoch generator.

``mix_batch``: Mixup and CutMix of a float batch with soft targets (classification).
``crop_flip``: the standard CIFAR recipe, a random crop of the image zero-padded by ``pad``
pixels on every side, then a horizontal flip with probability 1/2; every image of the batch
gets its own offsets and flip, computed for the whole batch at once (one gather, one where).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from hourglass.data.trivial_augment import trivial_augment

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


def crop_flip_trivial(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """crop-flip, then TrivialAugment (Wide): torchvision's order for CIFAR recipes."""
    return trivial_augment(crop_flip(images, gen), gen)


# drawn per batch (flip4 copies the split once)
BATCH_AUGMENTS = {"crop-flip": crop_flip, "crop-flip-trivial": crop_flip_trivial}


def mix_batch(x: torch.Tensor, labels: torch.Tensor, classes: int, gen: torch.Generator,
              mixup: float = 0.0, cutmix: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup or CutMix of a float batch (B, C, H, W) with itself in reverse order, as timm's
    Mixup does: lam ~ Beta(alpha, alpha) once per batch; with both alphas set, each batch takes
    one of the two at even odds. Mixup blends whole images; CutMix pastes a box of area
    1 - lam (clipped to the image; lam is then the area kept). Returns the batch and its soft
    targets (B, classes), lam x one-hot + (1 - lam) x the partner's. Every draw comes from
    ``gen``: the seed is a torch draw, and the Beta comes from NumPy seeded with it."""
    use_cutmix = cutmix > 0 and (mixup <= 0 or bool(torch.rand(1, generator=gen) < 0.5))
    alpha = cutmix if use_cutmix else mixup
    rng = np.random.default_rng(int(torch.randint(2**31, (1,), generator=gen)))
    lam = float(rng.beta(alpha, alpha))
    partner = x.flip(0)
    if use_cutmix:
        _, _, h, w = x.shape
        cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
        y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
        x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = partner[:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    else:
        x = lam * x + (1 - lam) * partner
    onehot = F.one_hot(labels.long(), classes).to(x.dtype)
    return x, lam * onehot + (1 - lam) * onehot.flip(0)
