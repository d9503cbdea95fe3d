"""Scaling fits: a shape's quality against its size, as a saturating power law.

    loss(N) = E + A * N^(-alpha)

fitted per shape to its frontier (the best network at each budget; N its trainable
non-embedding parameters, or its forward FLOPs per sample: a search trains every trial on the
same samples, so training FLOPs are these times 3 x samples seen, one factor that moves A and
not alpha). The loss is the task's metric made lower-is-better: bits per character as they
are, accuracy as its error rate, PSNR as the mean squared error it stands for. For each alpha
the best E and A are a linear least-squares fit, so the fit is a one-dimensional search over
alpha. The interval on each number is a bootstrap over seeds (each point's seeds resampled,
the means refitted), and where the two shapes' curves cross inside twice the largest budget,
the crossing is given with its interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

MIN_POINTS = 3  # budgets per shape for a fit
BOOTSTRAP = 500
ALPHA_RANGE = (1e-3, 3.0)
LOSSES = {  # metric -> (name of the loss, metric -> loss)
    "test_bpc": ("bits per character", lambda v: v),
    "test_accuracy": ("error rate", lambda v: 1.0 - v),
    "test_psnr": ("mean squared error", lambda v: 10.0 ** (-v / 10.0)),
}


@dataclass(frozen=True)
class Law:
    e: float
    a: float
    alpha: float

    def __call__(self, n):
        return self.e + self.a * np.power(np.asarray(n, dtype=float), -self.alpha)


def fit_law(n, loss) -> Law:
    """Least squares of ``loss`` on E + A n^-alpha (n scaled to its geometric mean inside, so
    A stays of the loss's size whatever the budgets)."""
    n, loss = np.asarray(n, dtype=float), np.asarray(loss, dtype=float)
    scale = float(np.exp(np.log(n).mean()))
    x = n / scale

    def linear(alpha: float) -> tuple[float, float, float]:
        design = np.stack([np.ones_like(x), x ** -alpha], axis=1)
        (e, a), *_ = np.linalg.lstsq(design, loss, rcond=None)
        return float(e), float(a), float(np.sum((design @ np.array([e, a]) - loss) ** 2))

    best = minimize_scalar(lambda al: linear(al)[2], bounds=ALPHA_RANGE, method="bounded",
                           options={"xatol": 1e-6})
    e, a, _ = linear(float(best.x))
    return Law(e, a * scale ** float(best.x), float(best.x))


def crossing(first: Law, second: Law, low: float, high: float) -> float | None:
    """The smallest n in [low, high] where the two curves meet (None: they do not)."""
    grid = np.geomspace(low, high, 400)
    gap = first(grid) - second(grid)
    flips = np.nonzero(np.sign(gap[:-1]) * np.sign(gap[1:]) < 0)[0]
    if len(flips) == 0:
        return None
    i = int(flips[0])  # interpolate in log n
    t = gap[i] / (gap[i] - gap[i + 1])
    return float(np.exp(np.log(grid[i]) + t * (np.log(grid[i + 1]) - np.log(grid[i]))))


@dataclass
class ShapeFit:
    shape: str
    law: Law
    intervals: dict[str, tuple[float, float] | None]  # e, a, alpha: 95% bootstrap (None: 1 seed)
    points: list[tuple[float, float]]  # (n, mean loss)
    draws: list[Law]


def _points(front: list[dict], axis: str, to_loss) -> list[tuple[float, list[float]]]:
    out = []
    for c in front:
        if c.get(axis) is None:
            return []
        scores = [s for _, s in c.get("seed_scores") or [[0, c["mean"]]]]
        out.append((float(c[axis]), [to_loss(s) for s in scores]))
    return out


def fit_shape(shape: str, front: list[dict], axis: str, to_loss, rng) -> ShapeFit | None:
    """The law of one shape's frontier on ``axis`` (params or flops), with bootstrap draws."""
    pts = _points(front, axis, to_loss)
    if len({n for n, _ in pts}) < MIN_POINTS:
        return None
    n = [p for p, _ in pts]
    law = fit_law(n, [np.mean(s) for _, s in pts])
    draws = []
    if any(len(s) > 1 for _, s in pts):
        for _ in range(BOOTSTRAP):
            means = [np.mean(rng.choice(s, size=len(s))) for _, s in pts]
            draws.append(fit_law(n, means))
    intervals = {k: (tuple(np.percentile([getattr(d, k) for d in draws], [2.5, 97.5]))
                     if draws else None) for k in ("e", "a", "alpha")}
    return ShapeFit(shape, law, intervals, [(p, float(np.mean(s))) for p, s in pts], draws)


@dataclass
class Crossing:
    at: float | None  # the fitted curves' crossing
    interval: tuple[float, float] | None  # over the bootstrap draws that cross
    share: float | None  # of bootstrap draws with a crossing in range


def cross(fits: list[ShapeFit], low: float, high: float) -> Crossing:
    first, second = fits
    at = crossing(first.law, second.law, low, high)
    pairs = list(zip(first.draws, second.draws, strict=False))
    if not pairs:
        return Crossing(at, None, None)
    found = [c for c in (crossing(a, b, low, high) for a, b in pairs) if c is not None]
    interval = tuple(np.percentile(found, [2.5, 97.5])) if found else None
    return Crossing(at, interval, len(found) / len(pairs))


def scaling_fits(summary: dict, seed: int = 0) -> dict | None:
    """Per axis (params, and flops where recorded): each shape's law and, with two shapes,
    their crossing within [smallest budget, 2 x largest]. None when no shape has
    MIN_POINTS budgets, or the metric has no loss form."""
    if summary["metric"] not in LOSSES:
        return None
    name, to_loss = LOSSES[summary["metric"]]
    rng = np.random.default_rng(seed)
    out = {"loss": name, "axes": {}}
    for axis, fronts in (("params", summary["frontiers"]),
                         ("flops", summary.get("frontiers_by_flops") or {})):
        fits = [f for f in (fit_shape(s, front, axis, to_loss, rng)
                            for s, front in fronts.items()) if f is not None]
        if not fits:
            continue
        sizes = [n for f in fits for n, _ in f.points]
        result = {"fits": fits, "crossing": None}
        if len(fits) == 2:
            result["crossing"] = cross(fits, min(sizes), 2 * max(sizes))
        out["axes"][axis] = result
    return out if out["axes"] else None
