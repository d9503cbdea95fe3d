"""Which trial to run next: grid (the paper's method), random, nsga2, pareto-halving,
lr-then-seeds.

A strategy looks at the records of every trial so far and returns a Job (train this unit with
this seed for this many epochs), a Sample (let the shape's NSGA-II sampler choose), WAIT
(nothing to start until running trials finish) or None (done). Strategies hold no state of
their own: a re-run or another worker reaches the same decisions from the same records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hourglass.search.frontier import DIRECTIONS, metric_name
from hourglass.search.pareto import front_ranks, gap_to_front
from hourglass.search.space import SearchSpace, Unit, rung_epochs
from hourglass.search.store import Record, trial_key

WAIT = "wait"
ORDER_SEED = 20251001  # random and halving orders are fixed: every worker and re-run agrees


@dataclass(frozen=True)
class Job:
    unit: Unit
    seed: int
    epochs: int
    rung: int = 0


@dataclass(frozen=True)
class Sample:
    shape: str
    seed: int
    epochs: int


def claimed(records: list[Record]) -> set[str]:
    return {r.key for r in records if r.claims}


def _interleave(space: SearchSpace, units: list[Unit]) -> list[Unit]:
    """Alternate shapes so both frontiers grow together under a time budget."""
    by_shape = [[u for u in units if u.arch.shape == s] for s in space.shapes]
    out = []
    for i in range(max(len(b) for b in by_shape)):
        out += [b[i] for b in by_shape if i < len(b)]
    return out


def pending_seeds(space: SearchSpace, records: list[Record], rung: int = 0) -> Job | None:
    """A missing seed of a unit started at full epochs: seeds finish before new units start."""
    taken = claimed(records)
    for r in sorted(records, key=lambda r: r.number):
        if r.epochs == space.epochs and r.claims:
            for s in space.seeds:
                if trial_key(r.unit, s, space.epochs) not in taken:
                    return Job(r.unit, s, space.epochs, rung)
    return None


def next_in_order(space: SearchSpace, records: list[Record], units: list[Unit],
                  max_units: int | None) -> Job | str | None:
    job = pending_seeds(space, records)
    if job is not None:
        return job
    taken = claimed(records)
    started = {r.unit for r in records if r.claims and r.epochs == space.epochs}
    if max_units is not None and len(started) >= max_units:
        return _wait_or_done(records)
    for u in units:
        if trial_key(u, space.seeds[0], space.epochs) not in taken:
            return Job(u, space.seeds[0], space.epochs)
    return _wait_or_done(records)


def _wait_or_done(records: list[Record]) -> str | None:
    return WAIT if any(r.state == "running" for r in records) else None


def grid_order(space: SearchSpace) -> list[Unit]:
    return _interleave(space, space.units())


def random_order(space: SearchSpace) -> list[Unit]:
    units = space.units()
    random.Random(ORDER_SEED).shuffle(units)
    return _interleave(space, units)


# ---- pareto-halving -------------------------------------------------------------------------
def promotable(results: list[tuple[Unit, float, float]], promoted: set[Unit], eta: int,
               rung_complete: bool = False) -> list[Unit]:
    """Units of one rung to promote, best first.

    ``results`` holds (unit, params, quality) for every unit finished at the rung. Like ASHA,
    a rung with n results promotes at most n // eta of them, so decisions are made
    asynchronously as results arrive. Unlike ASHA's single score, units are ordered by
    non-dominated sorting on (params, quality), then by their quality gap below the best
    reached with no more parameters. Once the rung is complete (every unit that will reach it
    has finished), every non-dominated unit is promoted too: the frontier is the goal, and a
    frontier point cut by the n // eta quota would be lost for good.
    """
    n = len(results)
    if n == 0:
        return []
    points = [(p, q) for _, p, q in results]
    ranks, gaps = front_ranks(points), gap_to_front(points)
    # failed units (quality -inf) count in n but are never promoted
    order = sorted((i for i in range(n) if points[i][1] > float("-inf")),
                   key=lambda i: (ranks[i], gaps[i], points[i][0]))
    chosen = order[: n // eta]
    if rung_complete:
        chosen += [i for i in order[n // eta:] if ranks[i] == 0]
    return [results[i][0] for i in chosen if results[i][0] not in promoted]


def halving_next(space: SearchSpace, records: list[Record], eta: int,
                 max_units: int | None) -> Job | str | None:
    rungs = rung_epochs(space.epochs, eta)
    job = pending_seeds(space, records, len(rungs) - 1)
    if job is not None:
        return job
    s0 = space.seeds[0]
    sign = DIRECTIONS[metric_name(space.task)]  # promotion ranks higher-is-better quality
    shapes = sorted(space.shapes, key=lambda s: sum(r.unit.arch.shape == s and r.claims
                                                     for r in records))
    order = random_order(space)
    for shape in shapes:
        units = [u for u in order if u.arch.shape == shape]
        if max_units is not None:
            units = units[:max(1, max_units // len(space.shapes))]
        at = [[x for x in records if x.unit.arch.shape == shape and x.epochs == e
               and x.seed == s0 and x.claims] for e in rungs]
        complete = len({x.unit for x in at[0] if x.state != "running"}) == len(units)
        for r in range(len(rungs) - 1):
            done = [(x.unit, x.values[0], sign * x.values[1]) if x.state == "complete" else
                    (x.unit, float(space.size(x.unit.arch)), float("-inf"))
                    for x in at[r] if x.state in ("complete", "failed")]
            above = {x.unit for x in at[r + 1]}
            if complete:
                picks = promotable(done, above, eta, rung_complete=True)
                complete = not picks and not any(x.state == "running" for x in at[r + 1])
            else:
                picks = promotable(done, above, eta)
            if picks:
                return Job(picks[0], s0, rungs[r + 1], r + 1)
        started = {x.unit for x in at[0]}
        for unit in units:
            if unit not in started:
                return Job(unit, s0, rungs[0], 0)
    return _wait_or_done(records)


def full_length_job(space: SearchSpace, records: list[Record], eta: int = 3,
                    shapes: list[str] | None = None) -> Job | None:
    """For a shape with no finished trial at full epochs, one: its best unit so far (the best
    seed-0 quality at the highest rung it finished), else its first unit in the random order,
    at full epochs. A unit already tried at full epochs (a failure, say) is not taken again,
    and a shape whose full-length trial is running is left to the worker that runs it.
    `compare` runs these after its time budget, so that its report always holds both shapes.
    ``shapes``: only these (a worker's share); by default, every shape of the space."""
    sign, s0 = DIRECTIONS[metric_name(space.task)], space.seeds[0]
    top = len(rung_epochs(space.epochs, eta)) - 1
    for shape in shapes or space.shapes:
        mine = [r for r in records if r.unit.arch.shape == shape]
        if any(r.state in ("complete", "running") and r.epochs == space.epochs for r in mine):
            continue
        tried = {r.unit for r in mine if r.epochs == space.epochs and r.claims}
        done = sorted((r for r in mine if r.state == "complete" and r.seed == s0),
                      key=lambda r: (-r.epochs, -sign * r.values[1], r.number))
        order = [u for u in random_order(space) if u.arch.shape == shape]
        for unit in [r.unit for r in done] + order:
            if unit not in tried:
                return Job(unit, s0, space.epochs, top)
    return None


# ---- lr-then-seeds ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LrSearch:
    """Where one architecture's lr search stands: the lr chosen (its other seeds train there),
    or an lr to try first at the first seed; neither while its grid's lrs still train."""

    chosen: Unit | None = None
    next: Unit | None = None


def lr_search(space: SearchSpace, records: list[Record], arch) -> LrSearch:
    """The lr of ``arch`` whose first-seed trial scored best on the eval split, once every lr
    of its grid has finished at the first seed (a failed lr, diverged say, is not chosen),
    and, with the space's lr_extend, once the lrs beside it on the shape's lr ladder have too:
    a best lr at an end of the grid first tries the next lr past that end (space.lr_ladder),
    until one beside the best does worse or the ladder ends."""
    s0, metric = space.seeds[0], metric_name(space.task)
    key, sign = "eval_" + metric.removeprefix("test_"), DIRECTIONS[metric]
    done = {r.unit.lr: r for r in records
            if r.unit.arch == arch and r.seed == s0 and r.epochs == space.epochs
            and r.state in ("complete", "failed")}
    if any(lr not in done for lr in space.shapes[arch.shape].lr):
        return LrSearch()
    scored = [(sign * r.attrs["metrics"][key], -r.number, lr) for lr, r in done.items()
              if r.state == "complete" and r.attrs.get("metrics", {}).get(key) is not None]
    if not scored:
        return LrSearch()
    best = max(scored)[2]
    ladder = space.lr_ladder(arch.shape)
    if best not in ladder:  # tried on an earlier grid's ladder, which a widened grid moved
        return LrSearch(chosen=Unit(arch, best))
    at = ladder.index(best)
    for beside in ladder[max(0, at - 1):at] + ladder[at + 1:at + 2]:
        if beside not in done:
            return LrSearch(next=Unit(arch, beside))
    return LrSearch(chosen=Unit(arch, best))


def lr_then_seeds_next(space: SearchSpace, records: list[Record],
                       max_units: int | None) -> Job | str | None:
    """Every architecture at every lr with the first seed (and past a grid's end where the
    space's lr_extend lets a best lr there look further); then, per architecture, the other
    seeds at the lr that scored best on the eval split (the test split never picks an lr).
    An architecture's search and seeds go first: its verdict is complete before new ones
    start. Smaller networks go first, so a study spread over days completes its budgets one
    by one."""
    taken = claimed(records)
    order = sorted(grid_order(space), key=lambda u: space.size(u.arch))
    for arch in dict.fromkeys(u.arch for u in order):
        search = lr_search(space, records, arch)
        if search.next and trial_key(search.next, space.seeds[0], space.epochs) not in taken:
            return Job(search.next, space.seeds[0], space.epochs)
        for s in space.seeds[1:] if search.chosen else ():
            if trial_key(search.chosen, s, space.epochs) not in taken:
                return Job(search.chosen, s, space.epochs)
    started = {r.unit for r in records if r.claims and r.epochs == space.epochs}
    for u in order:
        if max_units is not None and len(started) >= max_units:
            break
        if trial_key(u, space.seeds[0], space.epochs) not in taken:
            return Job(u, space.seeds[0], space.epochs)
    return _wait_or_done(records)


def next_job(strategy: str, space: SearchSpace, records: list[Record], eta: int = 3,
             max_units: int | None = None) -> Job | Sample | str | None:
    if strategy == "grid":
        return next_in_order(space, records, grid_order(space), max_units)
    if strategy == "random":
        return next_in_order(space, records, random_order(space), max_units)
    if strategy == "pareto-halving":
        return halving_next(space, records, eta, max_units)
    if strategy == "lr-then-seeds":
        return lr_then_seeds_next(space, records, max_units)
    # nsga2: finish the seeds of sampled units, then sample the shape with fewer trials
    job = pending_seeds(space, records)
    if job is not None:
        return job
    started = {r.unit for r in records if r.claims}
    budget = max_units if max_units is not None else len(space.units())
    if len(started) >= budget:
        return _wait_or_done(records)
    shape = min(space.shapes, key=lambda s: sum(u.arch.shape == s for u in started))
    return Sample(shape, space.seeds[0], space.epochs)
