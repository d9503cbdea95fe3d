"""Fit one model: AdamW, learning rate decaying linearly to 0 (per epoch on MNIST, per step
elsewhere), eval every epoch, test score from the final model (MNIST) or the best-eval
checkpoint (PROTOCOL.md, Training recipe; TrainConfig's lr_schedule and test_checkpoint).

The whole split lives in memory; a batch is a slice of an index permutation, and noise is drawn
for the whole batch at once. Each epoch's permutation and noise come from a generator seeded by
(seed, epoch), so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from hourglass.data import ImageDataset, flip4
from hourglass.errors import DivergedError, UserError
from hourglass.files import write_json_atomic, write_text_atomic
from hourglass.models import ResidualMLP, count_params
from hourglass.tasks import Task, to_float
from hourglass.training import parallel
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
from hourglass.training.engine import make_engine
from hourglass.training.evaluate import Prepared, prepare, test_metrics
from hourglass.training.feed import batch, epoch_generator, steps_per_epoch, train_cache
from hourglass.training.samples import write_samples

# An epoch whose mean loss is this far above the untrained model's first-batch loss diverged:
# with a sigmoid head MSE is bounded, so a too-high lr saturates instead of giving NaN.
DIVERGENCE_FACTOR = 1.5
HISTORY_FILE = "history.csv"
SAMPLES_FILE = "samples.png"


def _history_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def learning_rate(cfg: TrainConfig, step: int, per_epoch: int) -> float:
    """The lr of optimizer step ``step`` (counted from 0) of a resolved config: linear decay to
    0 over the run, either per step or, like the authors' MNIST ``LinearLR``, per epoch (epoch
    e of E, counted from 1, trains at the constant lr * (1 - (e-1)/E))."""
    if cfg.lr_schedule == "epoch":
        return cfg.lr * (1.0 - (step // per_epoch) / cfg.epochs)
    return cfg.lr * (1.0 - step / (cfg.epochs * per_epoch))


def _check_existing(out: Path, cfg: TrainConfig, resume: bool) -> bool:
    """True when ``out`` holds this run already (to continue); errors on any other clash."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the run")
    started = any((out / f).exists() for f in (TRAINER_FILE, MODEL_FILE, METRICS_FILE))
    if (out / CONFIG_FILE).exists() and not started:
        return False  # no epoch ever finished (it diverged at once, say): start afresh
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


@dataclass
class Run:
    """One model of a jointly trained population, with its own run directory."""

    cfg: TrainConfig
    out: Path
    counters: dict = field(default_factory=lambda: {
        "epoch": 0, "step": 0, "best_epoch": 0, "best_eval_loss": math.inf,
        "train_seconds": 0.0, "history": []})
    model: ResidualMLP | None = None
    optim: dict = field(default_factory=dict)  # AdamW state read back from trainer.safetensors
    failure: DivergedError | None = None


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False, progress: bool = True,
          data: ImageDataset | None = None, engine: str = "auto", device: str = "auto") -> dict:
    """Train one model into run directory ``out``; returns metrics.json's contents.

    In a torchrun process group (``parallel.join_group``) the processes train it together
    with DistributedDataParallel; every rank returns the metrics and rank 0 writes ``out``."""
    result = train_many([cfg], [out], resume=resume, progress=progress, data=data,
                        engine=engine, device=device)[0]
    if isinstance(result, Exception):
        raise result
    return result


JOINT_FREE = ("lr", "seed", "proj_seed", "extra")  # what may differ between joint runs


def train_many(cfgs: list[TrainConfig], outs: list[str | Path], *, resume: bool = False,
               progress: bool = True, data: ImageDataset | None = None,
               engine: str = "auto", device: str = "auto") -> list[dict | DivergedError]:
    """Train K runs that differ only in learning rate and seed as one batched population.

    Each run gets what it would get alone: its own initialisation, batch order, noise and
    learning-rate schedule, its own run directory and metrics. A diverged run is returned as
    its DivergedError; the others go on. ``engine``: auto (the stack where it applies),
    stacked, or plain (ResidualMLP with autograd, one run at a time). ``device``: auto (a GPU
    when there is one), cpu, cuda or cuda:N."""
    dev = parallel.resolve_device(device)
    if parallel.world()[1] > 1:
        if len(cfgs) > 1:
            raise UserError("under torchrun train one model at a time; populations run in "
                            "one process")
        if engine == "stacked":
            raise UserError("--engine stacked runs in one process; under torchrun use "
                            "--engine auto or plain (DistributedDataParallel)")
        engine = "plain"
    cfgs = [c.resolved() for c in cfgs]
    base = {k: v for k, v in cfgs[0].to_dict().items() if k not in JOINT_FREE}
    for c in cfgs[1:]:
        if {k: v for k, v in c.to_dict().items() if k not in JOINT_FREE} != base:
            raise ValueError("joint runs may differ only in " + ", ".join(JOINT_FREE))
    runs = [Run(c, Path(o)) for c, o in zip(cfgs, outs, strict=True)]
    results: dict[int, dict | DivergedError] = {}
    for i, run in enumerate(runs):
        if _check_existing(run.out, run.cfg, resume) and (run.out / METRICS_FILE).exists():
            results[i] = read_json(run.out / METRICS_FILE, "metrics")
    parallel.barrier()  # every rank has looked at the run directories before rank 0 writes
    todo = [r for i, r in enumerate(runs) if i not in results]
    if todo:
        prep = prepare(cfgs[0], data)
        for run in todo:
            _start(run, prep, dev)
        split = len({r.counters["epoch"] for r in todo}) > 1  # a kill split the population
        if split or engine == "plain":
            trained = [_fit([r], prep, progress, engine, dev)[0] for r in todo]
        else:
            trained = _fit(todo, prep, progress, engine, dev)
        it = iter(trained)
        for i in range(len(runs)):
            if i not in results:
                results[i] = next(it)
    return [results[i] for i in range(len(runs))]


def _start(run: Run, prep: Prepared, device: torch.device) -> None:
    """The run's initial model (or its state after the last finished epoch, on resume)."""
    torch.manual_seed(run.cfg.seed)
    run.model = ResidualMLP(model_config(run.cfg, prep.task))
    if parallel.is_main():
        run.out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run.out / CONFIG_FILE, run.cfg.to_dict())
    if (run.out / TRAINER_FILE).exists():
        run.optim, run.counters = load_trainer(run.out / TRAINER_FILE, run.model)
    parallel.same_everywhere(run.counters["step"], "the step a resumed run continues from")
    run.model.to(device)


def _fit(runs: list[Run], prep: Prepared, progress: bool, engine_name: str,
         device: torch.device) -> list[dict | DivergedError]:
    cfg, task = runs[0].cfg, prep.task
    engine = make_engine(engine_name, [r.model for r in runs], task, cfg.weight_decay)
    for k, run in enumerate(runs):
        engine.load_optimizer_state(k, run.optim)
    train_split = flip4(prep.data.train) if cfg.augment == "flip4" else prep.data.train
    n = len(train_split)
    if n < 2:
        raise UserError(f"{cfg.dataset}: only {n} training images; need at least 2")
    per_epoch = steps_per_epoch(n, cfg.batch_size)
    total_steps = cfg.epochs * per_epoch
    seeds = [r.cfg.seed for r in runs]
    one_stream = len(set(seeds)) == 1  # same batches and noise for all: draw them once
    cache = train_cache(task, engine, train_split, device)
    x_eval = task.split_inputs(prep.data.eval, "eval").to(device)  # eval noise: fixed by seed
    y_eval = task.targets(to_float(prep.data.eval.images), prep.data.eval.labels).to(device)
    eval_lifted = engine.shared_lift
    if eval_lifted:
        x_eval = engine.lift(x_eval)
    metric = "psnr" if task.image_target else "accuracy"
    start = runs[0].counters["step"]
    bar = tqdm(total=total_steps * len(runs), initial=start * len(runs), unit="step",
               disable=not (progress and parallel.is_main()), dynamic_ncols=True, mininterval=0.5,
               desc=f"{cfg.task}/{cfg.dataset}" + (f" x{len(runs)}" if len(runs) > 1 else ""))
    try:
        for epoch in range(runs[0].counters["epoch"] + 1, cfg.epochs + 1):
            t0 = time.perf_counter()
            gens = [epoch_generator(s, epoch) for s in (seeds[:1] if one_stream else seeds)]
            perms = torch.stack([torch.randperm(n, generator=g) for g in gens])
            loss_sum = torch.zeros(len(runs), dtype=torch.float64)
            for s in range(per_epoch):
                idx = perms[:, s * cfg.batch_size:(s + 1) * cfg.batch_size]
                x, y, lifted = batch(task, train_split, cache, idx, gens, device)
                step = runs[0].counters["step"]
                lrs = [learning_rate(r.cfg, step, per_epoch) for r in runs]
                losses = engine.step(x, y, lifted, lrs).double().cpu()
                loss_sum += losses
                for k, run in enumerate(runs):
                    run.counters.setdefault("first_loss", float(losses[k]))
                    run.counters["step"] += 1
                    if run.failure is None and not math.isfinite(float(losses[k])):
                        run.failure = DivergedError(_diverged_message(
                            run.out, epoch, s, float(losses[k]), run.counters, run.cfg))
                bar.update(len(runs))
                if all(r.failure for r in runs):
                    break
            preds = engine.predict(x_eval, eval_lifted)
            seconds = (time.perf_counter() - t0) / len(runs)
            engine.sync()
            for k, run in enumerate(runs):
                if run.failure is None:
                    _end_epoch(run, task, epoch, float(loss_sum[k]) / per_epoch,
                               task.metrics(preds[k], y_eval), seconds,
                               engine.optimizer_state(k), lrs[k], metric)
            if all(r.failure for r in runs):
                break
            last = runs[0].counters["history"][-1] if runs[0].failure is None else None
            bar.set_postfix_str(f"epoch {epoch}/{cfg.epochs}" + (
                f" loss {last['train_loss']:.4g} eval {metric} {last[f'eval_{metric}']:.4g}"
                if len(runs) == 1 and last else ""))
    finally:
        bar.close()
    return [run.failure or _finish_everywhere(run, prep) for run in runs]


def _end_epoch(run: Run, task: Task, epoch: int, train_loss: float, ev: dict,
               seconds: float, optim: dict, lr: float, metric: str) -> None:
    c = run.counters
    if train_loss > DIVERGENCE_FACTOR * c["first_loss"]:
        run.failure = DivergedError(_diverged_message(
            run.out, epoch, 0, train_loss, c, run.cfg,
            f"mean loss {train_loss:.4g} rose above {DIVERGENCE_FACTOR}x the "
            f"untrained model's {c['first_loss']:.4g}"))
        return
    c["train_seconds"] += seconds
    row = {"epoch": epoch, "train_loss": train_loss, "eval_loss": ev["loss"],
           f"eval_{metric}": ev[metric], "lr": lr, "seconds": round(c["train_seconds"], 3)}
    c["history"].append(row)
    # "last": the checkpoint tested is the final model, so every epoch replaces it
    best = ev["loss"] < c["best_eval_loss"] or run.cfg.test_checkpoint == "last"
    if best:
        c["best_eval_loss"], c["best_epoch"] = ev["loss"], epoch
    c["epoch"] = epoch
    if parallel.is_main():
        if best:
            save_model(run.out / MODEL_FILE, run.model, task)
        write_text_atomic(run.out / HISTORY_FILE, _history_csv(c["history"]))
        save_trainer(run.out / TRAINER_FILE, run.model, optim, c)


def _diverged_message(out: Path, epoch: int, step: int, value: float, counters: dict,
                      cfg: TrainConfig, what: str | None = None) -> str:
    kept = (f"the last good checkpoint (epoch {counters['best_epoch']}) is kept in "
            f"{out / MODEL_FILE}") if counters["best_epoch"] else "no epoch finished"
    what = what or f"loss {value} at epoch {epoch}, step {step + 1}"
    return f"training diverged: {what}; {kept}; try a lower --lr than {cfg.lr:g}"


def _finish_everywhere(run: Run, prep: Prepared) -> dict:
    """Rank 0 finishes the run; under torchrun the others get its metrics, or its error."""
    if not parallel.is_main():
        got = parallel.broadcast_json(None)
        if "error" in got:
            raise UserError(got["error"])
        return got["metrics"]
    try:
        metrics = finish(run.out, run.cfg, prep, run.counters)
    except Exception as e:
        parallel.broadcast_json({"error": f"rank 0 could not finish the run: {e}"})
        raise
    return parallel.broadcast_json({"metrics": metrics})["metrics"]


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
