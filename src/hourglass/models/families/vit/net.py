"""The Vision Transformer (configuration and counts in vit_config.py; patches in and out:
patches.py)."""

from __future__ import annotations

import torch
from torch import nn

from hourglass.models.layers.attention import attend
from hourglass.models.layers.ffn import ResidualFFN, make_drop_path
from hourglass.models.layers.norm_act import ACTS, NORMS
from hourglass.models.layers.patches import output, to_patches

from .spec import ViTConfig, conv_widths


class Attention(nn.Module):
    """Multi-head self-attention at its own width (``attn_dim`` = heads x head dim)."""

    def __init__(self, dim: int, attn_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * attn_dim)
        self.proj = nn.Linear(attn_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = attend(q, k, v)  # (B, heads, N, head dim)
        return self.proj(out.transpose(1, 2).reshape(b, n, -1))


class Layer(nn.Module):
    """x + Attn(Norm(x)), then K residual feed-forward sub-blocks; ``drop_path``: stochastic
    depth on every residual branch of the layer."""

    def __init__(self, cfg: ViTConfig, drop_path: float = 0.0) -> None:
        super().__init__()
        norm = NORMS[cfg.norm]
        act, gated = ACTS[cfg.act]
        self.norm = norm(cfg.skip_dim)
        self.attn = Attention(cfg.skip_dim, cfg.attention, cfg.heads)
        self.ffn = ResidualFFN(cfg.skip_dim, cfg.inner_dim, cfg.sub_blocks, norm_layer=norm,
                               act_layer=act, gated=gated, drop_path=drop_path)
        self.drop_path = make_drop_path(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(x + self.drop_path(self.attn(self.norm(x))))


class ConvTokenizer(nn.Module):
    """CCT's tokenizer (arXiv 2104.05704): ``stages`` x (3x3 conv, ReLU, 3x3 max-pool at
    stride 2), 64 channels out of each stage but the last, which puts out ``width``; then each
    position of the map is a token, in row-major order. Kaiming-normal weights, as CCT's."""

    def __init__(self, channels: int, width: int, stages: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for out in conv_widths(stages, width):
            conv = nn.Conv2d(channels, out, 3, padding=1, bias=False)
            nn.init.kaiming_normal_(conv.weight)
            layers += [conv, nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]
            channels = out
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, N, width)
        return self.layers(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, p = cfg.image_shape[0], cfg.patch
        if cfg.conv:
            self.tokenizer = ConvTokenizer(c, cfg.skip_dim, cfg.conv)
        else:
            self.embed = nn.Linear(c * p * p, cfg.skip_dim)
        self.pos = nn.Parameter(torch.randn(cfg.tokens, cfg.skip_dim) * 0.02)
        # stochastic depth grows linearly with depth, from 0 to drop_path at the last layer
        rates = [cfg.drop_path * i / max(1, cfg.depth - 1) for i in range(cfg.depth)]
        self.layers = nn.ModuleList(Layer(cfg, rate) for rate in rates)
        self.norm = NORMS[cfg.norm](cfg.skip_dim)
        self.head = nn.Linear(cfg.skip_dim, cfg.out_dim if cfg.classify else cfg.out_patch)

    def no_decay(self) -> list[nn.Parameter]:
        """Norm gains, biases and the positions: weight decay pulls only the matrices."""
        return [p for p in self.parameters() if p.ndim < 2] + [self.pos]

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The layers' weight matrices (not the patch embedding or tokenizer, the positions or
        the head): the ones Muon orthogonalises."""
        return [p for p in self.layers.parameters() if p.ndim == 2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.conv:
            z = self.tokenizer(x.view(len(x), *cfg.image_shape)) + self.pos
        else:
            z = self.embed(to_patches(x, cfg.image_shape, cfg.patch)) + self.pos
        for layer in self.layers:
            z = layer(z)
        return output(self.head, self.norm(z), cfg.classify, cfg.image_shape, cfg.patch)
