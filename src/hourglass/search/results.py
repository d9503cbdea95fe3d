"""What a search writes as trials finish: trials.csv, one row per trial, and frontier.json,
the frontiers and totals the report reads (both rewritten atomically)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hourglass.core.files import write_json_atomic, write_text_atomic
from hourglass.models.registry import get_family
from hourglass.search.frontier import summarize
from hourglass.search.space import SearchSpace
from hourglass.search.store import Record, Store
from hourglass.tasks.base import task_spec

TRIALS_FILE = "trials.csv"
FRONTIER_FILE = "frontier.json"
COLUMNS = ["number", "shape", "skip_dim", "inner_dim", "depth", "lr", "seed", "epochs", "rung",
           "params", "flops_per_sample", "test_psnr", "test_psnr_per_image", "test_accuracy",
           "eval_loss", "baseline", "seconds", "machine", "status", "failure", "worker", "key"]


def columns(space: SearchSpace) -> list[str]:
    """trials.csv's columns: the MLP's as they always were; another family's dims in place of
    skip_dim, inner_dim, depth, and its embedding parameters after params."""
    dims = list(space.shapes[next(iter(space.shapes))].dims)
    cols = COLUMNS[:2] + dims + COLUMNS[5:]
    if get_family(space.family).embeddings:
        cols.insert(cols.index("params") + 1, "embedding_params")
    metric = task_spec(space.task).metric.key
    if metric not in cols:  # bits per character in place of the image metrics
        at = cols.index("test_psnr")
        cols[at:at + 3] = [metric]
    return cols


def row_of(r: Record) -> dict:
    a, m = r.unit.arch, r.attrs.get("metrics", {})
    return {"number": r.number, "shape": a.shape, **a.values, "label": a.label,
            "lr": r.unit.lr, "seed": r.seed, "epochs": r.epochs, "rung": r.attrs.get("rung", 0),
            "params": m.get("params", r.attrs.get("params")),
            "embedding_params": m.get("embedding_params"),
            "flops_per_sample": m.get("flops_per_sample"), "test_psnr": m.get("test_psnr"),
            "test_psnr_per_image": m.get("test_psnr_per_image"),
            "test_accuracy": m.get("test_accuracy"), "test_bpc": m.get("test_bpc"),
            "eval_loss": m.get("eval_loss"),
            "baseline": m.get("baseline_psnr", m.get("baseline_accuracy",
                                                     m.get("baseline_bpc"))),
            # training time over every session that trained it; the trial's wall time
            # counts only the last (a resumed or already finished run) and data loading
            "seconds": m.get("train_seconds", r.attrs.get("seconds")),
            "machine": machine_of(m.get("machines", [])), "status": r.state,
            "after_budget": bool(r.attrs.get("after_budget")),
            "failure": r.attrs.get("failure", ""),
            "worker": f"{r.attrs.get('host', '')}:{r.attrs.get('pid', '')}", "key": r.key}


def machine_of(machines: list[dict]) -> str:
    """The machines a run trained on, as trials.csv says them: 'CPU xTHREADS' in order, joined
    by ' then ' (empty for runs from before they were recorded)."""
    said: list[str] = []
    for m in machines:
        procs = m.get("processes", 1)
        text = f"{m.get('cpu', '?')} x{m.get('threads', '?')}" + (
            f" x{procs} processes" if procs != 1 else "")
        if not said or said[-1] != text:  # another PyTorch on the same CPU reads the same
            said.append(text)
    return " then ".join(said)


def result_rows(records: list[Record]) -> list[dict]:
    """One row per key: finished or failed trials, and running ones; never duplicates."""
    best: dict[str, Record] = {}
    for r in sorted(records, key=lambda r: r.number):
        if r.state in ("complete", "failed", "running"):
            best.setdefault(r.key, r)
    return [row_of(r) for r in sorted(best.values(), key=lambda r: r.number)]


def compute_used(rows: list[dict]) -> int:
    """Training compute spent: sum of epochs x trainable params over finished trials."""
    return sum(int(r["epochs"]) * int(r["params"] or 0) for r in rows
               if r["status"] in ("complete", "failed"))


def write_results(store: Store, out: Path) -> dict:
    rows = result_rows(store.records())
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(store.space), lineterminator="\n",
                            extrasaction="ignore")  # label: frontier.json's, not a column
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / TRIALS_FILE, buf.getvalue())
    space = store.space
    summary = summarize(rows, space.task, space.epochs,
                        max(space.size(a) for a in space.archs()),
                        list(space.shapes[next(iter(space.shapes))].dims))
    grid_compute = sum(space.params(a) * len(space.shapes[a.shape].lr) for a in space.archs())
    summary.update({"space": space.to_dict(), "trials": len(rows),
                    "embeddings": get_family(space.family).embeddings,
                    "finished": sum(r["status"] == "complete" for r in rows),
                    "failed": sum(r["status"] == "failed" for r in rows),
                    "compute": compute_used(rows),
                    "after_budget": [f"{r['shape']} {r['label']} lr {float(r['lr']):g}"
                                     for r in rows if r["after_budget"]],
                    "grid_compute": grid_compute * space.epochs * len(space.seeds)})
    write_json_atomic(out / FRONTIER_FILE, summary)
    return summary
