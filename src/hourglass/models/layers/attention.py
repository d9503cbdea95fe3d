"""Scaled dot-product attention as the families call it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kwargs) -> torch.Tensor:
    """F.scaled_dot_product_attention, on the CPU always in fp32: under bfloat16 autocast
    (--precision bf16) PyTorch's CPU flash-attention backward runs about 4.6x slower in
    bfloat16 than in fp32 here (a ViT step's profile), more than every matmul gains, so
    autocast is lifted for it. Without autocast, and on a GPU, it is the plain call."""
    if q.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return F.scaled_dot_product_attention(q, k, v, **kwargs)
    with torch.autocast("cpu", enabled=False):
        out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), **kwargs)
    return out.to(q.dtype)
