"""Evaluate a model on a split, and re-evaluate a finished run from its directory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from hourglass.core.errors import UserError
from hourglass.data import ImageDataset, Split, load_dataset
from hourglass.data.fingerprint import changes, fingerprint
from hourglass.data.text import TextCorpus, TextSplit
from hourglass.models.contract import CutsPrefix
from hourglass.tasks.base import TrainingTask
from hourglass.training.checkpoint import CONFIG_FILE, DATA_FILE, MODEL_FILE, load_model, read_json
from hourglass.training.config import TrainConfig, build_task, count_run_params

EVAL_CHUNK = 1024  # forward chunk for evaluation; BatchNorm is in eval mode, so any size works
EVAL_WINDOWS = 16  # a language model's chunk: its attention holds windows x heads x T^2 values


@dataclass
class Prepared:
    """A run's data, limited as its config says, and its task fitted to the training split."""

    cfg: TrainConfig
    data: ImageDataset
    task: TrainingTask


def prepare(cfg: TrainConfig, data: ImageDataset | TextCorpus | None = None) -> Prepared:
    """``data``: the loaded dataset (images, or a text cut here into windows of the run's
    context), or None to load the config's."""
    if data is None:
        # the model's limits from the files' headers first, as `hourglass params` checks them:
        # an absurd --image-size is refused before a pixel is decoded
        count_run_params(cfg)
        data = load_dataset(cfg.dataset, cfg.data_dir, image_size=cfg.image_size,
                            channels=cfg.channels, split_rng=cfg.split_rng)
    text = isinstance(data, TextCorpus)
    # the task first: it refuses a text for an image task, and images for lm
    task = build_task(cfg, None if text else data.image_shape, data.num_classes,
                      chars=data.chars if text else "")
    if text:
        data = ImageDataset(data.name, *(TextSplit.of(ids, cfg.context)
                                         for ids in (data.train, data.eval, data.test)),
                            data.num_classes)
    # train and eval are in a seeded random order already, so their first images are a fair
    # sample; a test split may be in class order (image folders), so it is sampled
    data = ImageDataset(data.name, data.train.take(cfg.train_limit),
                        data.eval.take(cfg.eval_limit), data.test.sample(cfg.eval_limit),
                        data.num_classes)
    task.fit(data.train)
    return Prepared(cfg, data, task)


@torch.no_grad()
def forward_all(model: nn.Module, x: torch.Tensor, lifted: bool = False) -> torch.Tensor:
    """Model outputs for every row of x (inputs, or z_0 when ``lifted``), in eval mode."""
    was_training = model.training
    model.eval()
    step = model.body if lifted else model
    rows = EVAL_CHUNK if x.is_floating_point() else EVAL_WINDOWS  # character ids: windows
    out = torch.cat([step(chunk) for chunk in x.split(rows)])
    model.train(was_training)
    return out


def forward_views(model: nn.Module, views: list[torch.Tensor],
                  lifted: bool = False) -> torch.Tensor:
    """The mean of the model's outputs over views of the same rows (the inputs, and with
    --test-flip their mirror images): one view, its outputs."""
    return torch.stack([forward_all(model, v, lifted) for v in views]).mean(0)


def eval_views(task: TrainingTask, x: torch.Tensor, test_flip: bool) -> list[torch.Tensor]:
    return [x, task.mirrored(x)] if test_flip else [x]


def evaluate_split(model: nn.Module, task: TrainingTask, split: Split, which: str,
                   test_flip: bool = False) -> dict[str, float]:
    x, y = task.split_xy(split, which)
    return task.metrics(forward_views(model, eval_views(task, x, test_flip)), y)


def test_metrics(model: nn.Module, prep: Prepared) -> dict[str, float]:
    """The test-split numbers of metrics.json, with the do-nothing-clever baseline."""
    data, task = prep.data, prep.task
    m = evaluate_split(model, task, data.test, "test", bool(prep.cfg.test_flip))
    base = task.baseline(data.train, data.test, "test")
    return task.test_numbers(m, base)


def load_run(run_dir: str | Path) -> tuple[TrainConfig, nn.Module]:
    run_dir = Path(run_dir)
    cfg = TrainConfig.from_dict(read_json(run_dir / CONFIG_FILE, "run config"))
    if not (run_dir / MODEL_FILE).is_file():
        raise UserError(f"{run_dir} has no {MODEL_FILE} yet: the run has not finished an epoch")
    model, _ = load_model(run_dir / MODEL_FILE)
    return cfg, model


def evaluate_run(run_dir: str | Path, data_dir: str | None = None, *,
                 inner_dim: int | None = None, rank: int | None = None,
                 data_changed_ok: bool = False, test_flip: bool = False) -> dict:
    """`hourglass eval`: reload the checkpoint and recompute the test metrics; a nested model
    at its first ``inner_dim`` bottleneck units, a low-rank one at ``rank``; with
    ``test_flip`` a classifier scored on each image and its mirror image (the checkpoint is
    the one its run chose, by its own eval). Data that changed since the run trained is
    refused, or with ``data_changed_ok`` scored and said so."""
    cfg, model = load_run(run_dir)
    if data_dir is not None:
        cfg.data_dir = data_dir
    if test_flip:
        cfg = dataclasses.replace(cfg, test_flip=True).resolved()
    changed = None
    if (Path(run_dir) / DATA_FILE).is_file():  # runs from before fingerprints have none
        changed = changes(read_json(Path(run_dir) / DATA_FILE, "data fingerprint"),
                          fingerprint(cfg.dataset, cfg.data_dir))
        if changed and not data_changed_ok:
            raise UserError(f"{run_dir}: {changed}; pass --data-changed-ok to score it on the "
                            "data as it is now")
    for value, kind, what in ((inner_dim, "nested", "--inner-dim"), (rank, "lowrank", "--rank")):
        if value is None:
            continue
        cuts = model.prefix_cuts() if isinstance(model, CutsPrefix) else {}
        if kind not in cuts:
            raise UserError(f"{what} cuts a --block {kind} model; {run_dir} holds one that "
                            f"takes {' or '.join(cuts) or 'no'} cuts")
        top = cuts[kind]
        if not 1 <= value <= top:
            raise UserError(f"{what} {value}: between 1 and {top}")
        model.set_keep(value)
    metrics = test_metrics(model, prepare(cfg))
    return {**metrics, **({"inner_dim": inner_dim} if inner_dim else {}),
            **({"test_flip": True} if test_flip else {}),
            **({"rank": rank} if rank else {}), **({"data_changed": changed} if changed else {})}
