"""The residual wide-narrow-wide feed-forward stack, for anyone's Transformer.

    x = x + FFN_k(Norm_k(x))   for k = 1..K,   FFN_k: dim -> inner_dim -> dim

With ``inner_dim`` below ``dim`` and K > 1 it is the Hourglass feed-forward of the authors'
follow-up (arXiv 2602.06471): each sub-block squeezes through a narrow d_h while the residual
stream stays wide, with no residual around the K sub-blocks as a whole. With K = 1 and
``inner_dim`` = 4 x ``dim`` it is the ordinary Transformer MLP. Norm and activation layers are
passed in (``nn.LayerNorm`` or ``nn.RMSNorm``; ``nn.GELU``, ``nn.ReLU``, ...); ``dropout`` drops
each sub-block's output while training (with ``drop_layer``: nn.Dropout, or layers/dropout.py's
Int16Dropout), ``drop_path`` all of it for a sample (stochastic depth); ``gated=True`` makes
each FFN a GLU, SwiGLU with ``act_layer=nn.SiLU``: act(x W_gate) * (x W_value), then
W_out.
"""

from __future__ import annotations

import torch
from torch import nn


class FeedForward(nn.Module):
    """dim -> inner_dim -> dim, plain or gated, with dropout on its output when training."""

    def __init__(self, dim: int, inner_dim: int, act_layer: type[nn.Module] = nn.GELU,
                 gated: bool = False, bias: bool = True, dropout: float = 0.0,
                 drop_layer: type[nn.Module] = nn.Dropout) -> None:
        super().__init__()
        self.gated = gated
        self.fc1 = nn.Linear(dim, 2 * inner_dim if gated else inner_dim, bias=bias)
        self.act = act_layer()
        self.fc2 = nn.Linear(inner_dim, dim, bias=bias)
        # no module at 0: a model without dropout draws nothing from the random stream
        self.drop = drop_layer(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if self.gated:
            gate, value = h.chunk(2, dim=-1)
            return self.drop(self.fc2(self.act(gate) * value))
        return self.drop(self.fc2(self.act(h)))


class DropPath(nn.Module):
    """Stochastic depth: while training, a residual branch's output is zeroed for a whole
    sample with probability ``p`` (and scaled by 1 / (1 - p) otherwise)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


def make_drop_path(p: float) -> nn.Module:
    # no module at 0: a model without it draws nothing from the random stream
    return DropPath(p) if p > 0 else nn.Identity()


class ResidualFFN(nn.Module):
    """K pre-norm residual feed-forward sub-blocks: a drop-in for a Transformer layer's MLP
    *and* its residual add (call ``x = ffn(x)``, not ``x = x + ffn(x)``). ``drop_path``:
    stochastic depth on each sub-block's branch."""

    def __init__(self, dim: int, inner_dim: int, sub_blocks: int = 1,
                 norm_layer: type[nn.Module] = nn.LayerNorm,
                 act_layer: type[nn.Module] = nn.GELU, gated: bool = False,
                 bias: bool = True, dropout: float = 0.0, drop_path: float = 0.0,
                 drop_layer: type[nn.Module] = nn.Dropout) -> None:
        super().__init__()
        if min(dim, inner_dim, sub_blocks) <= 0:
            raise ValueError(f"dim, inner_dim and sub_blocks must be positive, got {dim}, "
                             f"{inner_dim}, {sub_blocks}")
        self.norms = nn.ModuleList(norm_layer(dim) for _ in range(sub_blocks))
        self.ffns = nn.ModuleList(FeedForward(dim, inner_dim, act_layer, gated, bias, dropout,
                                              drop_layer) for _ in range(sub_blocks))
        self.drop_path = make_drop_path(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for norm, ffn in zip(self.norms, self.ffns, strict=True):
            x = x + self.drop_path(ffn(norm(x)))
        return x
