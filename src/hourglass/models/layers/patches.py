"""What patch models (ViT, MLP-Mixer) share: images in as tokens, classes or images out.

Inputs arrive flattened, (B, C*h*w) as every task makes them, and are cut into patch x patch
tokens for a linear embedding. The output is class logits (mean over tokens, then a linear
head) or the target image: each token writes its own patch (C x q x q, q = patch x the
output's scale) through a linear head, the patches are put back in place, and a sigmoid maps
them to [0, 1]. Each module creates its own embedding and head, in its own order; their
arithmetic is in patch_config.py (no PyTorch), so the families' counts and modules agree.
"""

from __future__ import annotations

import torch
from torch import nn


def to_patches(x: torch.Tensor, image_shape: tuple[int, int, int], patch: int) -> torch.Tensor:
    """(B, C*h*w) -> (B, N, C*p*p), tokens in row-major order of the patch grid."""
    c, h, w = image_shape
    gh, gw = h // patch, w // patch
    x = x.view(-1, c, gh, patch, gw, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(len(x), gh * gw, c * patch * patch)


def from_patches(y: torch.Tensor, image_shape: tuple[int, int, int],
                 patch: int) -> torch.Tensor:
    """(B, N, C*q*q) per-token output patches -> (B, C*H*W), H = (h/patch)*q."""
    c, h, w = image_shape
    gh, gw = h // patch, w // patch
    q = round((y.shape[-1] // c) ** 0.5)
    return y.view(-1, gh, gw, c, q, q).permute(0, 3, 1, 4, 2, 5).reshape(len(y), -1)


def output(head: nn.Linear, z: torch.Tensor, classify: bool,
           image_shape: tuple[int, int, int], patch: int) -> torch.Tensor:
    """Final (normalised) tokens (B, N, width) -> class logits, or the image in [0, 1]."""
    if classify:
        return head(z.mean(1))
    return torch.sigmoid(from_patches(head(z), image_shape, patch))
