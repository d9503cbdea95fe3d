"""What patch models (ViT, MLP-Mixer) share: images in as tokens, classes or images out.

Inputs arrive flattened, (B, C*h*w) as every task makes them, and are cut into patch x patch
tokens for a linear embedding. The output is class logits (mean over tokens, then a linear
head) or the target image: each token writes its own patch (C x q x q, q = patch x the
output's scale) through a linear head, the patches are put back in place, and a sigmoid maps
them to [0, 1]. ``io_counts`` is the arithmetic of both ends, so the families' counts and
their modules agree; each module creates its own embedding and head, in its own order.
"""

from __future__ import annotations

import torch
from torch import nn

from hourglass.errors import UserError


def io_counts(image_shape: tuple[int, int, int], patch: int, width: int, out_dim: int,
              classify: bool, positions: bool) -> dict[str, int]:
    """Parameters of the embedding (patch projection with its bias, and learned positions
    when ``positions``) and of the head, and the forward FLOPs per sample of both."""
    c, h, w = image_shape
    tokens = (h // patch) * (w // patch)
    p_in = c * patch * patch
    head_out = out_dim if classify else out_dim // tokens
    return {"embedding": p_in * width + width + (tokens * width if positions else 0),
            "head": width * head_out + head_out,
            "flops": 2 * tokens * p_in * width + (2 * width * out_dim if classify
                                                  else 2 * tokens * width * head_out)}


def check_image_head(image_shape: tuple[int, int, int], out_dim: int) -> None:
    """An image head writes a C x (s*h) x (s*w) image for an integer scale s."""
    c, h, w = image_shape
    scale2, rest = divmod(out_dim, c * h * w)
    root = round(scale2 ** 0.5)
    if rest or root * root != scale2:
        raise UserError(f"an image head needs an output {c}x(s*{h})x(s*{w}); got {out_dim} "
                        "values")


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
