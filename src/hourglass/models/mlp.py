"""One residual MLP for both shapes (PROTOCOL.md, Architecture).

    z_0     = W_in x                                  input projection  (d_x -> d_z)
    z_{i+1} = z_i + W_i2 act(W_i1 norm(z_i))          `depth` blocks    (d_z -> d_h -> d_z)
    y       = head(W_out z_L)                         output            (d_z -> d_out)

``skip_dim`` is d_z, the width of the residual (skip) path; ``inner_dim`` is d_h, the width
inside each block; ``depth`` is L. Hourglass (wide-narrow-wide): every d_h < d_z.
Conventional (narrow-wide-narrow): every d_h > d_z.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hourglass.models.mlp_config import MLPConfig


def fixed_projection(in_dim: int, out_dim: int, seed: int) -> torch.Tensor:
    """The frozen W_in: PyTorch's default Linear init, U(+-1/sqrt(d_x)), as a pure function of
    ``seed`` (its own generator, CPU, float32), so a checkpoint stores the seed, not the matrix."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    bound = 1.0 / math.sqrt(in_dim)
    return (torch.rand(out_dim, in_dim, generator=g, dtype=torch.float32) * 2 - 1) * bound


def make_norm(kind: str, dim: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(dim, affine=False),
            "layer": lambda: nn.LayerNorm(dim, elementwise_affine=False),
            "rms": lambda: nn.RMSNorm(dim, elementwise_affine=False),
            "none": nn.Identity}[kind]()


class Block(nn.Module):
    """z + fc2(act(fc1(norm(z)))): d_z -> d_h -> d_z, no biases (the authors' code)."""

    def __init__(self, dim: int, inner: int, norm: str, act: str) -> None:
        super().__init__()
        self.norm = make_norm(norm, dim)
        self.fc1 = nn.Linear(dim, inner, bias=False)
        self.act = nn.ReLU() if act == "relu" else nn.GELU()
        self.fc2 = nn.Linear(inner, dim, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.fc2(self.act(self.fc1(self.norm(z))))


class ResidualMLP(nn.Module):
    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.proj: nn.Linear | None = None
        if cfg.input_proj == "learned":
            self.proj = nn.Linear(cfg.in_dim, cfg.skip_dim, bias=False)
        elif cfg.input_proj == "fixed":
            # persistent=False: never saved, regenerated from cfg.proj_seed on load
            self.register_buffer("proj_weight", fixed_projection(cfg.in_dim, cfg.skip_dim,
                                                                 cfg.proj_seed), persistent=False)
        self.blocks = nn.ModuleList(Block(cfg.skip_dim, d, cfg.norm, cfg.act)
                                    for d in cfg.inner_dims)
        self.out = nn.Linear(cfg.skip_dim, cfg.out_dim, bias=False)

    @property
    def lift_is_frozen(self) -> bool:
        """A fixed W_in: z_0 of a fixed input never changes, so training may cache it."""
        return self.cfg.input_proj == "fixed"

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        """z_0 = W_in x. With a fixed W_in this is constant for a fixed x: callers may cache it."""
        if self.proj is not None:
            return self.proj(x)
        if self.cfg.input_proj == "fixed":
            return x @ self.proj_weight.t()
        return x

    def body(self, z: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            z = block(z)
        y = self.out(z)
        return torch.sigmoid(y) if self.cfg.head == "sigmoid" else y

    def forward(self, x: torch.Tensor, lifted: bool = False) -> torch.Tensor:
        """Outputs from inputs x, or from z_0 = W_in x when ``lifted``."""
        return self.body(x if lifted else self.lift(x))

    def param_counts(self) -> dict[str, int]:
        """Counted from the module itself; tests check it equals count_params(cfg)."""
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = self.proj_weight.numel() if self.cfg.input_proj == "fixed" else 0
        return {"params": trainable, "frozen_params": frozen}
