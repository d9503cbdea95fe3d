"""Fit one model: AdamW, learning rate decaying linearly to 0, eval every epoch, test score
from the best-eval checkpoint (PROTOCOL.md, Training recipe).

The whole split lives in memory; a batch is a slice of an index permutation, and noise is drawn
for the whole batch at once. Each epoch's permutation and noise come from a generator seeded by
(seed, epoch), so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from hourglass.data import ImageDataset, Split, flip4
from hourglass.errors import DivergedError, UserError
from hourglass.files import write_json_atomic, write_text_atomic
from hourglass.models import ResidualMLP, count_params
from hourglass.tasks import Task, to_float
from hourglass.training.checkpoint import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TRAINER_FILE,
    load_model,
    load_trainer,
    read_json,
    save_model,
    save_trainer,
)
from hourglass.training.config import TrainConfig, model_config
from hourglass.training.evaluate import Prepared, forward_all, prepare, test_metrics
from hourglass.training.samples import write_samples

CACHE_BYTES = 4 << 30
# An epoch whose mean loss is this far above the untrained model's first-batch loss diverged:
# with a sigmoid head MSE is bounded, so a too-high lr saturates instead of giving NaN.
DIVERGENCE_FACTOR = 1.5  # precompute whole-split inputs (and z_0) only below this size
HISTORY_FILE = "history.csv"
SAMPLES_FILE = "samples.png"


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def steps_per_epoch(n: int, batch_size: int) -> int:
    # A last batch of one sample is dropped: BatchNorm cannot normalise a single row.
    return n // batch_size + (1 if n % batch_size > 1 else 0)


class Feed:
    """Batches of (model input, target) from uint8 images. ``inputs``, when given, are the
    whole split's inputs computed once (they do not change between epochs); with a fixed W_in
    they are lifted to z_0 once too, and the model then runs from z_0 (``lifted``)."""

    def __init__(self, task: Task, model: ResidualMLP, split: Split,
                 inputs: torch.Tensor | None) -> None:
        self.task, self.split, self.x, self.lifted = task, split, inputs, False
        if inputs is not None and model.cfg.input_proj == "fixed":
            with torch.no_grad():
                self.x = torch.cat([model.lift(c) for c in inputs.split(4096)])
            self.lifted = True

    def batch(self, idx: torch.Tensor | None = None, generator: torch.Generator | None = None):
        images = self.split.images if idx is None else self.split.images[idx]
        labels = self.split.labels if idx is None else self.split.labels[idx]
        xf = to_float(images)
        target = self.task.targets(xf, labels)
        if self.x is not None:
            return (self.x if idx is None else self.x[idx]), target
        return self.task.train_inputs(xf, generator), target


def train_feed(task: Task, model: ResidualMLP, split: Split) -> Feed:
    n, width = len(split), task.in_dim + model.cfg.skip_dim
    cache = task.static_inputs and n * width * 4 <= CACHE_BYTES
    return Feed(task, model, split, task.inputs(to_float(split.images)) if cache else None)


def _history_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _check_existing(out: Path, cfg: TrainConfig, resume: bool) -> bool:
    """True when ``out`` holds this run already (to continue); errors on any other clash."""
    if not (out / CONFIG_FILE).exists():
        if out.exists() and any(out.iterdir()):
            raise UserError(f"{out} exists and is not an empty folder or a run; choose another "
                            "--out")
        return False
    if not resume:
        raise UserError(f"{out} already holds a run; pass --resume to continue it, or choose "
                        "another --out")
    stored = TrainConfig.from_dict(read_json(out / CONFIG_FILE, "run config"))
    differ = [k for k, v in cfg.to_dict().items() if k != "data_dir" and stored.to_dict()[k] != v]
    if differ:
        raise UserError(f"{out} holds a run with different settings ({', '.join(differ)}); "
                        "repeat its exact command to resume, or choose another --out")
    return True


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False, progress: bool = True,
          data: ImageDataset | None = None) -> dict:
    """Train one model into run directory ``out``; returns metrics.json's contents."""
    cfg = cfg.resolved()
    out = Path(out)
    continuing = _check_existing(out, cfg, resume)
    if continuing and (out / METRICS_FILE).exists():
        return read_json(out / METRICS_FILE, "metrics")
    prep = prepare(cfg, data)
    torch.manual_seed(cfg.seed)
    model = ResidualMLP(model_config(cfg, prep.task))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=cfg.lr, weight_decay=cfg.weight_decay)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / CONFIG_FILE, cfg.to_dict())

    counters: dict = {"epoch": 0, "step": 0, "best_epoch": 0, "best_eval_loss": math.inf,
                "train_seconds": 0.0, "history": []}
    if continuing and (out / TRAINER_FILE).exists():
        counters = load_trainer(out / TRAINER_FILE, model, optimizer)

    train_split = flip4(prep.data.train) if cfg.augment == "flip4" else prep.data.train
    n = len(train_split)
    if n < 2:
        raise UserError(f"{cfg.dataset}: only {n} training images; need at least 2")
    per_epoch = steps_per_epoch(n, cfg.batch_size)
    total_steps = cfg.epochs * per_epoch
    feed = train_feed(prep.task, model, train_split)
    eval_inputs = prep.task.split_inputs(prep.data.eval, "eval")  # eval noise is fixed by seed
    eval_feed = Feed(prep.task, model, prep.data.eval, eval_inputs)
    metric = "psnr" if prep.task.image_target else "accuracy"

    bar = tqdm(total=total_steps, initial=counters["step"], disable=not progress, unit="step",
               dynamic_ncols=True, mininterval=0.5, desc=f"{cfg.task}/{cfg.dataset}")
    try:
        for epoch in range(counters["epoch"] + 1, cfg.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            g = epoch_generator(cfg.seed, epoch)
            perm = torch.randperm(n, generator=g)
            loss_sum = 0.0
            for s in range(per_epoch):
                idx = perm[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                x, y = feed.batch(idx, g)
                for group in optimizer.param_groups:
                    group["lr"] = cfg.lr * (1.0 - counters["step"] / total_steps)
                pred = model.body(x) if feed.lifted else model(x)
                loss = prep.task.loss(pred, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                value = loss.item()
                if not math.isfinite(value):
                    raise DivergedError(_diverged_message(out, epoch, s, value, counters, cfg))
                loss_sum += value
                counters.setdefault("first_loss", value)
                counters["step"] += 1
                bar.update(1)
            if loss_sum / per_epoch > DIVERGENCE_FACTOR * counters["first_loss"]:
                raise DivergedError(_diverged_message(
                    out, epoch, per_epoch - 1, loss_sum / per_epoch, counters, cfg,
                    f"mean loss {loss_sum / per_epoch:.4g} rose above {DIVERGENCE_FACTOR}x the "
                    f"untrained model's {counters['first_loss']:.4g}"))
            x_eval, y_eval = eval_feed.batch()
            ev = prep.task.metrics(forward_all(model, x_eval, eval_feed.lifted), y_eval)
            counters["train_seconds"] += time.perf_counter() - t0
            row = {"epoch": epoch, "train_loss": loss_sum / per_epoch, "eval_loss": ev["loss"],
                   f"eval_{metric}": ev[metric], "lr": optimizer.param_groups[0]["lr"],
                   "seconds": round(counters["train_seconds"], 3)}
            counters["history"].append(row)
            if ev["loss"] < counters["best_eval_loss"]:
                counters["best_eval_loss"], counters["best_epoch"] = ev["loss"], epoch
                save_model(out / MODEL_FILE, model, prep.task)
            counters["epoch"] = epoch
            write_text_atomic(out / HISTORY_FILE, _history_csv(counters["history"]))
            save_trainer(out / TRAINER_FILE, model, optimizer, counters)
            bar.set_postfix_str(f"epoch {epoch}/{cfg.epochs} loss {row['train_loss']:.4g} "
                                f"eval {metric} {ev[metric]:.4g}")
    finally:
        bar.close()
    return finish(out, cfg, prep, counters)


def _diverged_message(out: Path, epoch: int, step: int, value: float, counters: dict,
                      cfg: TrainConfig, what: str | None = None) -> str:
    kept = (f"the last good checkpoint (epoch {counters['best_epoch']}) is kept in "
            f"{out / MODEL_FILE}") if counters["best_epoch"] else "no epoch finished"
    what = what or f"loss {value} at epoch {epoch}, step {step + 1}"
    return f"training diverged: {what}; {kept}; try a lower --lr than {cfg.lr:g}"


def finish(out: Path, cfg: TrainConfig, prep: Prepared, counters: dict) -> dict:
    """Test the best-eval checkpoint, write metrics.json and samples.png, drop trainer state."""
    model, _ = load_model(out / MODEL_FILE)
    best = counters["history"][counters["best_epoch"] - 1]
    metric = "psnr" if prep.task.image_target else "accuracy"
    metrics = {**count_params(model.cfg), **test_metrics(model, prep),
               f"eval_{metric}": best[f"eval_{metric}"], "eval_loss": best["eval_loss"],
               "best_epoch": counters["best_epoch"], "epochs": cfg.epochs,
               "train_seconds": round(counters["train_seconds"], 3), "seed": cfg.seed,
               "shape": model.cfg.shape}
    if prep.task.image_target:
        write_samples(out / SAMPLES_FILE, model, prep.task, prep.data.test)
    write_json_atomic(out / METRICS_FILE, metrics)
    (out / TRAINER_FILE).unlink(missing_ok=True)
    return metrics
