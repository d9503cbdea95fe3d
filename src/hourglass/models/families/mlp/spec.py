"""The residual MLP family: its configuration, exact parameter and FLOP counts and registration.
Arithmetic only, no PyTorch, so `hourglass params` answers without loading it (the module is in
mlp.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from hourglass.core.choices import ACTS, IMAGE_TASKS, INPUT_PROJS, NORMS
from hourglass.core.errors import UserError
from hourglass.core.limits import MAX_PARAMS, MAX_WIDTH
from hourglass.models.family import Dim, Family, check_shape, register, shape_of
from hourglass.models.layers.blocks_config import block_counts, check_block, parse_block

from .spaces import SPACES, compare_space

InputProj = Literal["learned", "fixed", "identity"]
HEADS = ("sigmoid", "none")
# Limits no real network meets (the paper's largest is about 100M parameters, depth 40)
MAX_DEPTH = 10_000


@dataclass
class MLPConfig:
    in_dim: int  # d_x, flattened input size
    out_dim: int  # d_out
    skip_dim: int  # d_z: width of the residual path
    inner_dim: int | list[int]  # d_h: width inside each block (one value, or one per block)
    depth: int  # L: number of residual blocks
    input_proj: InputProj = "learned"
    proj_seed: int = 0  # seeds the frozen matrix when input_proj == "fixed"
    norm: str = "batch"  # pre-norm inside each branch, without affine parameters
    act: str = "relu"
    head: str = "sigmoid"  # sigmoid for image targets, none for logits
    block: str = "plain"  # the block: plain, or a way of buying width cheaply (BLOCKS)
    inner_dims: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._check_sizes()  # before anything of the config's size is built
        dims = self.inner_dim if isinstance(self.inner_dim, list) else [self.inner_dim] * self.depth
        self.inner_dims = [int(d) for d in dims]
        self.validate()

    def _check_sizes(self) -> None:
        """Sizes no real network has: refused at once, so that a typo or a hostile config
        cannot make the tool allocate gigabytes or loop for hours before it says anything."""
        widths = {"in_dim": self.in_dim, "out_dim": self.out_dim, "skip_dim": self.skip_dim,
                  "inner_dim": self.inner_dim}
        for name, value in [*widths.items(), ("depth", self.depth)]:
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, int) and not isinstance(v, bool)
                                     for v in values):
                raise UserError(f"{name.replace('_', '-')} must be a positive integer (or a "
                                f"list of them for inner-dim), got {value!r}")
        if self.depth > MAX_DEPTH:
            raise UserError(f"depth {self.depth}: at most {MAX_DEPTH:,} blocks")
        if isinstance(self.inner_dim, list) and len(self.inner_dim) > MAX_DEPTH:
            raise UserError(f"inner-dim lists {len(self.inner_dim)} values; at most "
                            f"{MAX_DEPTH:,} blocks")
        for name, value in widths.items():
            if max(value if isinstance(value, list) else [value]) > MAX_WIDTH:
                raise UserError(f"{name.replace('_', '-')} {value}: at most {MAX_WIDTH:,}")
        inner = self.inner_dim if isinstance(self.inner_dim, list) else [self.inner_dim]
        total = (self.in_dim + self.out_dim) * self.skip_dim + 2 * self.skip_dim * (
            sum(inner) if isinstance(self.inner_dim, list) else self.inner_dim * self.depth)
        if total > MAX_PARAMS:
            raise UserError(f"this network would have {total:,} parameters; at most "
                            f"{MAX_PARAMS:,} (about {4 * MAX_PARAMS / 2**30:.0f} GiB of fp32 "
                            "weights)")

    def validate(self) -> None:
        for name in ("in_dim", "out_dim", "skip_dim", "depth"):
            if int(getattr(self, name)) <= 0:
                raise UserError(f"{name.replace('_', '-')} must be positive, "
                                f"got {getattr(self, name)}")
        if len(self.inner_dims) != self.depth:
            raise UserError(f"inner-dim lists {len(self.inner_dims)} values for depth "
                            f"{self.depth}; give one value or one per block")
        if min(self.inner_dims) <= 0:
            raise UserError(f"inner-dim must be positive, got {self.inner_dim}")
        for name, value, allowed in (("input-proj", self.input_proj, INPUT_PROJS),
                                     ("norm", self.norm, NORMS), ("act", self.act, ACTS),
                                     ("head", self.head, HEADS)):
            if value not in allowed:
                raise UserError(f"{name} {value!r}: choose one of {', '.join(allowed)}")
        check_block(self.block, self.skip_dim, self.inner_dims)
        if self.input_proj == "identity" and self.skip_dim != self.in_dim:
            raise UserError(f"--input-proj identity needs skip-dim = input size {self.in_dim}, "
                            f"got {self.skip_dim}")

    @property
    def shape(self) -> str:
        """'hourglass', 'conventional', or 'mixed' (some blocks each way, or d_h == d_z)."""
        return shape_of(self.skip_dim, self.inner_dims)

    def check_shape(self, expected: str | None) -> None:
        check_shape(expected, self.shape, self.skip_dim, self.inner_dim)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("inner_dims")
        if d["block"] == "plain":  # stored as before the variants existed
            d.pop("block")
        return d

    @property
    def block_kind(self) -> tuple[str, int]:
        return parse_block(self.block)


def count_params(cfg: MLPConfig) -> dict[str, int]:
    """Trainable parameters as PROTOCOL.md counts them, frozen ones apart, and forward FLOPs.

    P = d_x*d_z [learned W_in] + sum_i 2*d_z*d_h_i + d_z*d_out (a block variant counts its
    own: blocks_config.py). FLOPs per sample are 2 x multiply-adds of every Linear in one
    forward pass, frozen projection included; norms and activations (O(d) each) are left
    out.
    """
    proj = 0 if cfg.input_proj == "identity" else cfg.in_dim * cfg.skip_dim
    blocks, frozen_blocks, block_macs = block_counts(cfg)
    head = cfg.skip_dim * cfg.out_dim
    trainable = blocks + head + (proj if cfg.input_proj == "learned" else 0)
    frozen = (proj if cfg.input_proj == "fixed" else 0) + frozen_blocks
    return {"params": trainable, "frozen_params": frozen, "embedding_params": 0,
            "flops_per_sample": 2 * (proj + block_macs + head)}


def make_config(run, task) -> MLPConfig:
    """The MLP a run trains (``run``: a TrainConfig; ``task``: its TaskShape); a fixed
    projection is seeded by proj_seed, else the run's seed."""
    proj_seed = run.seed if run.proj_seed is None else run.proj_seed
    cfg = MLPConfig(in_dim=task.in_dim, out_dim=task.out_dim, skip_dim=run.skip_dim,
                    inner_dim=run.inner_dim, depth=run.depth, input_proj=run.input_proj,
                    proj_seed=proj_seed, norm=run.norm, act=run.act,
                    head="sigmoid" if task.image_target else "none", block=run.block)
    cfg.check_shape(run.shape)
    return cfg


MLP = register(Family(
    name="mlp",
    summary="residual MLP on flattened images (the paper's): Hourglass wide-narrow-wide "
            "against the conventional narrow-wide-narrow",
    dims=(Dim("skip_dim", "z", "d_z: width of the residual (skip) path"),
          Dim("inner_dim", "h", "d_h: width inside each block"),
          Dim("depth", "L", "L: number of residual blocks")),
    tasks=IMAGE_TASKS, make_config=make_config, config_from_dict=lambda d: MLPConfig(**d),
    counts=count_params, module=f"{__package__}.net:ResidualMLP",
    options={"input_proj": INPUT_PROJS, "block": parse_block},
    spaces=SPACES, compare_space=compare_space, embeddings=False,
    recipe=lambda task, dataset, version: {"norm": "batch", "act": "relu", "augment": "none"},
    examples={"hourglass": {"skip_dim": 48, "inner_dim": 8, "depth": 2},
              "conventional": {"skip_dim": 32, "inner_dim": 64, "depth": 1}}))
