"""samples.png: rows of inputs, model outputs and targets, so a person sees what it learned."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from hourglass.core.files import write_bytes_atomic
from hourglass.data import Split
from hourglass.tasks.image import Task, to_float

MIN_TILE = 56  # pixels: small images are scaled up (nearest) to stay visible


def to_pil(image: torch.Tensor) -> Image.Image:
    """A float (C, H, W) image in [0, 1] as a PIL image."""
    arr = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return Image.fromarray(arr[0], "L") if arr.shape[0] == 1 else \
        Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)), "RGB")


def image_grid(rows: list[torch.Tensor], pad: int = 2) -> Image.Image:
    """Tile rows of float images (N, C, H, W) into one picture, with a white gap between."""
    c, h, w = rows[0].shape[1:]
    scale = max(1, math.ceil(MIN_TILE / max(h, w)))
    th, tw = h * scale, w * scale
    n = max(len(r) for r in rows)
    grid = torch.ones(c, len(rows) * (th + pad) + pad, n * (tw + pad) + pad)
    for i, row in enumerate(rows):
        big = F.interpolate(row, size=(th, tw), mode="nearest")
        for j, img in enumerate(big):
            top, left = pad + i * (th + pad), pad + j * (tw + pad)
            grid[:, top:top + th, left:left + tw] = img
    return to_pil(grid)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@torch.no_grad()
def write_samples(path: Path, model: nn.Module, task: Task, split: Split, n: int = 8) -> None:
    split = split.take(n)
    c, h, w = task.image_shape
    x = task.split_inputs(split, "test")
    was_training = model.training
    model.eval()
    out = model(x).reshape(-1, c, h, w)
    model.train(was_training)
    shown_inputs = x.reshape(-1, *task.input_image_shape)
    if shown_inputs.shape[-2:] != (h, w):  # super-resolution inputs are half size
        shown_inputs = F.interpolate(shown_inputs, size=(h, w), mode="nearest")
    target = task.targets(to_float(split.images), split.labels).reshape(-1, c, h, w)
    write_bytes_atomic(path, png_bytes(image_grid([shown_inputs, out, target])))
