"""Scaled dot-product attention as the families call it."""

from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F

from .dropout import keep_mask, keep_threshold


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, is_causal: bool = False,
           dropout_p: float = 0.0, masks: str = "torch") -> torch.Tensor:
    """F.scaled_dot_product_attention on (B, heads, T, head_dim), or with dropout on the
    weights and ``masks="int16"`` (layers/dropout.py) _Int16DropoutAttention. On the CPU
    always in fp32: under bfloat16 autocast (--precision bf16) PyTorch's CPU flash-attention
    backward runs about 4.6x slower in bfloat16 than in fp32 here (a ViT step's profile), more
    than every matmul gains, so autocast is lifted for it."""
    lifted = q.device.type == "cpu" and torch.is_autocast_enabled("cpu")
    dtype = q.dtype
    if lifted:
        q, k, v = q.float(), k.float(), v.float()
    with torch.autocast("cpu", enabled=False) if lifted else nullcontext():
        if dropout_p > 0 and masks == "int16":
            out = _Int16DropoutAttention.apply(q, k, v, is_causal, dropout_p)
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal,
                                                 dropout_p=dropout_p)
    return out.to(dtype)


class _Int16DropoutAttention(torch.autograd.Function):
    """softmax(q k^T / sqrt(d) + causal mask), dropped with int16 masks, times v, with its own
    backward. PyTorch's CPU fused kernel has no dropout, so with dropout SDPA takes its
    unfused path: Bernoulli masks (a quarter of a small LM's step), and masked fills and checks
    for fully masked rows on every T x T map. Here the causal mask is one broadcast add of
    -inf, the dropout a multiply by a 0/1 map, its scale applied to the (T, head_dim) output:
    about 2x less time a layer, forward and backward (B 16, 4 heads, T 256, head_dim 16)."""

    @staticmethod
    def forward(ctx, q, k, v, is_causal: bool, p: float):
        threshold, scale = keep_threshold(p)
        q = q * q.shape[-1] ** -0.5
        scores = q @ k.transpose(-2, -1)
        if is_causal:
            t = scores.shape[-1]
            scores.add_(torch.full((t, t), float("-inf"), dtype=scores.dtype,
                                   device=scores.device).triu_(1))
        weights = torch.softmax(scores, dim=-1)
        keep = keep_mask(weights, threshold)
        dropped = weights * keep
        ctx.save_for_backward(q, k, v, weights, dropped, keep)
        ctx.scale = scale
        return (dropped @ v).mul_(scale)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, weights, dropped, keep = ctx.saved_tensors
        grad_out = grad_out * ctx.scale
        grad_v = dropped.transpose(-2, -1) @ grad_out
        grad_weights = (grad_out @ v.transpose(-2, -1)).mul_(keep)
        # masked positions have weight 0, so their score gradient is 0 already
        grad_scores = torch._softmax_backward_data(grad_weights, weights, -1, weights.dtype)
        grad_q = (grad_scores @ k).mul_(q.shape[-1] ** -0.5)
        grad_k = grad_scores.transpose(-2, -1) @ q
        return grad_q, grad_k, grad_v, None, None
