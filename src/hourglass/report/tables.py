"""The report's content as data (intro line and tables), shared by report.html and summary.md."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hourglass.core.provenance import describe
from hourglass.report.stats import Difference, gain
from hourglass.tasks.base import METRICS


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list]
    classes: list[str] | None = None  # per row: the shape, for colour in HTML
    note: str = ""
    shape: str = ""  # a one-shape table: its heading takes the shape's colour


def fmt(v, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def intro(summary: dict) -> str:
    space = summary["space"]
    return (f"{summary['finished']} trials finished, {summary['failed']} failed; "
            f"{space['epochs']} epochs at full fidelity; seeds {space['seeds']}; training "
            f"compute {summary['compute']:.3g} epoch·params "
            f"({summary['compute'] / max(1, summary['grid_compute']):.0%} of the full grid)."
            + _below_baseline_note(summary) + _after_budget_note(summary)
            + (" " + describe(summary["provenance"]) if summary.get("provenance") else ""))


def _after_budget_note(summary: dict) -> str:
    late = summary.get("after_budget") or []
    if not late:
        return ""
    return (" The time budget ended before every shape had a trial at full epochs, so "
            f"{'; '.join(late)} (the shape's best so far) trained to full length after it.")


def _latency_note(summary: dict) -> str:
    if not summary.get("latency"):
        return ""
    n = summary.get("threads", "?")
    return (f"Latency: one forward pass of the checkpoint (median; a language model's sample"
            f" is a window) on this machine with {n} thread{'' if n == 1 else 's'}, when the"
            " report was written.")


def _below_baseline_note(summary: dict) -> str:
    low = summary.get("below_baseline", [])  # absent from frontier.json written before it
    if not low:
        return ""
    by_lr = Counter(t["lr"] for t in low)
    where = ", ".join(f"{k} at lr {lr:g}" for lr, k in sorted(by_lr.items()))
    return (f" {len(low)} finished trial{'s' * (len(low) > 1)} ended below the do-nothing baseline "
            f"({summary['reference_point']['quality']:.2f}): {where}. Each is worse than "
            "returning its input (a learning rate too high for it, or too few epochs) though "
            "it did not diverge; frontier.json lists them (below_baseline).")


def _lr_edge_note(front: list[dict], grid: list[float]) -> str:
    """Say so when frontier points took an end of the learning rates they were tried at (the
    grid, and the lrs past its ends that lr-then-seeds' lr_extend tried): a wider range may
    move the frontier. With two lrs every lr is an end, so only all points at one end count."""
    def tried(c: dict) -> list[float]:  # a frontier.json written before "lrs": the grid
        return sorted(set(c.get("lrs", [])) | set(grid))

    notes = []
    for end, word in ((max, "largest"), (min, "smallest")):
        at = [c for c in front if len(tried(c)) > 1 and c["lr"] == end(tried(c))]
        if at and (any(len(tried(c)) > 2 for c in at) or len(at) == len(front)):
            lrs = ", ".join(f"{lr:g}" for lr in sorted({c["lr"] for c in at}))
            notes.append(f"{len(at)} of {len(front)} points took the {word} learning rate "
                         f"tried for them ({lrs})")
    if not notes:
        return ""
    return ("; ".join(notes) + ": a wider range may move this frontier (add values to the "
            "space's lr list, or with lr-then-seeds raise its lr_extend, and rerun the search: "
            "only the new trials train).")


def label(c: dict) -> str:
    """An architecture's label; a frontier.json written before families has none stored."""
    return c.get("label") or f"{c['skip_dim']}/{c['inner_dim']}/{c['depth']}"




def quality(summary: dict, v: float | None, difference: bool = False) -> str | None:
    """A metric value as the tables show it: accuracy in percent (a difference in points),
    bits per character to 3 decimals, PSNR to 2."""
    if v is None:
        return None
    metric = METRICS[summary["metric"]]
    if metric.percent:
        return f"{100 * v:.{metric.decimals}f}" + (" pt" if difference else "%")
    return f"{v:.{metric.decimals}f}"


def metric_label(summary: dict) -> str:
    """The metric in words, saying which way is better where it is not up."""
    name = METRICS[summary["metric"]].label
    return name if summary.get("higher_is_better", True) else f"{name} (lower is better)"


def label_heading(summary: dict) -> str:
    dims = summary.get("dims", ["skip_dim", "inner_dim", "depth"])
    return "skip/inner/depth" + ("" if len(dims) == 3 else " + other dims")


def tables(summary: dict) -> list[Table]:
    metric, fronts = summary["metric"], summary["frontiers"]
    ref = summary["reference_point"]
    out = [Table("Hypervolume", ["shape", f"hypervolume (params × {metric})"],
                 [[s, v] for s, v in summary["hypervolume"].items()],
                 note=f"reference point: {ref['params']:,.0f} params, "
                      f"{quality(summary, ref['quality'])} ({ref['note']})")]
    latency = summary.get("latency", {})
    for shape, front in fronts.items():
        out.append(Table(
            f"{shape} frontier",
            [label_heading(summary), "params", f"{metric_label(summary)}, mean", "± std", "lr",
             "seeds", "ms at batch 1", "ms at batch 128"],
            [[label(c), c["params"], quality(summary, c["mean"]),
              # one seed has no spread to show
              quality(summary, c["std"], True) if c["seeds"] > 1 else None,
              f"{c['lr']:g}", c["seeds"],
              *(latency.get(c.get("unit"), {}).get(b) for b in (1, 128))] for c in front],
            [shape] * len(front),
            note=" ".join(filter(None, [_lr_edge_note(front, summary["space"].get(shape, {})
                                                      .get("lr", [])), _latency_note(summary)])),
            shape=shape))
    if len(fronts) < 2:  # one shape searched: nothing to set it against
        return out
    comp = summary["comparison"]
    out.append(Table(
        "At equal quality, at equal parameters",
        ["frontier point", "params", "quality", "other shape", "params it needs", "ratio",
         "quality it reaches", "difference"],
        [[f"{r['shape']} {r['config']}", r["params"], quality(summary, r["quality"]),
          r["other"], r["other_params_needed"], r["params_ratio"],
          quality(summary, r["other_quality_at_params"]),
          quality(summary, r["quality_gain"], True)] for r in comp],
        [r["shape"] for r in comp]))
    shapes = list(fronts)
    out.append(Table(
        "Scaling: the best architecture per budget",
        ["budget (params)"] + [f"{s} {label_heading(summary)}" for s in shapes]
        + [f"{s} {metric}" for s in shapes],
        [[r["budget"]] + [label(r[s]) if r.get(s) else None for s in shapes]
         + [quality(summary, r[s]["mean"]) if r.get(s) else None for s in shapes]
         for r in summary["scaling"]]))
    return out + _difference_tables(summary) + _fit_tables(summary)


# the two budgets a verdict is read on: non-embedding parameters, and training compute (every
# network of a search trains on the same samples, so training FLOPs = forward FLOPs per sample
# x 3 x the same count, and rank as forward FLOPs do)
AXES = {"params": ("scaling", "non-embedding parameters"),
        "flops": ("scaling_by_flops", "training FLOPs")}


@dataclass
class Pair:
    budget: int
    hourglass: dict
    conventional: dict
    gap: Difference  # hourglass minus conventional, + where the hourglass is better

    @property
    def ahead(self) -> str:
        return "a tie" if self.gap.tie else "hourglass" if self.gap.mean > 0 else "conventional"


def pairs(summary: dict, axis: str) -> list[Pair]:
    """At each budget of ``axis``, the two shapes' best networks set against each other over
    seeds (networks with seed scores on both sides only)."""
    sign = METRICS[summary["metric"]].sign
    out = []
    for r in summary.get(AXES[axis][0]) or []:  # frontier.json before FLOPs: no FLOPs rows
        a, b = r.get("hourglass"), r.get("conventional")
        if a and b and a.get("seed_scores") and b.get("seed_scores"):
            out.append(Pair(r["budget"], a, b, gain(a, b, sign)))
    return out


def _ratio(a: dict, b: dict, key: str) -> str | None:
    return f"{a[key] / b[key]:.3f}" if a.get(key) and b.get(key) else None


def agreement(by_axis: dict[str, list[Pair]]) -> str:
    """Whether the verdict read on parameters is the one read on training FLOPs."""
    counts = {axis: Counter(p.ahead for p in found) for axis, found in by_axis.items()}
    words = {axis: ", ".join(f"{who} at {n}" for who, n in sorted(c.items()))
             for axis, c in counts.items()}
    same = len({frozenset(c.items()) for c in counts.values()}) == 1
    return (f"Ahead, by budget: on parameters {words['params']}; on training FLOPs "
            f"{words['flops']}: the two axes {'agree' if same else 'disagree'}.")


def _difference_tables(summary: dict) -> list[Table]:
    by_axis = {axis: pairs(summary, axis) for axis in AXES}
    out = []
    for axis, found in by_axis.items():
        if not found:
            continue
        other = "flops" if axis == "params" else "params"
        note = ("Paired by seed where both networks ran the same seeds (they then saw the "
                "same data order); a difference whose interval holds 0 is a tie.")
        if axis == "flops":
            note += (" Training FLOPs: forward FLOPs per sample x 3 x samples seen, the same "
                     "samples for every network of the search.")
            if by_axis["params"]:
                note += " " + agreement(by_axis)
        out.append(Table(
            f"Hourglass against conventional at each budget of {AXES[axis][1]}, over seeds",
            ["budget (" + ("params" if axis == "params" else "forward FLOPs per sample") + ")",
             f"hourglass {label_heading(summary)}", f"conventional {label_heading(summary)}",
             f"{AXES[other][1]}, hourglass / conventional",
             "difference (+: hourglass better), 95% interval", "ahead"],
            [[p.budget, label(p.hourglass), label(p.conventional),
              _ratio(p.hourglass, p.conventional, other),
              p.gap.words(lambda v: quality(summary, v, True)), p.ahead] for p in found],
            note=note))
    return out


def _fit_tables(summary: dict) -> list[Table]:
    """The scaling fits (report/scaling.py), when the report computed them."""
    fitted = summary.get("scaling_fit")
    if not fitted:
        return []
    out = []
    for axis, result in fitted["axes"].items():
        unit = "non-embedding parameters" if axis == "params" else "forward FLOPs per sample"

        def ci(f, key):
            iv = f.intervals[key]
            return None if iv is None else f"[{iv[0]:.3g}, {iv[1]:.3g}]"

        rows = [[f.shape, len(f.points), f"{f.law.e:.4g}", ci(f, "e"), f"{f.law.a:.4g}",
                 ci(f, "a"), f"{f.law.alpha:.3f}", ci(f, "alpha")] for f in result["fits"]]
        c = result["crossing"]
        note = ""
        if c is not None:
            where = "do not cross" if c.at is None else f"cross at N = {c.at:,.0f}"
            spread = "" if c.share is None else (
                f"; {100 * c.share:.0f}% of bootstrap draws cross in range"
                + (f", 95% of those between {c.interval[0]:,.0f} and {c.interval[1]:,.0f}"
                   if c.interval else ""))
            note = f"The fitted curves {where} within twice the largest budget{spread}."
        out.append(Table(
            f"Scaling fit against {unit}: {fitted['loss']} = E + A N^-alpha",
            ["shape", "budgets", "E", "95% interval", "A", "95% interval", "alpha",
             "95% interval"], rows, [f.shape for f in result["fits"]],
            note=(note + " Intervals: a bootstrap over seeds (— with one seed).").strip()))
    return out
