"""A search's progress bar: trials done of the planned total (per rung for pareto-halving),
failures, elapsed and estimated time. It reads the store, so it counts every worker's trials,
and refreshes from a thread while this process trains its own."""

from __future__ import annotations

import threading

from tqdm import tqdm

from hourglass.search.space import SearchSpace, rung_epochs
from hourglass.search.store import Record, Store

REFRESH_S = 1.0


def planned(strategy: str, space: SearchSpace, eta: int,
            max_units: int | None) -> dict[int, int]:
    """Trials the strategy will run, by epochs. Exact for grid, random, nsga2 and
    lr-then-seeds (without --max-trials or lr_extend: with them, an estimate, and the lrs
    past a grid's end count as they start); for
    pareto-halving each rung above the first is estimated at 1/eta of the one below (a
    complete rung also promotes every non-dominated unit, so it can run a few more)."""
    seeds = len(space.seeds)
    if strategy == "lr-then-seeds":  # every unit once, then each architecture's other seeds
        units = space.units()[:max_units] if max_units else space.units()
        return {space.epochs: len(units) + len({u.arch for u in units}) * (seeds - 1)}
    if strategy != "pareto-halving":
        units = len(space.units())
        return {space.epochs: min(units, max_units or units) * seeds}
    per_shape = [sum(u.arch.shape == s for u in space.units()) for s in space.shapes]
    if max_units is not None:
        per_shape = [min(n, max(1, max_units // len(space.shapes))) for n in per_shape]
    rungs = rung_epochs(space.epochs, eta)
    out, counts = {}, per_shape
    for i, epochs in enumerate(rungs):
        out[epochs] = sum(counts) * (seeds if i == len(rungs) - 1 else 1)
        counts = [max(1, n // eta) for n in counts]
    return out


def finished(records: list[Record]) -> list[Record]:
    return [r for r in records if r.state in ("complete", "failed")]


class Progress:
    def __init__(self, store: Store, strategy: str, eta: int, max_units: int | None) -> None:
        self.store = store
        self.plan = planned(strategy, store.space, eta, max_units)
        self.at_start = len(finished(store.records()))
        self.bar = tqdm(total=sum(self.plan.values()), initial=self.at_start, unit="trial",
                        desc=f"search {store.space.name}", dynamic_ncols=True, mininterval=0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self.show(self.store.records())

    def show(self, records: list[Record]) -> None:
        done = finished(records)
        by_rung = {e: sum(r.epochs == e for r in done) for e in self.plan}
        started = {e: sum(r.epochs == e and r.claims for r in records) for e in self.plan}
        self.bar.total = sum(max(n, started[e]) for e, n in self.plan.items())
        self.bar.n = len(done)
        parts = []
        if len(self.plan) > 1:
            approx = list(self.plan)[1:]
            parts = [f"{e} ep {by_rung[e]}/{'~' * (e in approx and started[e] < n)}"
                     f"{max(n, started[e])}" for e, n in self.plan.items()]
        failed = sum(r.state == "failed" for r in done)
        running = sum(r.state == "running" for r in records)
        parts += [f"{running} running", f"{failed} failed"]
        self.bar.set_postfix_str(", ".join(parts), refresh=False)
        self.bar.refresh()

    def close(self) -> int:
        """Stop refreshing; returns how many trials finished while the bar ran."""
        self._stop.set()
        self._thread.join()
        records = self.store.records()
        self.show(records)
        self.bar.close()
        return len(finished(records)) - self.at_start
