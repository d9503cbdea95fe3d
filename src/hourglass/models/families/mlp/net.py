"""One residual MLP for both shapes (PROTOCOL.md, Architecture).

    z_0     = W_in x                                  input projection  (d_x -> d_z)
    z_{i+1} = z_i + W_i2 act(W_i1 norm(z_i))          `depth` blocks    (d_z -> d_h -> d_z)
    y       = head(W_out z_L)                         output            (d_z -> d_out)

``skip_dim`` is d_z, the width of the residual (skip) path; ``inner_dim`` is d_h, the width
inside each block; ``depth`` is L. Hourglass (wide-narrow-wide): every d_h < d_z.
Conventional (narrow-wide-narrow): every d_h > d_z. The blocks are blocks.py's: the paper's,
or a variant (``MLPConfig.block``).
"""

from __future__ import annotations

import torch
from torch import nn

from hourglass.models.layers.blocks import draw_keep, fixed_projection, make_block
from hourglass.models.layers.blocks_config import parse_block

from .spec import MLPConfig


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
        self.blocks = nn.ModuleList(make_block(cfg, i, d) for i, d in enumerate(cfg.inner_dims))
        self.out = nn.Linear(cfg.skip_dim, cfg.out_dim, bias=False)
        self.prefix = parse_block(cfg.block)[0] in ("lowrank", "nested")
        if self.prefix:
            # training steps taken: seeds each step's draw of the rank or width, and is
            # saved with the weights so that a resumed run draws on where it stopped
            self.register_buffer("draws", torch.zeros((), dtype=torch.int64))
        self.keep: list[int] | None = None  # evaluate a prefix model cut to these (set_keep)

    def set_keep(self, keep: int | None) -> None:
        """Evaluate a nested model at inner width ``keep`` in every block (lowrank: at rank
        ``keep``); None: the whole model."""
        self.keep = None if keep is None else [keep] * self.cfg.depth

    def prefix_cuts(self) -> dict[str, int]:
        """The cuts ``set_keep`` takes (models/contract.py, CutsPrefix): a nested model's
        inner width up to its narrowest block's, a low-rank one's rank up to its own."""
        kind, n = parse_block(self.cfg.block)
        if kind == "nested":
            return {kind: min(self.cfg.inner_dims)}
        return {kind: n} if kind == "lowrank" else {}

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
        keep = self.keep
        if self.prefix and self.training:
            keep = draw_keep(self.cfg, int(self.draws))
            self.draws += 1
        for i, block in enumerate(self.blocks):
            z = block(z) if keep is None else block(z, keep[i])
        y = self.out(z)
        return torch.sigmoid(y) if self.cfg.head == "sigmoid" else y

    def forward(self, x: torch.Tensor, lifted: bool = False) -> torch.Tensor:
        """Outputs from inputs x, or from z_0 = W_in x when ``lifted``."""
        return self.body(x if lifted else self.lift(x))

    def param_counts(self) -> dict[str, int]:
        """Counted from the module itself; tests check it equals count_params(cfg)."""
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        frozen = sum(b.numel() for name, b in self.named_buffers()
                     if name == "proj_weight" or name.rsplit(".", 1)[-1].startswith("frozen_"))
        return {"params": trainable, "frozen_params": frozen}
