"""The MLP-Mixer (configuration and counts in mixer_config.py; patches in and out:
patches.py)."""

from __future__ import annotations

import torch
from torch import nn

from hourglass.models.layers.ffn import FeedForward, ResidualFFN
from hourglass.models.layers.norm_act import ACTS, NORMS
from hourglass.models.layers.patches import output, to_patches

from .spec import MixerConfig


class MixerLayer(nn.Module):
    """x + token-mixing MLP over the tokens, then K residual channel-mixing sub-blocks."""

    def __init__(self, cfg: MixerConfig) -> None:
        super().__init__()
        norm = NORMS[cfg.norm]
        act, gated = ACTS[cfg.act]
        self.norm = norm(cfg.skip_dim)
        self.tokens = FeedForward(cfg.tokens, cfg.token_width, act, gated)
        self.channels = ResidualFFN(cfg.skip_dim, cfg.inner_dim, cfg.sub_blocks,
                                    norm_layer=norm, act_layer=act, gated=gated)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self.tokens(self.norm(x).transpose(1, 2)).transpose(1, 2)
        return self.channels(x + mixed)


class MLPMixer(nn.Module):
    def __init__(self, cfg: MixerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, p = cfg.image_shape[0], cfg.patch
        self.embed = nn.Linear(c * p * p, cfg.skip_dim)
        self.layers = nn.ModuleList(MixerLayer(cfg) for _ in range(cfg.depth))
        self.norm = NORMS[cfg.norm](cfg.skip_dim)
        self.head = nn.Linear(cfg.skip_dim, cfg.out_dim if cfg.classify
                              else cfg.out_dim // cfg.tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        z = self.embed(to_patches(x, cfg.image_shape, cfg.patch))
        for layer in self.layers:
            z = layer(z)
        return output(self.head, self.norm(z), cfg.classify, cfg.image_shape, cfg.patch)
