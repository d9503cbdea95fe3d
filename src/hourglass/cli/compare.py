"""`hourglass compare`: the main job. A built-in space for both shapes of a model family,
searched with pareto-halving under a time budget, then the report."""

from __future__ import annotations

import time
from pathlib import Path

from hourglass.core.choices import COMPARE_MINUTES
from hourglass.core.errors import UserError
from hourglass.data import dataset_shape
from hourglass.models.family import DEFAULT_FAMILY
from hourglass.models.registry import get_family
from hourglass.report import write_report
from hourglass.search import SearchOptions, search
from hourglass.search.builtins import BUILTINS, toml
from hourglass.search.space import SearchSpace
from hourglass.search.space_file import load_space, space_from_dict
from hourglass.tasks.base import task_spec
from hourglass.tasks.build import make_task


def compare_space(task: str, dataset: str, data_dir: str | None,
                  family: str = DEFAULT_FAMILY) -> tuple[str, SearchSpace]:
    """The space `compare` searches: the family's (Family.compare_space) for the task on that
    dataset; a built-in space's name when it is one."""
    fam = get_family(family)
    fam.check_task(task)
    if fam.compare_space is None:
        raise UserError(f"the {family} family declares no compare space; write a space and "
                        "run `hourglass search`")
    image, classes = dataset_shape(dataset, data_dir)
    # a text's sizes depend on the context the space sets: its family needs none of them
    text = task_spec(task).reads_text and image is None
    shape = None if text else make_task(task, dataset, image, classes, tensors=False)
    space = fam.compare_space(task, dataset, shape)
    name = space.pop("name")
    return name, (load_space(name, data_dir) if name in BUILTINS
                  else space_from_dict(space, name, data_dir))


def compare(task: str | None = None, dataset: str | None = None,
            out: str | Path = "runs/compare",
            budget_minutes: float = COMPARE_MINUTES, data_dir: str | None = None,
            workers: int = 1, progress: bool = True, family: str = DEFAULT_FAMILY) -> dict:
    """Search both shapes of ``family`` on ``task`` (default: the family's, denoise for the
    MLP, classify for the ViT and the Mixer) and write the report into ``out``."""
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
