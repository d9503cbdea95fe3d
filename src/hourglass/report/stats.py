"""Differences between two networks over seeds, with a 95% interval, and the rule that calls
one a tie.

Two networks trained with the same seeds see the same data order (each epoch's batches come
from a generator seeded by the run's seed), so their scores pair by seed: the interval is then
the paired one, a t-interval on the per-seed differences, which removes the share of the
spread that the data order puts into both. Scores without common seeds give Welch's interval.
A difference whose interval holds 0 is written as a tie; one seed has no interval at all.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy.stats import t as student_t

LEVEL = 0.95


@dataclass(frozen=True)
class Difference:
    """a - b: its mean, the interval's ends (None with one seed), the seeds it rests on and
    whether they were paired."""

    mean: float
    low: float | None
    high: float | None
    n: int
    paired: bool

    @property
    def tie(self) -> bool:
        """Within its interval of 0 (or without an interval): not a measured difference."""
        return self.low is None or self.low <= 0 <= self.high

    def words(self, fmt=lambda v: f"{v:.3g}") -> str:
        """'+1.20 [0.40, 2.00], paired, 3 seeds', ending 'tie' when the interval holds 0."""
        if self.low is None:
            return f"{fmt(self.mean)} (one seed: no interval)"
        how = f"{'paired, ' if self.paired else ''}{self.n} seeds"
        verdict = "; a tie" if self.tie else ""
        return f"{fmt(self.mean)} [{fmt(self.low)}, {fmt(self.high)}], {how}{verdict}"


def difference(a: dict[int, float], b: dict[int, float], level: float = LEVEL) -> Difference:
    """Mean of a minus mean of b over seeds (``{seed: score}``), with its ``level`` interval:
    paired by seed when both hold the same seeds, else Welch's."""
    if not a or not b:
        raise ValueError("a difference needs at least one score on each side")
    if set(a) == set(b):
        diffs = [a[s] - b[s] for s in sorted(a)]
        mean = statistics.fmean(diffs)
        if len(diffs) < 2:
            return Difference(mean, None, None, len(diffs), True)
        half = (student_t.ppf((1 + level) / 2, len(diffs) - 1)
                * statistics.stdev(diffs) / math.sqrt(len(diffs)))
        return Difference(mean, mean - half, mean + half, len(diffs), True)
    xa, xb = list(a.values()), list(b.values())
    mean = statistics.fmean(xa) - statistics.fmean(xb)
    if len(xa) < 2 or len(xb) < 2:
        return Difference(mean, None, None, min(len(xa), len(xb)), False)
    va, vb = statistics.variance(xa) / len(xa), statistics.variance(xb) / len(xb)
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(mean, mean, mean, min(len(xa), len(xb)), False)
    dof = (va + vb) ** 2 / (va ** 2 / (len(xa) - 1) + vb ** 2 / (len(xb) - 1))
    half = student_t.ppf((1 + level) / 2, dof) * se
    return Difference(mean, mean - half, mean + half, min(len(xa), len(xb)), False)


def gain(better: dict, worse: dict, sign: int) -> Difference:
    """How much ``better`` beats ``worse``, two configurations of frontier.json, over their
    ``seed_scores`` ([seed, score] pairs); ``sign`` +1 where a higher score is better, -1 where
    lower is (bits per character)."""
    return difference({s: sign * v for s, v in better["seed_scores"]},
                      {s: sign * v for s, v in worse["seed_scores"]})
