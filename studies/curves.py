"""Every trial's eval curve in a search, and whether each network had stopped improving.

    python studies/curves.py SEARCH_DIR [--csv FILE]

Reads SEARCH_DIR/trials.csv and the history.csv of each finished trial at the search's full
length (SEARCH_DIR/runs/KEY/). --csv writes every epoch of every such trial (its key, network,
lr, seed, epoch, eval score, eval loss and training seconds): a study's curves.csv in
docs/results. It prints, per network and lr over its seeds, the epoch of the best eval score,
and how much the score still improved over the last epoch and over the last quarter of the
epochs (positive: still improving), so a reader sees which networks trained to a plateau.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hourglass.tasks.base import Metric, task_spec


@dataclass
class Curve:
    key: str  # the trial's
    network: str  # the key without lr, seed and epochs
    lr: float
    seed: int
    epochs: list[int]
    scores: list[float]  # the eval split's score per epoch (accuracy, bits per character, ...)
    losses: list[float]
    seconds: list[float]


def curves(search: Path) -> tuple[list[Curve], Metric]:
    """The finished full-length trials' curves, in trials.csv's order, and the task's metric."""
    with open(search / "trials.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "complete"]
    if not rows:
        raise SystemExit(f"{search}: no finished trial")
    full = max(int(r["epochs"]) for r in rows)
    out, metric = [], None
    for r in rows:
        if int(r["epochs"]) != full:
            continue
        run = search / "runs" / r["key"]
        if metric is None:
            metric = task_spec(json.loads((run / "config.json").read_text())["task"]).metric
        column = metric.key.replace("test_", "eval_", 1)
        with open(run / "history.csv", newline="") as f:
            history = list(csv.DictReader(f))
        out.append(Curve(r["key"], r["key"].split("-lr")[0], float(r["lr"]), int(r["seed"]),
                         [int(h["epoch"]) for h in history],
                         [float(h[column]) for h in history],
                         [float(h["eval_loss"]) for h in history],
                         [float(h["seconds"]) for h in history]))
    return out, metric


def write_csv(found: list[Curve], metric: Metric, path: Path) -> None:
    column = metric.key.replace("test_", "eval_", 1)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "network", "lr", "seed", "epoch", column, "eval_loss", "seconds"])
        for c in found:
            for row in zip(c.epochs, c.scores, c.losses, c.seconds, strict=True):
                w.writerow([c.key, c.network, c.lr, c.seed, *row])


def plateau(found: list[Curve], metric: Metric) -> str:
    """Per network and lr: the best epoch of each seed, and the mean gain over the last epoch
    and over the last quarter of the epochs, in the direction the metric improves."""
    scale = 100 if metric.percent else 1
    unit = " (points)" if metric.percent else ""

    def show(v: float) -> str:
        return f"{scale * v:+.{metric.decimals}f}"

    groups: dict[tuple[str, float], list[Curve]] = defaultdict(list)
    for c in found:
        groups[c.network, c.lr].append(c)
    lines = [f"| network | lr | seeds | best epoch of {max(len(c.epochs) for c in found)} | "
             f"gain in the last epoch{unit} | gain in the last quarter{unit} | "
             f"final {metric.label.replace('test ', 'eval ', 1)} |",
             "|---|---|---|---|---|---|---|"]
    def gain(cs: list[Curve], back: int) -> str:
        if any(len(c.scores) <= back for c in cs):
            return "—"
        return show(statistics.fmean(metric.sign * (c.scores[-1] - c.scores[-1 - back])
                                     for c in cs))

    for (network, lr), cs in groups.items():
        best = [1 + max(range(len(c.scores)), key=lambda i: (metric.sign * c.scores[i], -i))
                for c in cs]
        final = statistics.fmean(c.scores[-1] for c in cs)
        lines.append(f"| {network} | {lr:g} | {len(cs)} | {', '.join(map(str, best))} | "
                     f"{gain(cs, 1)} | {gain(cs, max(1, len(cs[0].scores) // 4))} | "
                     f"{scale * final:.{metric.decimals}f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("search", type=Path)
    p.add_argument("--csv", type=Path, help="write every epoch of every trial here")
    a = p.parse_args()
    found, metric = curves(a.search)
    if a.csv:
        write_csv(found, metric, a.csv)
    print(plateau(found, metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
