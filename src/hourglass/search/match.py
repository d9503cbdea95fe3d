"""`hourglass match`: configurations of the other shape at the same budget as a given one.

For every skip width, depth and (for the hourglass) sub-block count tried, a family's
parameter count and FLOPs are affine in inner_dim, so the inner width that hits the budget is
solved for, not searched: two counts give the line, the nearest integer on it is checked with
an exact count. With ``ratios`` (inner_dim / skip_dim of the other shape, e.g. the authors'
0.5 and 0.8) the skip width is solved instead: the multiple of 8 whose network, at that
ratio, comes nearest the budget. The budget is trainable non-embedding parameters (the ViT's
patch embedding and positions, the LM's token embedding and output layer apart; the MLP has
none) or forward FLOPs per sample.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hourglass.core.errors import UserError
from hourglass.models.family import non_embedding
from hourglass.models.registry import get_family
from hourglass.training import TrainConfig, count_run_params

BUDGETS = ("params", "flops")
# skip widths tried, as multiples of the given config's; rounded to a multiple of ROUND
WIDER = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
NARROWER = (1 / 3, 0.5, 2 / 3, 0.75, 1.0)
ROUND = 8
SUB_BLOCKS = (1, 2, 4)  # the hourglass's K, for families that have sub_blocks


@dataclass
class Match:
    config: TrainConfig
    counts: dict[str, int]
    ratio: float  # its budget / the given config's

    def row(self) -> dict:
        c = self.config
        return {"shape": c.shape, "skip_dim": c.skip_dim, "inner_dim": c.inner_dim,
                "depth": c.depth, **c.arch, "params": self.counts["params"],
                "non_embedding_params": budget_of(self.counts, "params"),
                "flops_per_sample": self.counts["flops_per_sample"],
                "ratio": round(self.ratio, 4)}


def budget_of(counts: dict[str, int], by: str) -> int:
    if by == "flops":
        return counts["flops_per_sample"]
    return non_embedding(counts)


def _counts(cfg: TrainConfig) -> dict[str, int] | None:
    try:
        return count_run_params(cfg)
    except UserError:  # a width the family refuses (heads do not divide it, say)
        return None


def match(cfg: TrainConfig, by: str = "params", tolerance: float = 0.05,
          depths: list[int] | None = None, skip_dims: list[int] | None = None,
          ratios: list[float] | None = None) -> list[Match]:
    """Configurations of the other shape within ``tolerance`` (relative) of ``cfg``'s budget,
    nearest first; at the given inner/skip ``ratios`` when there are any."""
    if by not in BUDGETS:
        raise UserError(f"--by {by!r}: choose params or flops")
    if not 0 < tolerance < 1:
        raise UserError(f"--tolerance must be between 0 and 1, got {tolerance}")
    cfg = cfg.resolved()
    if isinstance(cfg.inner_dim, list):
        raise UserError("match takes one inner-dim for every block")
    given = count_run_params(cfg)
    shape = "hourglass" if cfg.inner_dim < cfg.skip_dim else "conventional"
    other = "conventional" if shape == "hourglass" else "hourglass"
    target = budget_of(given, by)
    skips = skip_dims or sorted({max(ROUND, round(cfg.skip_dim * f / ROUND) * ROUND)
                                 for f in (WIDER if other == "hourglass" else NARROWER)})
    dims = get_family(cfg.family).dim_names
    has_k, has_attn = "sub_blocks" in dims, "attn_dim" in dims
    ks = SUB_BLOCKS if other == "hourglass" and has_k else (1,) if has_k else (None,)
    if ratios and any(not 0 < r < 100 or (r < 1) != (other == "hourglass") for r in ratios):
        raise UserError(f"--ratios {ratios}: inner/skip of a {other} network must be "
                        f"{'below' if other == 'hourglass' else 'above'} 1")
    out = []
    for skip in [None] if ratios else skips:
        for depth in depths or _depths(cfg.depth):
            for k in ks:
                arch = dict(cfg.arch)
                if k is not None:
                    arch["sub_blocks"] = k
                if has_attn:  # keep the given attention width
                    arch["attn_dim"] = cfg.arch.get("attn_dim") or cfg.skip_dim
                base = dataclasses.replace(cfg, depth=depth, arch=arch, shape=None)
                for ratio in ratios or [None]:
                    found = (_solve_skip(base, ratio, target, by, cfg.skip_dim) if ratio
                             else _solve(dataclasses.replace(base, skip_dim=skip), target, by,
                                         other))
                    if found is not None:
                        c, counts = found
                        got = budget_of(counts, by) / target
                        if abs(got - 1) <= tolerance:
                            out.append(Match(dataclasses.replace(c, shape=other), counts, got))
    return sorted(out, key=lambda m: (abs(m.ratio - 1), m.config.skip_dim, m.config.depth))


def _solve_skip(base: TrainConfig, ratio: float, target: int, by: str, given: int):
    """The multiple of ROUND as skip width (up to 16x the given one) whose network with
    inner_dim = ratio x skip comes nearest ``target``, with its counts; None when none
    builds."""
    best = None
    for skip in range(ROUND, 16 * given + ROUND, ROUND):
        cfg = dataclasses.replace(base, skip_dim=skip, inner_dim=max(1, round(ratio * skip)))
        counts = _counts(cfg)
        if counts is None:
            continue
        gap = abs(budget_of(counts, by) - target)
        if best is None or gap < best[0]:
            best = (gap, cfg, counts)
        if budget_of(counts, by) > target:  # budgets grow with the width: past it, stop
            break
    return None if best is None else best[1:]


def _depths(depth: int) -> list[int]:
    return sorted({max(1, depth // 2), depth, depth * 2} | {max(1, depth - 1), depth + 1})


def _solve(base: TrainConfig, target: int, by: str, shape: str):
    """The inner width of ``base`` whose budget is nearest ``target`` (and that makes
    ``shape``), with its counts; None when none does."""
    one, two = (_counts(dataclasses.replace(base, inner_dim=d)) for d in (1, 2))
    if one is None or two is None:
        return None
    slope = budget_of(two, by) - budget_of(one, by)
    inner = round(1 + (target - budget_of(one, by)) / slope)
    ok = inner < base.skip_dim if shape == "hourglass" else inner > base.skip_dim
    if inner < 1 or not ok:
        return None
    cfg = dataclasses.replace(base, inner_dim=inner)
    counts = _counts(cfg)
    return None if counts is None else (cfg, counts)
