"""The residual MLP's blocks: the paper's, and its variants (what each is, and its counts:
blocks_config.py). Every block maps the stream z (B, d_z) to z plus its update."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hourglass.models.layers.blocks_config import NESTED_FRACTIONS, hash_bits, parse_block


def fixed_projection(in_dim: int, out_dim: int, seed: int) -> torch.Tensor:
    """A frozen matrix (out_dim, in_dim): PyTorch's default Linear init, U(+-1/sqrt(in_dim)),
    as a pure function of ``seed`` (its own generator, CPU, float32), so a checkpoint stores
    the seed, not the matrix."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    bound = 1.0 / math.sqrt(in_dim)
    return (torch.rand(out_dim, in_dim, generator=g, dtype=torch.float32) * 2 - 1) * bound


def make_norm(kind: str, dim: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(dim, affine=False),
            "layer": lambda: nn.LayerNorm(dim, elementwise_affine=False),
            "rms": lambda: nn.RMSNorm(dim, elementwise_affine=False),
            "none": nn.Identity}[kind]()


def make_act(act: str) -> nn.Module:
    return nn.ReLU() if act == "relu" else nn.GELU()


def linear_init(rows: int, cols: int, *lead: int) -> nn.Parameter:
    """A weight (lead..., rows, cols) drawn as nn.Linear draws its own: U(+-1/sqrt(cols))."""
    bound = 1.0 / math.sqrt(cols)
    return nn.Parameter(torch.empty(*lead, rows, cols).uniform_(-bound, bound))


class Block(nn.Module):
    """z + fc2(act(fc1(norm(z)))): d_z -> d_h -> d_z, no biases (the authors' code)."""

    def __init__(self, dim: int, inner: int, norm: str, act: str) -> None:
        super().__init__()
        self.norm = make_norm(norm, dim)
        self.fc1 = nn.Linear(dim, inner, bias=False)
        self.act = make_act(act)
        self.fc2 = nn.Linear(inner, dim, bias=False)

    def forward(self, z: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        if keep is None:
            return z + self.fc2(self.act(self.fc1(self.norm(z))))
        # a nested model: only the first ``keep`` units of the bottleneck
        u = self.act(F.linear(self.norm(z), self.fc1.weight[:keep]))
        return z + F.linear(u, self.fc2.weight[:, :keep])


class FrozenBlock(nn.Module):
    """The paper's block with W1 frozen at a seeded random matrix (never stored)."""

    def __init__(self, dim: int, inner: int, norm: str, act: str, seed: int) -> None:
        super().__init__()
        self.norm = make_norm(norm, dim)
        self.register_buffer("frozen_w1", fixed_projection(dim, inner, seed), persistent=False)
        self.act = make_act(act)
        self.fc2 = nn.Linear(inner, dim, bias=False)

    def forward(self, z: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        return z + self.fc2(self.act(F.linear(self.norm(z), self.frozen_w1)))


class LowRankBlock(nn.Module):
    """W1 = B1 A1 and W2 = B2 A2 of rank R; ``keep`` uses the first r components of each."""

    def __init__(self, dim: int, inner: int, norm: str, act: str, rank: int) -> None:
        super().__init__()
        self.norm = make_norm(norm, dim)
        self.a1, self.b1 = linear_init(rank, dim), linear_init(inner, rank)
        self.a2, self.b2 = linear_init(rank, inner), linear_init(dim, rank)
        self.act = make_act(act)

    def forward(self, z: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        r = keep or self.a1.shape[0]
        u = self.act(F.linear(F.linear(self.norm(z), self.a1[:r]), self.b1[:, :r]))
        return z + F.linear(F.linear(u, self.a2[:r]), self.b2[:, :r])


class HashBlock(nn.Module):
    """E experts; each sample runs the one its hash names: the signs of log2 E fixed random
    projections of the normalised residual, read as a binary number."""

    def __init__(self, dim: int, inner: int, norm: str, act: str, experts: int,
                 seed: int) -> None:
        super().__init__()
        self.norm = make_norm(norm, dim)
        bits = hash_bits(experts)
        self.register_buffer("frozen_planes", fixed_projection(dim, bits, seed),
                             persistent=False)
        self.register_buffer("powers", 2 ** torch.arange(bits), persistent=False)
        self.w1, self.w2 = linear_init(inner, dim, experts), linear_init(dim, inner, experts)
        self.act = make_act(act)

    def route(self, zn: torch.Tensor) -> torch.Tensor:
        """Each row's expert."""
        return ((F.linear(zn, self.frozen_planes) > 0).long() * self.powers).sum(1)

    def forward(self, z: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        zn = self.norm(z)
        expert = self.route(zn)
        order = expert.argsort(stable=True)
        counts = torch.bincount(expert, minlength=self.w1.shape[0]).tolist()
        # unbind, not w1[e]: indexing would give each expert's backward a zero gradient the
        # size of all E experts (E^2 work); unbind's backward stacks the E gradients once
        w1, w2 = self.w1.unbind(0), self.w2.unbind(0)
        parts = [F.linear(self.act(F.linear(rows, w1[e])), w2[e])
                 for e, rows in enumerate(zn[order].split(counts)) if counts[e]]
        out = torch.empty_like(z)
        out[order] = torch.cat(parts)
        return z + out


class AltUp(nn.Module):
    """Alternating updates around any residual ``block`` (x -> x + update, at width d/K): the
    stream (..., d) is K sub-blocks; predict each by a learned K x K mixing, run ``block`` on
    sub-block ``index`` mod K only, correct every sub-block by a learned gain times the
    computed one's change. The MLP wraps its block, the language model its whole layer."""

    def __init__(self, block: nn.Module, k: int, index: int) -> None:
        super().__init__()
        self.k, self.j, self.block = k, index % k, block
        self.mix = nn.Parameter(torch.eye(k))  # start as the identity: predict = keep
        self.gain = nn.Parameter(torch.ones(k))

    def forward(self, z: torch.Tensor, keep: int | None = None) -> torch.Tensor:
        x = z.view(*z.shape[:-1], self.k, -1)
        pred = torch.matmul(self.mix, x)  # (..., K, d/K): sub-block i = sum_j mix_ij x_j
        computed = pred[..., self.j, :]
        change = self.block(computed) - computed
        return (pred + self.gain[:, None] * change.unsqueeze(-2)).reshape(z.shape)


def make_block(cfg, index: int, inner: int) -> nn.Module:
    """Block ``index`` (from 0) of an MLPConfig, of inner width ``inner``."""
    kind, n = parse_block(cfg.block)
    d, seed = cfg.skip_dim, block_seed(cfg.proj_seed, index)
    if kind == "frozen":
        return FrozenBlock(d, inner, cfg.norm, cfg.act, seed)
    if kind == "lowrank":
        return LowRankBlock(d, inner, cfg.norm, cfg.act, n)
    if kind == "hash":
        return HashBlock(d, inner, cfg.norm, cfg.act, n, seed)
    if kind == "altup":
        return AltUp(Block(d // n, inner, cfg.norm, cfg.act), n, index)
    return Block(d, inner, cfg.norm, cfg.act)  # plain, nested


def block_seed(proj_seed: int, index: int) -> int:
    """A block's frozen matrices' seed: apart from W_in's (proj_seed) and every other block's."""
    return proj_seed * 1_000_003 + 1 + index


def draw_keep(cfg, draw: int) -> list[int] | None:
    """What a training step of a prefix-trained model keeps in each block (None: all):
    ``lowrank:R`` a rank r in 1..R, ``nested`` one of the prefix widths, drawn from the
    step's own generator (``draw`` counts the model's training steps, and is checkpointed, so
    a resumed run draws what an uninterrupted one would)."""
    kind, n = parse_block(cfg.block)
    if kind not in ("lowrank", "nested"):
        return None
    g = torch.Generator().manual_seed(block_seed(cfg.proj_seed, 0) * 7919 + draw)
    if kind == "lowrank":
        return [int(torch.randint(1, n + 1, (1,), generator=g))] * cfg.depth
    fraction = NESTED_FRACTIONS[int(torch.randint(len(NESTED_FRACTIONS), (1,), generator=g))]
    return [h // fraction for h in cfg.inner_dims]
