"""Several searches' frontiers on one plot: the Hourglass block variants (--block) against the
plain Hourglass and the conventional network, each variant searched in its own directory.

`hourglass report DIR --with DIR2 DIR3 ...` writes DIR/overlay.png (quality against trainable
parameters and against FLOPs) and DIR/overlay.md (each series' frontier and its hypervolume
from one reference point: the largest parameter count of any series, the first search's
do-nothing baseline). Every search must be of the same task and dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

from hourglass.core.errors import UserError
from hourglass.core.files import write_bytes_atomic, write_text_atomic
from hourglass.report.plot import frontier_png
from hourglass.report.tables import fmt, label, metric_label, quality
from hourglass.search.pareto import hypervolume

FRONTIER_FILE = "frontier.json"


def _load(d: Path) -> dict:
    try:
        return json.loads((d / FRONTIER_FILE).read_text())
    except FileNotFoundError:
        raise UserError(f"{d} is not a search directory (no {FRONTIER_FILE})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{d / FRONTIER_FILE}: damaged ({e})") from e


def series_name(summary: dict, shape: str) -> str:
    """'hourglass hash:4', 'conventional', 'hourglass' (the plain block)."""
    block = summary["space"].get(shape, {}).get("block", "plain")
    return shape if block == "plain" else f"{shape} {block}"


def merge(dirs: list[Path]) -> dict:
    """One summary whose 'shapes' are the series of every search. A series met twice with the
    same frontier (the conventional network of each variant's search) is kept once; met with
    another frontier (two searches of one shape, an MLP's and a ViT's), each is named by its
    search, never dropped. A search with nothing to draw is listed in 'not_shown', with why."""
    first = _load(dirs[0])
    space = first["space"]
    merged = {**first, "frontiers": {}, "frontiers_by_flops": {}, "configurations": [],
              "not_shown": []}
    for d in dirs:
        s = _load(d)
        if (s["space"]["task"], s["space"]["dataset"], s["metric"]) != (
                space["task"], space["dataset"], first["metric"]):
            raise UserError(f"{d}: a search of {s['space']['task']} on "
                            f"{s['space']['dataset']}; {dirs[0]} is of {space['task']} on "
                            f"{space['dataset']}: an overlay needs the same task and data")
        if not s["frontiers"]:
            merged["not_shown"].append(f"{d}: no trial has finished at full epochs yet")
        for shape, front in s["frontiers"].items():
            name = series_name(s, shape)
            if merged["frontiers"].get(name) == front:
                continue
            if name in merged["frontiers"]:
                name = f"{name} ({s['space'].get('name') or d.name})"
            while name in merged["frontiers"]:  # the same space searched in two folders
                name = f"{name} [{d}]"
            merged["frontiers"][name] = front
            if s.get("frontiers_by_flops"):
                merged["frontiers_by_flops"][name] = s["frontiers_by_flops"][shape]
            merged["configurations"] += [{**c, "shape": name} for c in s["configurations"]
                                         if c["shape"] == shape]
    if len(merged["frontiers_by_flops"]) != len(merged["frontiers"]):
        merged["frontiers_by_flops"] = {}  # some search recorded no FLOPs: parameters only
    return merged


def overlay_markdown(merged: dict, dirs: list[Path]) -> str:
    sign = 1 if merged.get("higher_is_better", True) else -1
    base = merged["reference_point"]["quality"]
    by_flops = merged["frontiers_by_flops"]
    axes = [("params", merged["frontiers"])] + ([("flops", by_flops)] if by_flops else [])
    refs = {axis: max(c[axis] for c in merged["configurations"]) for axis, _ in axes}

    def hv(axis: str, front: list[dict]) -> str:
        return fmt(hypervolume([(c[axis], sign * c["mean"]) for c in front],
                               (refs[axis], sign * base)))

    # Hash-routed experts and AltUp add parameters or width at almost no compute: only the
    # FLOPs column ranks them on what they were built for
    lines = [f"# Frontiers of {len(dirs)} searches: {merged['space']['task']} on "
             f"{merged['space']['dataset']}", "",
             "Searches: " + ", ".join(f"`{d}`" for d in dirs), "",
             *(f"Not shown: {why}." for why in merged.get("not_shown", [])),
             "", "![overlay](overlay.png)",
             "", "| series | " + " | ".join(f"hypervolume ({a} × metric)" for a, _ in axes)
             + " |", "|---|" + "---|" * len(axes)]
    for name in merged["frontiers"]:
        lines.append(f"| {name} | " + " | ".join(hv(a, fronts[name]) for a, fronts in axes)
                     + " |")
    lines += ["", "reference point: " + ", ".join(f"{refs[a]:,} {a}" for a, _ in axes)
              + f" (the largest of any series), {quality(merged, base)} (the first search's "
              "baseline)", ""]
    for name, front in merged["frontiers"].items():
        lines += [f"## {name}", "", f"| network | params | FLOPs per sample | "
                  f"{metric_label(merged)}, mean | lr |", "|---|---|---|---|---|"]
        lines += [f"| {label(c)} | {c['params']:,} | {fmt(c.get('flops'))} | "
                  f"{quality(merged, c['mean'])} | {c['lr']:g} |" for c in front]
        lines.append("")
    return "\n".join(lines)


def write_overlay(out: Path, others: list[Path]) -> Path:
    dirs = [Path(out), *map(Path, others)]
    merged = merge(dirs)
    if not merged["frontiers"]:
        raise UserError("nothing to overlay: " + "; ".join(merged["not_shown"]))
    write_bytes_atomic(dirs[0] / "overlay.png", frontier_png(merged))
    write_text_atomic(dirs[0] / "overlay.md", overlay_markdown(merged, dirs))
    return dirs[0] / "overlay.md"
