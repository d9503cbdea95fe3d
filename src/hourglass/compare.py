"""`hourglass compare`: the main job. A built-in space for both shapes, searched with
pareto-halving under a time budget, then the report."""

from __future__ import annotations

import time
from pathlib import Path

from hourglass.data import dataset_shape
from hourglass.options import COMPARE_MINUTES
from hourglass.report import write_report
from hourglass.search import SearchOptions, search
from hourglass.search.builtins import toml
from hourglass.search.space import SearchSpace, load_space, space_from_dict


def compare_space(task: str, dataset: str, data_dir: str | None) -> tuple[str, SearchSpace]:
    """digits: `quick-<task>`. Other datasets: a small space around the paper's shapes,
    scaled to the input size (the conventional skip path runs at the input size)."""
    if dataset == "digits":
        return f"quick-{task}", load_space(f"quick-{task}")
    (c, h, w), _ = dataset_shape(dataset, data_dir)
    d = c * h * w
    space = {
        "name": f"compare-{task}-{dataset.replace(':', '_').replace('/', '_')}", "task": task,
        "dataset": dataset, "epochs": 9, "batch_size": 128, "seeds": [0, 1],
        "hourglass": {"skip_dim": [d + 1, int(d * 1.5), int(d * 2.3)],
                      "inner_dim": [16, d // 7, d // 3], "depth": [2, 4, 8],
                      "lr": [5e-4, 1e-3, 3e-3]},
        "conventional": {"skip_dim": [d], "inner_dim": [d + 1, int(d * 1.9), int(d * 2.7)],
                         "depth": [1, 2, 3], "lr": [5e-4, 1e-3, 3e-3]},
    }
    return space["name"], space_from_dict(space, space["name"])


def compare(task: str = "denoise", dataset: str = "digits", out: str | Path = "runs/compare",
            budget_minutes: float = COMPARE_MINUTES, data_dir: str | None = None,
            workers: int = 1, progress: bool = True) -> dict:
    name, space = compare_space(task, dataset, data_dir)
    spec = name if dataset == "digits" else _write_space(space, Path(out))
    opts = SearchOptions(strategy="pareto-halving", time_budget_min=budget_minutes,
                         workers=workers, data_dir=data_dir, progress=progress)
    t0 = time.time()
    summary = search(spec, space, out, opts)
    write_report(out)
    summary["minutes"] = round((time.time() - t0) / 60, 2)
    return summary


def _write_space(space: SearchSpace, out: Path) -> str:
    """Worker processes re-read the space by path, so a generated one is saved as TOML."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "space.toml"
    path.write_text(toml(space.to_dict()))
    return str(path)
