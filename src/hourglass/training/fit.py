"""Fit one model: the training step in one place, and nothing about files.

AdamW (PyTorch's default implementation), learning rate decaying linearly to 0 (per epoch on
MNIST, per step elsewhere: TrainConfig.lr_schedule), eval every epoch. ``fit`` knows nothing
of run directories: after each epoch it hands ``on_epoch`` what a checkpoint needs, and a run
resumed from one draws exactly what an uninterrupted run would (training/loop.py does the
files). Every model family trains here; under torchrun the model is wrapped in
DistributedDataParallel and each process takes its rows of every batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from hourglass.data import Split
from hourglass.models.contract import CachesInputs, ListsHiddenMatrices, ListsNoDecay
from hourglass.models.layers.sync_norm import sync_batchnorm
from hourglass.tasks.base import TrainingTask
from hourglass.training import parallel
from hourglass.training.config import TrainConfig
from hourglass.training.ema import WeightAverage, split_state
from hourglass.training.evaluate import eval_views, forward_views
from hourglass.training.feed import batch, epoch_generator, steps_per_epoch, train_cache
from hourglass.training.muon import MuonAdamW
from hourglass.training.state import TrainState

# An epoch whose mean loss is this far above the untrained model's first-batch loss diverged:
# with a sigmoid head MSE is bounded, so a too-high lr saturates instead of giving NaN.
DIVERGENCE_FACTOR = 1.5
COSINE_FLOOR = 0.1  # the cosine schedule ends at lr / 10 (nanoGPT's min_lr)


class Diverged(Exception):
    """Training went non-finite or blew up; ``what`` says how (the run layer adds where)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def learning_rate(cfg: TrainConfig, step: int, per_epoch: int) -> float:
    """The lr of optimizer step ``step`` (counted from 0) of a resolved config: linear decay to
    0 over the run, either per step or, like the authors' MNIST ``LinearLR``, per epoch (epoch
    e of E, counted from 1, trains at the constant lr * (1 - (e-1)/E)); or (``cosine``, the
    language model's, as nanoGPT) a linear warm-up over ``warmup`` steps, then a cosine from
    lr down to lr / 10 at the last step."""
    total = cfg.epochs * per_epoch
    if cfg.lr_schedule == "epoch":
        return cfg.lr * (1.0 - (step // per_epoch) / cfg.epochs)
    if cfg.lr_schedule == "cosine":
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        done = (step - cfg.warmup) / max(1, total - 1 - cfg.warmup)
        return cfg.lr * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * done)))
    return cfg.lr * (1.0 - step / total)


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """AdamW's per-parameter state as {"<param index>.<name>": tensor}, for safetensors."""
    return {f"{i}.{name}": torch.as_tensor(v).detach().clone()
            for i, st in optimizer.state_dict()["state"].items() for name, v in st.items()}


def load_optimizer_state(optimizer: torch.optim.Optimizer,
                         tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = value
    groups = optimizer.state_dict()["param_groups"]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def frozen_lift(model: torch.nn.Module) -> bool:
    """Whether the model's first layer is frozen (a fixed W_in): its output for a fixed input
    never changes, so inputs that do not change between epochs are lifted once."""
    return isinstance(model, CachesInputs) and bool(model.lift_is_frozen)


def param_groups(model: torch.nn.Module, weight_decay: float, decay: str = "all") -> list[dict]:
    """AdamW's groups: with ``decay`` "all" every trainable parameter decays; with "matrices"
    every one except those the model lists in ``no_decay()`` (norm gains, biases, positions:
    nanoGPT, Megatron and timm leave them undecayed)."""
    undecayed = (model.no_decay() if isinstance(model, ListsNoDecay)
                 else [p for p in model.parameters() if p.ndim < 2])  # without a list: vectors
    keep = {id(p) for p in undecayed} if decay == "matrices" else set()
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if id(p) not in keep],
               "weight_decay": weight_decay}]
    if keep:
        groups.append({"params": [p for p in params if id(p) in keep], "weight_decay": 0.0})
    return groups


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The run's AdamW (PyTorch's implementation), its groups and betas from the recipe; with
    ``optimizer`` muon, Muon on the model's hidden matrices (training/muon.py)."""
    groups = param_groups(model, cfg.weight_decay, cfg.decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, betas=(0.9, cfg.adam_beta2))
    assert isinstance(model, ListsHiddenMatrices)  # TrainConfig.resolved refused the others
    hidden = {id(p) for p in model.hidden_matrices()}
    # decay scaled so that each step shrinks a matrix as much as under AdamW (lr x decay):
    # the recipe's weight decay means the same under either optimizer
    muon = [{"params": [p for p in g["params"] if id(p) in hidden],
             "weight_decay": g["weight_decay"] * cfg.lr / cfg.muon_lr, "muon": True,
             "lr_scale": cfg.muon_lr / cfg.lr} for g in groups]
    rest = [{**g, "params": [p for p in g["params"] if id(p) not in hidden]} for g in groups]
    return MuonAdamW([g for g in muon + rest if g["params"]], betas=(0.9, cfg.adam_beta2))


# (state, the optimizer's (and average's) tensors, whether this epoch's model is the one to
# test, that model: the trained one, or its weight average)
OnEpoch = Callable[[TrainState, Callable[[], dict[str, torch.Tensor]], bool, torch.nn.Module],
                   None]


def fit(model: torch.nn.Module, task: TrainingTask, train_split: Split, eval_split: Split,
        cfg: TrainConfig, state: TrainState, optim: dict[str, torch.Tensor],
        device: torch.device, on_epoch: OnEpoch, progress: bool = False) -> None:
    """Train ``model`` from where ``state`` says (a fresh run: ``TrainState()``) to the
    end of ``cfg``'s epochs, or until ``cfg.patience`` epochs pass without a lower eval loss.
    After each epoch ``on_epoch(state, optimizer_state, best, evaluated)`` is called, ``best``
    telling whether this epoch's model is the one to test (the lowest eval loss, or with
    test_checkpoint "last" every epoch), ``evaluated`` the model the eval scored (with --ema,
    the weight average). Raises Diverged."""
    net = model
    world = parallel.world()[1]
    if world > 1:
        sync_batchnorm(model)
        # running statistics stay equal on every rank: no buffer broadcast at each step
        net = DistributedDataParallel(model, forward_sync_buffers=False)
    optimizer = make_optimizer(model, cfg)
    optim, averaged = split_state(optim)
    load_optimizer_state(optimizer, optim)
    average = WeightAverage(model, cfg.ema) if cfg.ema else None
    if average is not None:
        average.load(averaged)
    evaluated = model if average is None else average.model
    n = len(train_split)
    per_epoch = steps_per_epoch(n, cfg.batch_size)
    lifts = frozen_lift(model)
    cache = train_cache(task, train_split, device, model if lifts else None, cfg.augment)
    x_eval, y_eval = (t.to(device) for t in task.split_xy(eval_split, "eval"))  # fixed noise
    views = eval_views(task, x_eval, bool(cfg.test_flip))
    if lifts:
        with torch.no_grad():
            views = [model.lift(v) for v in views]
    metric = task.metric
    bar = tqdm(total=cfg.epochs * per_epoch, initial=state.step, unit="step",
               disable=not (progress and parallel.is_main()), dynamic_ncols=True,
               mininterval=0.5, desc=f"{cfg.task}/{cfg.dataset}")
    try:
        for epoch in range(state.epoch + 1, cfg.epochs + 1):
            if cfg.patience and state.epoch - state.best_epoch >= cfg.patience:
                break  # the eval loss stopped falling; the best epoch's model is tested
            t0 = time.perf_counter()
            gen = epoch_generator(cfg.seed, epoch)
            # dropout draws from PyTorch's global generator: seeded per epoch too (from a copy
            # of this epoch's generator), so a run resumed at an epoch draws the masks an
            # uninterrupted one would
            torch.manual_seed(int(torch.randint(2**62, (1,),
                                                generator=epoch_generator(cfg.seed, epoch))))
            perm = torch.randperm(n, generator=gen)
            loss_sum = 0.0
            for s in range(per_epoch):
                x, y, lifted = batch(task, train_split, cache,
                                     perm[s * cfg.batch_size:(s + 1) * cfg.batch_size], gen,
                                     device, cfg.augment)
                lr = learning_rate(cfg, state.step, per_epoch)
                loss = train_step(net, optimizer, task, x, y, lifted, lr, world,
                                  cfg.precision == "bf16")
                if average is not None:
                    average.update(model, state.step)
                loss_sum += loss
                if state.first_loss is None:
                    state.first_loss = loss
                state.step += 1
                if not math.isfinite(loss):
                    raise Diverged(f"loss {loss} at epoch {epoch}, step {s + 1}")
                bar.update(1)
            ev = task.metrics(forward_views(evaluated, views, lifts), y_eval)
            train_loss = loss_sum / per_epoch
            if train_loss > DIVERGENCE_FACTOR * state.first_loss:
                raise Diverged(f"mean loss {train_loss:.4g} rose above {DIVERGENCE_FACTOR}x the "
                               f"untrained model's {state.first_loss:.4g}")
            state.train_seconds += time.perf_counter() - t0
            state.history.append({
                "epoch": epoch, "train_loss": train_loss, "eval_loss": ev["loss"],
                f"eval_{metric}": ev[metric], "lr": lr,
                "seconds": round(state.train_seconds, 3)})
            best = ev["loss"] < state.best_eval_loss or cfg.test_checkpoint == "last"
            if best:
                state.best_eval_loss, state.best_epoch = ev["loss"], epoch
            state.epoch = epoch
            on_epoch(state, lambda: {**optimizer_state(optimizer),
                                     **(average.state() if average else {})}, best, evaluated)
            bar.set_postfix_str(f"epoch {epoch}/{cfg.epochs} loss {train_loss:.4g} "
                                f"eval {metric} {ev[metric]:.4g}")
    finally:
        bar.close()


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, task: TrainingTask,
               x: torch.Tensor, y: torch.Tensor, lifted: bool, lr: float, world: int,
               bf16: bool = False) -> float:
    """One optimizer step on batch (x, y); under torchrun on this process's rows of it; with
    ``bf16`` the forward under bfloat16 autocast (the loss in fp32). Returns the loss of the
    whole batch."""
    net.train()
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
    total = len(y)
    x, y = parallel.shard(x), parallel.shard(y)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = net(x, lifted=True) if lifted else net(x)
    out = out.float()
    loss = task.loss(out, y) if len(y) else out.sum()  # a rank may get no rows
    share = len(y) / total
    optimizer.zero_grad(set_to_none=True)
    # DDP averages gradients over ranks; weighting each by its share of the batch makes that
    # average the gradient of the global batch's mean loss
    (loss * (share * world)).backward()
    optimizer.step()
    return float(parallel.all_sum(loss.detach() * share).double())
