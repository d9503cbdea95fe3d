"""The ConvNeXt-style module (the arithmetic, and the layout in words: spec.py)."""

from __future__ import annotations

import torch
from torch import nn

from hourglass.models import ResidualFFN

from .spec import ConvNeXtConfig


class Layer(nn.Module):
    """x + DWConv(Norm(x)), then K residual feed-forward sub-blocks (ResidualFFN)."""

    def __init__(self, cfg: ConvNeXtConfig) -> None:
        super().__init__()
        d = cfg.skip_dim
        self.grid = cfg.grid
        self.norm = nn.LayerNorm(d)
        self.dwconv = nn.Conv2d(d, d, cfg.kernel, padding=cfg.kernel // 2, groups=d)
        self.ffn = ResidualFFN(d, cfg.inner_dim, cfg.sub_blocks, norm_layer=nn.LayerNorm,
                               act_layer=nn.GELU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, positions, d)
        b, n, d = z.shape
        y = self.norm(z).transpose(1, 2).reshape(b, d, *self.grid)
        z = z + self.dwconv(y).flatten(2).transpose(1, 2)
        return self.ffn(z)


class ConvNeXt(nn.Module):
    def __init__(self, cfg: ConvNeXtConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, d = cfg.image_shape[0], cfg.skip_dim
        self.stem = nn.Conv2d(c, d, cfg.patch, stride=cfg.patch)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened images (B, C*H*W), as every task gives them -> class logits."""
        z = self.stem(x.view(len(x), *self.cfg.image_shape)).flatten(2).transpose(1, 2)
        for layer in self.layers:
            z = layer(z)
        return self.head(self.norm(z.mean(1)))
