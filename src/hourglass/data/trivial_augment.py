"""TrivialAugment (Wide), batched: every image of a uint8 batch gets one operation drawn
uniformly from 14, at a magnitude drawn uniformly from 31 bins, as torchvision's
TrivialAugmentWide (Mueller and Hutter, arXiv 2103.10918) does, with no torchvision: the
geometric operations are one affine grid sample for the images that drew one, the colour
operations whole-batch tensor arithmetic, Equalize a batched histogram (PIL's algorithm).
Every draw comes from the run's epoch generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BINS = 31
OPS = ("identity", "shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness",
       "color", "contrast", "sharpness", "posterize", "solarize", "autocontrast", "equalize")
SIGNED = {"shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness", "color",
          "contrast", "sharpness"}


def _magnitudes(op: str, bins: torch.Tensor) -> torch.Tensor:
    """TrivialAugmentWide's magnitude of each bin (0..30) for ``op``."""
    m = bins.double() / (BINS - 1)
    return {"shear_x": 0.99 * m, "shear_y": 0.99 * m, "translate_x": 32.0 * m,
            "translate_y": 32.0 * m, "rotate": 135.0 * m, "brightness": 0.99 * m,
            "color": 0.99 * m, "contrast": 0.99 * m, "sharpness": 0.99 * m,
            "posterize": 8 - (bins.double() / ((BINS - 1) / 6)).round(),
            "solarize": 255.0 * (1 - m)}.get(op, m)


def _affine(x: torch.Tensor, op: str, mag: torch.Tensor) -> torch.Tensor:
    """Shear, translate (pixels) or rotate (degrees, about the centre) each image by its own
    magnitude; nearest neighbour, the uncovered area black."""
    b, _, h, w = x.shape
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    if op == "shear_x":
        theta[:, 0, 1] = mag * h / w
    elif op == "shear_y":
        theta[:, 1, 0] = mag * w / h
    elif op == "translate_x":
        theta[:, 0, 2] = -2 * mag / w
    elif op == "translate_y":
        theta[:, 1, 2] = -2 * mag / h
    else:
        a = mag * math.pi / 180
        theta[:, 0, 0], theta[:, 0, 1] = torch.cos(a), -torch.sin(a) * h / w
        theta[:, 1, 0], theta[:, 1, 1] = torch.sin(a) * w / h, torch.cos(a)
    grid = F.affine_grid(theta.float(), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).floor()


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (other + factor.view(-1, 1, 1, 1) * (x - other)).clamp(0, 255)


def _smooth(x: torch.Tensor) -> torch.Tensor:
    """PIL's SMOOTH kernel inside the border, the border as it is (ImageEnhance.Sharpness)."""
    kernel = torch.tensor([[1.0, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13
    c = x.shape[1]
    inner = F.conv2d(x, kernel.expand(c, 1, 3, 3), groups=c).round()
    out = x.clone()
    out[:, :, 1:-1, 1:-1] = inner
    return out


def _equalize(x: torch.Tensor) -> torch.Tensor:
    """PIL's ImageOps.equalize per channel, batched: a lookup table from each channel's
    histogram, identity where one value holds almost every pixel."""
    b, c, h, w = x.shape
    flat = x.reshape(b * c, h * w).long()
    hist = torch.zeros(b * c, 256, dtype=torch.long).scatter_add_(1, flat, torch.ones_like(flat))
    last = 255 - (hist.flip(1) > 0).long().argmax(1)  # the highest value present
    step = (h * w - hist.gather(1, last[:, None])[:, 0]) // 255
    lut = (torch.cumsum(hist, 1) - hist + (step // 2)[:, None]) // step.clamp_min(1)[:, None]
    lut = torch.where(step[:, None] > 0, lut.clamp(0, 255), torch.arange(256))
    return lut.gather(1, flat).view(b, c, h, w).to(x.dtype)


def _apply(x: torch.Tensor, op: str, mag: torch.Tensor) -> torch.Tensor:
    """One operation on float images with uint8 values (B, C, H, W), magnitudes (B,)."""
    if op in ("shear_x", "shear_y", "translate_x", "translate_y", "rotate"):
        return _affine(x, op, mag)
    factor = (1 + mag).float()
    if op == "brightness":
        return _blend(x, torch.zeros_like(x), factor)
    if op == "color":
        return _blend(x, _gray(x).expand_as(x), factor)
    if op == "contrast":
        mean = _gray(x).mean((1, 2, 3), keepdim=True).round()
        return _blend(x, mean.expand_as(x), factor)
    if op == "sharpness":
        return _blend(x, _smooth(x), factor)
    if op == "posterize":
        keep = (256 - 2 ** (8 - mag)).view(-1, 1, 1, 1).float()
        return torch.bitwise_and(x.long(), keep.long()).float()
    if op == "solarize":
        return torch.where(x >= mag.view(-1, 1, 1, 1).float(), 255 - x, x)
    if op == "autocontrast":
        low, high = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
        # torchvision's formula; PIL's (x * scale - low * scale) can land a unit lower
        scaled = ((x - low) * (255 / (high - low).clamp_min(1))).clamp(0, 255).floor()
        return torch.where(high > low, scaled, x)
    if op == "equalize":
        return _equalize(x)
    return x


def trivial_augment(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, C, H, W) uint8 -> the same, each image under one drawn operation and magnitude."""
    b = len(images)
    ops = torch.randint(len(OPS), (b,), generator=gen)
    bins = torch.randint(BINS, (b,), generator=gen)
    signs = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0).double()
    x = images.float()
    out = x.clone()
    for i, op in enumerate(OPS):
        rows = (ops == i).nonzero()[:, 0]
        if op == "identity" or len(rows) == 0:
            continue
        mag = _magnitudes(op, bins[rows])
        if op in SIGNED:
            mag = mag * signs[rows]
        out[rows] = _apply(x[rows], op, mag)
    return out.round().clamp(0, 255).to(torch.uint8)
