"""Two-objective Pareto tools: fewer parameters is better, higher quality is better.

For two objectives these are a sort and a sweep, simpler than any library call.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]  # (params, quality)


def dominates(a: Point, b: Point) -> bool:
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])


def front_indices(points: Sequence[Point]) -> list[int]:
    """Indices of the non-dominated points, by increasing params (the upper envelope)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    out: list[int] = []
    for i in order:
        if not out or points[i][1] > points[out[-1]][1]:  # the first point is always on it
            out.append(i)
    return out


def front_ranks(points: Sequence[Point]) -> list[int]:
    """Non-dominated sorting: 0 for the first front, 1 for the next once it is removed, ..."""
    ranks = [-1] * len(points)
    left = list(range(len(points)))
    rank = 0
    while left:
        for j in front_indices([points[i] for i in left]):
            ranks[left[j]] = rank
        left = [i for i in left if ranks[i] < 0]
        rank += 1
    return ranks


def envelope_at(front: Sequence[Point], params: float) -> float:
    """Best quality reached on a front with at most ``params`` parameters (-inf if none)."""
    return max((q for p, q in front if p <= params), default=float("-inf"))


def gap_to_front(points: Sequence[Point]) -> list[float]:
    """How far each point's quality is below the best reached with no more parameters."""
    front = [points[i] for i in front_indices(points)]
    return [max(0.0, envelope_at(front, p) - q) for p, q in points]


def hypervolume(points: Sequence[Point], ref: Point) -> float:
    """Area dominated by ``points`` and bounded by ``ref`` = (max params, min quality)."""
    inside = [p for p in points if p[0] < ref[0] and p[1] > ref[1]]
    area, prev_q = 0.0, ref[1]
    for i in front_indices(inside):
        p, q = inside[i]
        area += (ref[0] - p) * (q - prev_q)
        prev_q = q
    return area
