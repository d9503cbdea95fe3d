"""The paper's frontier: mean over seeds per (architecture, lr), best lr per architecture,
upper envelope of quality against trainable non-embedding parameters (``params`` here; the
MLP has no embedding) and against forward FLOPs; bands are +- one seed std.

Built from trial rows (dicts as in trials.csv); only finished trials at the space's full epochs
count, so a multi-fidelity search is judged on the same footing as a grid.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from hourglass.models.family import SHAPES, non_embedding
from hourglass.search.pareto import front_indices, hypervolume
from hourglass.tasks.base import METRICS, task_spec

MLP_DIMS = ["skip_dim", "inner_dim", "depth"]
# +1: higher is better; -1: lower is better (a language model's bits per character)
DIRECTIONS = {key: metric.sign for key, metric in METRICS.items()}


def metric_name(task: str) -> str:
    """The trials.csv column a task's frontier ranks."""
    return task_spec(task).metric.key


def configurations(rows: list[dict], metric: str, epochs: int,
                   dims: list[str] = MLP_DIMS) -> list[dict]:
    """Per architecture (its ``dims``): the mean and std over seeds at its learning rate with
    the most seeds, of those the best."""
    sign = DIRECTIONS[metric]
    by_unit: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["status"] == "complete" and int(r["epochs"]) == epochs and r.get(metric) is not None:
            key = (r["shape"], *(int(r[d]) for d in dims), float(r["lr"]))
            by_unit[key].append(r)
    tried: dict[tuple, set[float]] = defaultdict(set)  # each architecture's lrs
    for shape, *values, lr in by_unit:
        tried[(shape, *values)].add(lr)
    best: dict[tuple, dict] = {}
    for (shape, *values, lr), runs in by_unit.items():
        scores = [float(r[metric]) for r in runs]
        cand = {"shape": shape, **dict(zip(dims, values, strict=True)),
                "label": runs[0].get("label") or "/".join(map(str, values)),
                "unit": str(runs[0].get("key", "")).rsplit("-s", 1)[0], "lr": lr,
                "lrs": sorted(tried[(shape, *values)]),  # every lr it finished at
                "params": non_embedding(runs[0]),
                "flops": int(runs[0]["flops_per_sample"])
                if runs[0].get("flops_per_sample") not in (None, "") else None,
                "mean": statistics.fmean(scores),
                "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                "seeds": len(scores),
                # [seed, score] pairs: differences between networks pair by seed
                "seed_scores": sorted([int(r.get("seed", 0)), float(r[metric])] for r in runs)}
        arch = (shape, *values)
        # the lr with the most seeds first: under lr-then-seeds, the one the eval split chose
        # (the others ran one seed); then the best mean
        if arch not in best or (cand["seeds"], sign * cand["mean"]) > \
                (best[arch]["seeds"], sign * best[arch]["mean"]):
            best[arch] = cand
    return sorted(best.values(), key=lambda c: (c["shape"], c["params"]))


def frontier(configs: list[dict], shape: str, sign: int = 1, axis: str = "params") -> list[dict]:
    """A shape's non-dominated configurations: fewest ``axis`` (params or flops) for the
    best mean, in order of ``axis``."""
    mine = [c for c in configs if c["shape"] == shape]
    return [mine[i] for i in front_indices([(c[axis], sign * c["mean"]) for c in mine])]


def reference_point(configs: list[dict], baseline: float | None, max_params: int,
                    sign: int = 1) -> tuple[float, float]:
    """(the space's largest params, the do-nothing baseline, else the worst mean): fixed by
    the space, so searches of one space with different strategies are comparable."""
    low = baseline if baseline is not None else min(
        (c["mean"] for c in configs), key=lambda m: sign * m, default=0.0)
    return float(max_params), float(low)


def _params_for(front: list[dict], quality: float, sign: int) -> int | None:
    return min((c["params"] for c in front if sign * c["mean"] >= sign * quality), default=None)


def _quality_at(front: list[dict], params: int, sign: int) -> float | None:
    fit = [c["mean"] for c in front if c["params"] <= params]
    return (max(fit, key=lambda m: sign * m)) if fit else None


def comparison(fronts: dict[str, list[dict]], sign: int = 1) -> list[dict]:
    """At each point of one shape's frontier: what the other shape needs for the same quality,
    and what it reaches with the same parameters (quality_gain > 0: the other is better)."""
    rows = []
    for shape, other in (("conventional", "hourglass"), ("hourglass", "conventional")):
        for c in fronts.get(shape, []):
            need = _params_for(fronts.get(other, []), c["mean"], sign)
            reach = _quality_at(fronts.get(other, []), c["params"], sign)
            rows.append({"shape": shape, "config": c["label"], "params": c["params"],
                         "quality": c["mean"], "other": other, "other_params_needed": need,
                         "params_ratio": None if need is None else need / c["params"],
                         "other_quality_at_params": reach,
                         "quality_gain": None if reach is None else sign * (reach - c["mean"])})
    return rows


def scaling_table(fronts: dict[str, list[dict]], dims: list[str] = MLP_DIMS,
                  sign: int = 1, axis: str = "params") -> list[dict]:
    """For budgets along the frontiers (of ``axis``: non-embedding params, or forward FLOPs
    per sample): the best architecture of each shape within budget."""
    budgets = sorted({c[axis] for f in fronts.values() for c in f})
    rows = []
    for b in budgets:
        row: dict = {"budget": b}
        for shape, front in fronts.items():
            fit = [c for c in front if c[axis] <= b]
            best = max(fit, key=lambda c: sign * c["mean"]) if fit else None
            row[shape] = None if best is None else {
                k: best.get(k) for k in (*dims, "label", "lr", "params", "flops", "mean",
                                         "seed_scores")}
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
    sign = DIRECTIONS[metric]
    return [{"shape": r["shape"], "config": r.get("label") or
             f"{r['skip_dim']}/{r['inner_dim']}/{r['depth']}",
             "lr": float(r["lr"]), "seed": int(r["seed"]), "epochs": int(r["epochs"]),
             "value": float(r[metric])}
            for r in rows if r["status"] == "complete" and r.get(metric) not in (None, "")
            and sign * float(r[metric]) < sign * baseline
            and epochs in (None, int(r["epochs"]))]


def summarize(rows: list[dict], task: str, epochs: int, max_params: int,
              dims: list[str] = MLP_DIMS) -> dict:
    """Everything frontier.json holds; ``dims``: the family's architecture dims."""
    metric = metric_name(task)
    sign = DIRECTIONS[metric]
    configs = configurations(rows, metric, epochs, dims)
    baselines = [float(r["baseline"]) for r in rows if r.get("baseline") not in (None, "")]
    baseline = baselines[0] if baselines else None
    ref = reference_point(configs, baseline, max_params, sign)
    fronts = {s: frontier(configs, s, sign) for s in SHAPES
              if any(c["shape"] == s for c in configs)}
    by_flops = {s: frontier(configs, s, sign, "flops") for s in fronts} \
        if all(c.get("flops") is not None for c in configs) else {}
    return {
        "metric": metric, "higher_is_better": sign > 0, "dims": dims, "epochs": epochs,
        "reference_point": {"params": ref[0], "quality": ref[1],
                            "note": "the space's largest params; the do-nothing baseline"},
        "frontiers": fronts,
        # the same against forward FLOPs per sample: where compute, not size, is the budget
        "frontiers_by_flops": by_flops,
        "hypervolume": {s: hypervolume([(c["params"], sign * c["mean"]) for c in f],
                                       (ref[0], sign * ref[1]))
                        for s, f in fronts.items()},
        "comparison": comparison(fronts, sign),
        "scaling": scaling_table(fronts, dims, sign),
        "scaling_by_flops": scaling_table(by_flops, dims, sign, "flops"),
        "configurations": configs,
        "below_baseline": below_baseline(rows, metric, baseline, epochs),
        # lower rungs of a multi-fidelity search: 1-3 epochs often end there, and say little
        "below_baseline_low_rungs": len(below_baseline(rows, metric, baseline))
        - len(below_baseline(rows, metric, baseline, epochs)),
    }
