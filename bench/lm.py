"""Language-model training throughput on Tiny Shakespeare: against the matmul peak and a plain
nanoGPT-style loop.

    python bench/lm.py [--quick | --smoke] [--data-dir DIR_WITH_tinyshakespeare]

For each configuration (both shapes at two budgets of non-embedding parameters): training
tokens/s of hourglass-mlp's own step (training/fit.py: windows cut from the in-memory ids by
lm_task.LMTask.train_batch, the family's module, AdamW with the recipe's groups), the model's
training FLOP/s and their ratio to this machine's fp32 matmul peak (measured first, same run),
and the speed-up over a plain loop run here on the same model as nanoGPT's train.py does it on
a CPU: a batch of random offsets, each window sliced out of the id array and stacked, then
forward, cross-entropy, backward and an AdamW step. "Muon step": the same step with
``--optimizer muon`` (Newton-Schulz on every hidden matrix), in time per step against AdamW's:
what Muon must save in steps to pay in wall-clock time. "bf16": the same step under
``--precision bf16`` (the forward under bfloat16 autocast), its speed-up over fp32. "int16
masks": the default recipe's dropout masks from 16-bit random integers (recipe 6,
layers/dropout.py), its step's speed-up over the same step with nn.Dropout's Bernoulli masks
(``--dropout-masks torch``, recipe 5's). The variants' steps are interleaved, one of each per
round, and each time is a median over the rounds: a busy neighbour slows them all alike.

Training FLOPs per token = 3 x the family's forward FLOPs per token (forward, and backward for
inputs and weights; attention's two matmuls at the whole context, as the count does). Norms,
rotary positions, softmax and the optimizer are not counted: time spent there lowers the
ratio.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from common import bench_args, by_mode, matmul_peak

from hourglass.data.text import TextSplit
from hourglass.models import get_family
from hourglass.tasks.text import LMTask
from hourglass.training import TrainConfig
from hourglass.training.config import model_config
from hourglass.training.feed import batch, epoch_generator
from hourglass.training.fit import make_optimizer, train_step

# (label, TrainConfig settings): the lm-char variants' budget, 3.41M non-embedding parameters
# (hourglass match --family lm --dataset tinyshakespeare --data-dir DIR --skip-dim 256
# --inner-dim 768 --depth 4 --depths 4 --skip-dims 384,512 --tolerance 0.03), the attention
# at the conventional width; then issue 33's smallest budget (0.27M: its study's networks)
CONFIGS = [("conventional 256/768/4", {"skip_dim": 256, "inner_dim": 768, "depth": 4})] + [
    (f"hourglass {z}/{h}/4 K{k} a256", {"skip_dim": z, "inner_dim": h, "depth": 4,
                                        "arch": {"sub_blocks": k, "attn_dim": 256}})
    for z, h, k in ((512, 213, 1), (384, 199, 2), (384, 99, 4))] + [
    ("conventional 64/256/4", {"skip_dim": 64, "inner_dim": 256, "depth": 4}),
    ("hourglass 70/56/4 K4 a64", {"skip_dim": 70, "inner_dim": 56, "depth": 4,
                                  "arch": {"sub_blocks": 4, "attn_dim": 64}})]
BATCH, CONTEXT = 16, 256  # the recipe's (lm_config.lm_recipe)
CPU = torch.device("cpu")


def build(settings: dict, task: LMTask, **recipe) -> tuple[torch.nn.Module, TrainConfig]:
    cfg = TrainConfig(task="lm", dataset="tinyshakespeare", family="lm", context=CONTEXT,
                      **settings, **recipe).resolved()
    torch.manual_seed(0)
    return get_family("lm").build(model_config(cfg, task)), cfg


def interleaved(steps: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    """Median seconds per step of each, after one untimed step each: one step of every
    variant per round, so a neighbour's load falls on all of them alike."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def our_step(model, cfg: TrainConfig, task: LMTask, split: TextSplit, rows: int,
             bf16: bool = False) -> Callable[[], None]:
    opt = make_optimizer(model, cfg)
    gen = epoch_generator(0, 1)
    perm = torch.randperm(len(split), generator=gen)
    at = iter(range(0, 10**9, rows))

    def step() -> None:
        s = next(at) % (len(split) - rows)
        x, y, _ = batch(task, split, None, perm[s:s + rows], gen, CPU)
        train_step(model, opt, task, x, y, False, cfg.lr, 1, bf16)

    return step


def plain_step(model, cfg: TrainConfig, ids: torch.Tensor, rows: int) -> Callable[[], None]:
    opt = make_optimizer(model, cfg)
    data = ids.long()
    model.train()

    def step() -> None:
        ix = torch.randint(len(data) - CONTEXT - 1, (rows,))
        x = torch.stack([data[i:i + CONTEXT] for i in ix.tolist()])
        y = torch.stack([data[i + 1:i + 1 + CONTEXT] for i in ix.tolist()])
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> int:
    args, corpus = bench_args(__doc__, "fewer steps: a run of a few minutes", "tinyshakespeare")
    steps = by_mode(args, 1, 2, 6)
    rows = by_mode(args, 2, BATCH, BATCH)  # smoke: one bf16 without its units affords
    task = LMTask(corpus.num_classes, CONTEXT, chars=corpus.chars)
    split = TextSplit.of(corpus.train, CONTEXT)
    size, peak = matmul_peak(args)
    tokens = rows * CONTEXT
    print(f"matmul peak ({size}^2 fp32, {torch.get_num_threads()} threads): {peak / 1e9:.0f} "
          f"GFLOP/s; Tiny Shakespeare, batch {rows} x {CONTEXT} characters; medians of {steps} "
          "rounds of one step of each variant")
    print(f"{'configuration':28s} {'params':>8s} {'tok/s':>6s} {'GFLOP/s':>8s} {'of peak':>7s} "
          f"{'plain tok/s':>11s} {'speed-up':>8s} {'Muon tok/s':>10s} {'Muon step':>9s} "
          f"{'bf16 tok/s':>10s} {'bf16 speed-up':>13s} {'int16 masks':>11s}")
    ratios = []
    for label, settings in by_mode(args, CONFIGS[:1], CONFIGS, CONFIGS):  # smoke: one
        model, cfg = build(settings, task)
        counts = get_family("lm").counts(model.cfg)
        t = interleaved({
            "ours": our_step(model, cfg, task, split, rows),
            "plain": plain_step(build(settings, task)[0], cfg, corpus.train, rows),
            "muon": our_step(build(settings, task)[0], dataclasses.replace(cfg, optimizer="muon"),
                             task, split, rows),
            "bf16": our_step(build(settings, task)[0], cfg, task, split, rows, bf16=True),
            "torch masks": our_step(build(settings, task, dropout_masks="torch")[0], cfg, task,
                                    split, rows)}, steps)
        step = t["ours"]
        rate = 3 * counts["flops_per_sample"] * tokens / step
        ratios.append(rate / peak)
        print(f"{label:28s} {counts['params']:8d} {tokens / step:6.0f} {rate / 1e9:8.1f} "
              f"{rate / peak:7.2f} {tokens / t['plain']:11.0f} {t['plain'] / step:7.2f}x "
              f"{tokens / t['muon']:10.0f} {t['muon'] / step:8.2f}x "
              f"{tokens / t['bf16']:10.0f} {step / t['bf16']:12.2f}x "
              f"{t['torch masks'] / step:10.2f}x", flush=True)
    print(f"median ratio to peak {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
