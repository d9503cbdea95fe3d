"""Every trial's eval curve in a search, and whether each network had stopped improving.

    python studies/curves.py SEARCH_DIR [--csv FILE] [--plot FILE.png]

Reads SEARCH_DIR/trials.csv and the history.csv of each finished trial at the search's full
length (SEARCH_DIR/runs/KEY/). --csv writes every epoch of every such trial (its key, network,
lr, seed, epoch, eval score, eval loss and training seconds): a study's curves.csv in
docs/results. It prints, per network and lr over its seeds, the epoch of the best eval score,
and how much the score still improved over the last epoch and over the last quarter of the
epochs (positive: still improving), so a reader sees which networks trained to a plateau.
--plot draws each network's mean eval curve over its seeds at the lr most of them ran, one
panel per budget (each network beside the conventional network nearest its size).
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

from hourglass.models.family import non_embedding
from hourglass.tasks.base import Metric, task_spec


@dataclass
class Curve:
    key: str  # the trial's
    network: str  # the key without lr, seed and epochs
    size: int  # non-embedding parameters
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
        with open(run / "history.csv", newline="") as f:
            history = list(csv.DictReader(f))
        out.append(Curve(r["key"], r["key"].split("-lr")[0], non_embedding(r), float(r["lr"]),
                         int(r["seed"]),
                         [int(h["epoch"]) for h in history],
                         [float(h[metric.eval_key]) for h in history],
                         [float(h["eval_loss"]) for h in history],
                         [float(h["seconds"]) for h in history]))
    return out, metric


def write_csv(found: list[Curve], metric: Metric, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "network", "lr", "seed", "epoch", metric.eval_key, "eval_loss",
                    "seconds"])
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
             f"final {metric.eval_label} |",
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


def plot(found: list[Curve], metric: Metric, path: Path) -> None:
    """One panel per budget: each network's mean eval curve at the lr most of its seeds ran
    (the chosen one under lr-then-seeds), its seeds' range shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[tuple[str, float], list[Curve]] = defaultdict(list)
    for c in found:
        runs[c.network, c.lr].append(c)
    chosen: dict[str, list[Curve]] = {}
    for (network, _), cs in runs.items():
        if len(cs) > len(chosen.get(network, [])):
            chosen[network] = cs
    anchors = sorted({cs[0].size for n, cs in chosen.items() if n.startswith("conventional")})
    budgets: dict[int, list[str]] = defaultdict(list)
    for network, cs in chosen.items():
        size = cs[0].size
        budgets[min(anchors, key=lambda a: abs(a - size)) if anchors else 0].append(network)
    fig, axes = plt.subplots(1, len(budgets), figsize=(5 * len(budgets), 4), squeeze=False)
    scale = 100 if metric.percent else 1
    for ax, (budget, networks) in zip(axes[0], sorted(budgets.items()), strict=True):
        for network in sorted(networks):
            cs = chosen[network]
            n = min(len(c.scores) for c in cs)
            epochs = cs[0].epochs[:n]
            per_epoch = [[scale * c.scores[i] for c in cs] for i in range(n)]
            ax.plot(epochs, [statistics.fmean(v) for v in per_epoch], marker=".",
                    label=f"{network}, lr {cs[0].lr:g} ({len(cs)} seeds)")
            ax.fill_between(epochs, [min(v) for v in per_epoch], [max(v) for v in per_epoch],
                            alpha=0.2)
        ax.set_title(f"{budget:,} non-embedding parameters" if budget else "all networks")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric.eval_label)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("search", type=Path)
    p.add_argument("--csv", type=Path, help="write every epoch of every trial here")
    p.add_argument("--plot", type=Path, help="draw the networks' eval curves here (PNG)")
    a = p.parse_args()
    found, metric = curves(a.search)
    if a.csv:
        write_csv(found, metric, a.csv)
    if a.plot:
        plot(found, metric, a.plot)
    print(plateau(found, metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
