"""The norm and activation layers a config names, by name: one table every family's module
reads (a module is passed the layer classes, as timm's are, and never chooses by string)."""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.RMSNorm):
    """nn.RMSNorm computed in its weight's dtype: under bfloat16 autocast (--precision bf16)
    its input arrives in bfloat16, which PyTorch's fused kernel refuses with a warning at
    every call. In fp32 the casts do nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = torch.float32 if self.weight is None else self.weight.dtype
        return super().forward(x.to(dtype)).to(x.dtype)


NORMS: dict[str, type[nn.Module]] = {"layer": nn.LayerNorm, "rms": RMSNorm}
# name -> (activation layer, whether the feed-forward is gated: SwiGLU is a gated SiLU)
ACTS: dict[str, tuple[type[nn.Module], bool]] = {"gelu": (nn.GELU, False),
                                                 "relu": (nn.ReLU, False),
                                                 "swiglu": (nn.SiLU, True)}
