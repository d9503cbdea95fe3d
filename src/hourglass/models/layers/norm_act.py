"""The norm and activation layers a config names, by name: one table every family's module
reads (a module is passed the layer classes, as timm's are, and never chooses by string)."""

from __future__ import annotations

from torch import nn

NORMS: dict[str, type[nn.Module]] = {"layer": nn.LayerNorm, "rms": nn.RMSNorm}
# name -> (activation layer, whether the feed-forward is gated: SwiGLU is a gated SiLU)
ACTS: dict[str, tuple[type[nn.Module], bool]] = {"gelu": (nn.GELU, False),
                                                 "relu": (nn.ReLU, False),
                                                 "swiglu": (nn.SiLU, True)}
