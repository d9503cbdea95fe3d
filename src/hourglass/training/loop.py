"""A training run in its directory: config.json, checkpoints after every epoch, --resume,
and the test score from the final model (MNIST) or the best-eval checkpoint (PROTOCOL.md,
Training recipe; TrainConfig.test_checkpoint). The training itself is fit.py's.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import sys
from pathlib import Path

import torch

from hourglass.core.errors import DivergedError, UserError
from hourglass.core.files import FolderLock, write_json_atomic, write_text_atomic
from hourglass.data import ImageDataset, flip4
from hourglass.data.fingerprint import changes, fingerprint
from hourglass.models.registry import get_family
from hourglass.training import parallel
from hourglass.training.checkpoint import (
    CONFIG_FILE,
    DATA_FILE,
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
from hourglass.training.evaluate import Prepared, prepare, test_metrics
from hourglass.training.fit import Diverged, fit
from hourglass.training.machine import this_machine
from hourglass.training.samples import write_samples
from hourglass.training.state import TrainState

HISTORY_FILE = "history.csv"
SAMPLES_FILE = "samples.png"


@functools.cache
def _warn_once(message: str) -> None:  # once per process: a search trains many runs
    print(f"hourglass: warning: {message}", file=sys.stderr, flush=True)


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
    started = any((out / f).exists() for f in (TRAINER_FILE, MODEL_FILE, METRICS_FILE))
    if (out / CONFIG_FILE).exists() and not started:
        return False  # no epoch ever finished (it diverged at once, say): start afresh
    if not (out / CONFIG_FILE).exists():
        # hidden files aside: the lock, and a write a kill cut short (.NAME.PID.*.tmp)
        if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
            raise UserError(f"{out} exists and is not an empty folder or a run; choose another "
                            "--out")
        return False
    if not resume:
        raise UserError(f"{out} already holds a run; pass --resume to continue it, or choose "
                        "another --out")
    # resolved: a run stored before a setting existed reads back with that setting's default
    stored = TrainConfig.from_dict(read_json(out / CONFIG_FILE, "run config")).resolved()
    # the recipe's number alone may differ (versions that agree on every setting, the MLP's
    # 2 and 3, train the same run), and the free-form notes
    differ = [k for k, v in cfg.to_dict().items()
              if k not in ("data_dir", "recipe", "extra") and stored.to_dict()[k] != v]
    if differ:
        hint = f" (it trained on recipe {stored.recipe}: add --recipe {stored.recipe})" \
            if stored.recipe != cfg.recipe else ""
        raise UserError(f"{out} holds a run with different settings ({', '.join(differ)})"
                        f"{hint}; repeat its exact command to resume, or choose another --out")
    return True


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False, progress: bool = True,
          data: ImageDataset | None = None, device: str = "auto") -> dict:
    """Train one model into run directory ``out``; returns metrics.json's contents.

    ``device``: auto (a GPU when there is one), cpu, cuda or cuda:N. In a torchrun process
    group (``parallel.join_group``) the processes train it together with
    DistributedDataParallel; every rank returns the metrics and rank 0 writes ``out``."""
    dev = parallel.resolve_device(device)
    cfg, out = cfg.resolved(), Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the run")
    # one writer per run directory (rank 0 writes for all under torchrun)
    with FolderLock(out, "hourglass train") if parallel.is_main() else contextlib.nullcontext():
        return _train(cfg, out, resume, progress, data, dev)


def _train(cfg: TrainConfig, out: Path, resume: bool, progress: bool,
           data: ImageDataset | None, dev) -> dict:
    done = _check_existing(out, cfg, resume) and (out / METRICS_FILE).exists()
    parallel.barrier()  # every rank has looked at the run directory before rank 0 writes
    if done:
        return read_json(out / METRICS_FILE, "metrics")
    data_fingerprint = check_data(out, cfg)
    if cfg.precision == "bf16" and parallel.is_main() and parallel.slow_bf16(dev):
        _warn_once("--precision bf16: this CPU has no bfloat16 matmul units (AVX-512 BF16 or "
                   "AMX), so PyTorch runs them about 10x slower than fp32; fp32 trains faster "
                   "here")
    prep = prepare(cfg, data)
    torch.manual_seed(cfg.seed)
    model = get_family(cfg.family).build(model_config(cfg, prep.task))
    if parallel.is_main():
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / CONFIG_FILE, cfg.to_dict())
        if not (out / DATA_FILE).is_file():
            write_json_atomic(out / DATA_FILE, data_fingerprint)
    state, optim = TrainState(), {}
    if (out / TRAINER_FILE).exists():
        optim, state = load_trainer(out / TRAINER_FILE, model)
    state.ran_on(this_machine())
    parallel.same_everywhere(state.step, "the step a resumed run continues from")
    model.to(dev)
    train_split = flip4(prep.data.train) if cfg.augment == "flip4" else prep.data.train
    if len(train_split) < 2:
        raise UserError(f"{cfg.dataset}: only {len(train_split)} training images; need at "
                        "least 2")

    def checkpoint(state: TrainState, optim_state, best: bool, evaluated) -> None:
        if parallel.is_main():
            if best:  # the evaluated model: with --ema, the weight average
                save_model(out / MODEL_FILE, evaluated, prep.task, cfg.family)
            write_text_atomic(out / HISTORY_FILE, _history_csv(state.history))
            save_trainer(out / TRAINER_FILE, model, optim_state(), state)

    try:
        fit(model, prep.task, train_split, prep.data.eval, cfg, state, optim, dev,
            checkpoint, progress)
    except Diverged as e:
        raise DivergedError(_diverged_message(out, e.what, state, cfg)) from None
    return _finish_everywhere(out, cfg, prep, state)


def check_data(out: Path, cfg: TrainConfig) -> dict:
    """A run knows its data: its fingerprint goes to DATA_FILE beside config.json, and a
    resumed run whose data changed since is refused, saying what changed. Returns it."""
    now = fingerprint(cfg.dataset, cfg.data_dir)
    if (out / DATA_FILE).is_file():
        changed = changes(read_json(out / DATA_FILE, "data fingerprint"), now)
        if changed:
            raise UserError(f"{out}: {changed}; resume it on the data it started on, or train "
                            "a new run")
    return now


def _diverged_message(out: Path, what: str, state: TrainState, cfg: TrainConfig) -> str:
    kept = (f"the last good checkpoint (epoch {state.best_epoch}) is kept in "
            f"{out / MODEL_FILE}") if state.best_epoch else "no epoch finished"
    return f"training diverged: {what}; {kept}; try a lower --lr than {cfg.lr:g}"


def _finish_everywhere(out: Path, cfg: TrainConfig, prep: Prepared, state: TrainState) -> dict:
    """Rank 0 finishes the run; under torchrun the others get its metrics, or its error."""
    if not parallel.is_main():
        got = parallel.broadcast_json(None)
        if "error" in got:
            raise UserError(got["error"])
        return got["metrics"]
    try:
        metrics = finish(out, cfg, prep, state)
    except Exception as e:
        parallel.broadcast_json({"error": f"rank 0 could not finish the run: {e}"})
        raise
    return parallel.broadcast_json({"metrics": metrics})["metrics"]


def finish(out: Path, cfg: TrainConfig, prep: Prepared, state: TrainState) -> dict:
    """Test the best-eval checkpoint, write metrics.json and samples.png, drop trainer state."""
    model, _ = load_model(out / MODEL_FILE)
    best = state.history[state.best_epoch - 1]
    metric = prep.task.metric
    metrics = {**get_family(cfg.family).counts(model.cfg), **test_metrics(model, prep),
               f"eval_{metric}": best[f"eval_{metric}"], "eval_loss": best["eval_loss"],
               "best_epoch": state.best_epoch, "epochs": cfg.epochs,
               "epochs_trained": state.epoch,
               "train_seconds": round(state.train_seconds, 3), "machines": state.machines,
               "seed": cfg.seed, "shape": model.cfg.shape}
    if prep.task.image_target:
        write_samples(out / SAMPLES_FILE, model, prep.task, prep.data.test)
    write_json_atomic(out / METRICS_FILE, metrics)
    (out / TRAINER_FILE).unlink(missing_ok=True)
    return metrics
