"""`hourglass compare`: the main job. A built-in space for both shapes of a model family,
searched with pareto-halving under a time budget, then the report."""

from __future__ import annotations

import time
from pathlib import Path

from hourglass.core.choices import COMPARE_MINUTES
from hourglass.core.errors import UserError
from hourglass.data import dataset_shape
from hourglass.models.family import get_family
from hourglass.report import write_report
from hourglass.search import SearchOptions, search
from hourglass.search.builtins import BUILTINS, toml
from hourglass.search.space import SearchSpace
from hourglass.search.space_file import load_space, space_from_dict


def compare_space(task: str, dataset: str, data_dir: str | None,
                  family: str = "mlp") -> tuple[str, SearchSpace]:
    """digits: `quick-<task>` (`quick-vit-<task>`). Other datasets: a small space around the
    paper's shapes, scaled to the input size (the conventional skip path runs at the input
    size); for the ViT, small ViTs of both shapes at patch 4; for the language model,
    `quick-lm` on the text given."""
    if family == "lm":  # quick-lm, on whichever text
        if dataset == "moby-dick":
            return "quick-lm", load_space("quick-lm")
        name = f"compare-lm-{dataset.replace(':', '_').replace('/', '_')}"
        return name, space_from_dict({**BUILTINS["quick-lm"](), "dataset": dataset}, name)
    if dataset == "digits":
        name = f"quick-{task}" if family == "mlp" else f"quick-{family}-{task}"
        if name not in BUILTINS:
            raise UserError(f"no built-in {family} space for {task} on digits; built-ins: "
                            f"{', '.join(BUILTINS)}")
        return name, load_space(name)
    image, _ = dataset_shape(dataset, data_dir)
    if image is None:
        raise UserError(f"{dataset} is a text: compare language models on it with --family lm")
    c, h, w = image
    if family == "vit":
        return _vit_space(task, dataset, (c, h, w))
    if family != "mlp":
        raise UserError(f"compare knows the mlp and vit families; for {family} write a space "
                        "and run `hourglass search`")
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


def _vit_space(task: str, dataset: str, image: tuple[int, int, int]) -> tuple[str, SearchSpace]:
    c, h, w = image
    if task == "superres":
        h, w = h // 2, w // 2
    patch = max(p for p in (1, 2, 4) if h % p == 0 and w % p == 0)
    common = {"heads": [4], "patch": [patch], "lr": [5e-4, 1e-3, 2e-3]}
    name = f"compare-vit-{task}-{dataset.replace(':', '_').replace('/', '_')}"
    space = {
        "name": name, "task": task, "dataset": dataset, "family": "vit", "epochs": 6,
        "batch_size": 128, "seeds": [0],
        "hourglass": {"skip_dim": [128, 192], "inner_dim": [32, 64], "depth": [3, 4],
                      "sub_blocks": [1, 2, 4], "attn_dim": [96], **common},
        "conventional": {"skip_dim": [64, 96, 128], "inner_dim": [256, 384, 512],
                         "depth": [3, 4], **common},
    }
    return name, space_from_dict(space, name)


def compare(task: str | None = None, dataset: str | None = None,
            out: str | Path = "runs/compare",
            budget_minutes: float = COMPARE_MINUTES, data_dir: str | None = None,
            workers: int = 1, progress: bool = True, family: str = "mlp") -> dict:
    """Search both shapes of ``family`` on ``task`` (default: the family's, denoise for the
    MLP, classify for the ViT) and write the report into ``out``."""
    task = task or get_family(family).default_task
    dataset = dataset or get_family(family).default_dataset
    name, space = compare_space(task, dataset, data_dir, family)
    spec = name if name in BUILTINS else _write_space(space, Path(out))
    opts = SearchOptions(strategy="pareto-halving", time_budget_min=budget_minutes,
                         workers=workers, data_dir=data_dir, progress=progress,
                         full_length_per_shape=True)
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
