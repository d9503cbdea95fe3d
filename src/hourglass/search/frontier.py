"""The paper's frontier: mean over seeds per (architecture, lr), best lr per architecture,
upper envelope of quality against trainable parameters; bands are +- one seed std.

Built from trial rows (dicts as in trials.csv); only finished trials at the space's full epochs
count, so a multi-fidelity search is judged on the same footing as a grid.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from hourglass.search.pareto import front_indices, hypervolume

SHAPES = ("hourglass", "conventional")


def metric_name(task: str) -> str:
    return "test_accuracy" if task == "classify" else "test_psnr"


def configurations(rows: list[dict], metric: str, epochs: int) -> list[dict]:
    """Per architecture: the best learning rate's mean and std over seeds."""
    by_unit: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["status"] == "complete" and int(r["epochs"]) == epochs and r.get(metric) is not None:
            key = (r["shape"], int(r["skip_dim"]), int(r["inner_dim"]), int(r["depth"]),
                   float(r["lr"]))
            by_unit[key].append(r)
    best: dict[tuple, dict] = {}
    for (shape, z, h, d, lr), runs in by_unit.items():
        values = [float(r[metric]) for r in runs]
        cand = {"shape": shape, "skip_dim": z, "inner_dim": h, "depth": d, "lr": lr,
                "params": int(runs[0]["params"]), "mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "seeds": len(values)}
        arch = (shape, z, h, d)
        if arch not in best or cand["mean"] > best[arch]["mean"]:
            best[arch] = cand
    return sorted(best.values(), key=lambda c: (c["shape"], c["params"]))


def frontier(configs: list[dict], shape: str) -> list[dict]:
    mine = [c for c in configs if c["shape"] == shape]
    return [mine[i] for i in front_indices([(c["params"], c["mean"]) for c in mine])]


def reference_point(configs: list[dict], baseline: float | None,
                    max_params: int) -> tuple[float, float]:
    """(the space's largest params, the do-nothing baseline, else the worst mean): fixed by
    the space, so searches of one space with different strategies are comparable."""
    low = baseline if baseline is not None else min((c["mean"] for c in configs), default=0.0)
    return float(max_params), float(low)


def _params_for(front: list[dict], quality: float) -> int | None:
    return min((c["params"] for c in front if c["mean"] >= quality), default=None)


def _quality_at(front: list[dict], params: int) -> float | None:
    return max((c["mean"] for c in front if c["params"] <= params), default=None)


def comparison(fronts: dict[str, list[dict]]) -> list[dict]:
    """At each point of one shape's frontier: what the other shape needs for the same quality,
    and what it reaches with the same parameters."""
    rows = []
    for shape, other in (("conventional", "hourglass"), ("hourglass", "conventional")):
        for c in fronts.get(shape, []):
            need = _params_for(fronts.get(other, []), c["mean"])
            reach = _quality_at(fronts.get(other, []), c["params"])
            rows.append({"shape": shape, "config": f"{c['skip_dim']}/{c['inner_dim']}/"
                                                   f"{c['depth']}", "params": c["params"],
                         "quality": c["mean"], "other": other, "other_params_needed": need,
                         "params_ratio": None if need is None else need / c["params"],
                         "other_quality_at_params": reach,
                         "quality_gain": None if reach is None else reach - c["mean"]})
    return rows


def scaling_table(fronts: dict[str, list[dict]]) -> list[dict]:
    """For budgets along the frontiers: the best architecture of each shape within budget."""
    budgets = sorted({c["params"] for f in fronts.values() for c in f})
    rows = []
    for b in budgets:
        row: dict = {"budget": b}
        for shape, front in fronts.items():
            fit = [c for c in front if c["params"] <= b]
            best = max(fit, key=lambda c: c["mean"]) if fit else None
            row[shape] = None if best is None else {
                k: best[k] for k in ("skip_dim", "inner_dim", "depth", "lr", "params", "mean")}
        rows.append(row)
    return rows


def below_baseline(rows: list[dict], metric: str, baseline: float | None,
                   epochs: int | None = None) -> list[dict]:
    """Finished trials that ended worse than the do-nothing baseline: no divergence stopped
    them (their loss stalled or fell too slowly), so they count as complete, but their
    numbers say more about the learning rate or the epochs than about the architecture.
    With ``epochs``, only trials of that many epochs (a multi-fidelity search's top rung)."""
    if baseline is None:
        return []
    return [{"shape": r["shape"], "config": f"{r['skip_dim']}/{r['inner_dim']}/{r['depth']}",
             "lr": float(r["lr"]), "seed": int(r["seed"]), "epochs": int(r["epochs"]),
             "value": float(r[metric])}
            for r in rows if r["status"] == "complete" and r.get(metric) not in (None, "")
            and float(r[metric]) < baseline and epochs in (None, int(r["epochs"]))]


def summarize(rows: list[dict], task: str, epochs: int, max_params: int) -> dict:
    """Everything frontier.json holds."""
    metric = metric_name(task)
    configs = configurations(rows, metric, epochs)
    baselines = [float(r["baseline"]) for r in rows if r.get("baseline") not in (None, "")]
    baseline = baselines[0] if baselines else None
    ref = reference_point(configs, baseline, max_params)
    fronts = {s: frontier(configs, s) for s in SHAPES if any(c["shape"] == s for c in configs)}
    return {
        "metric": metric, "epochs": epochs,
        "reference_point": {"params": ref[0], "quality": ref[1],
                            "note": "the space's largest params; the do-nothing baseline"},
        "frontiers": fronts,
        "hypervolume": {s: hypervolume([(c["params"], c["mean"]) for c in f], ref)
                        for s, f in fronts.items()},
        "comparison": comparison(fronts),
        "scaling": scaling_table(fronts),
        "configurations": configs,
        "below_baseline": below_baseline(rows, metric, baseline, epochs),
        # lower rungs of a multi-fidelity search: 1-3 epochs often end there, and say little
        "below_baseline_low_rungs": len(below_baseline(rows, metric, baseline))
        - len(below_baseline(rows, metric, baseline, epochs)),
    }
