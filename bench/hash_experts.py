"""Hash-routed experts: training cost per sample against one expert's, in one run.

    python bench/hash_experts.py [--quick | --smoke] [--data-dir ../shared/data]

MNIST denoising, batch 128 and 1024, the paper's Hourglass 785/115/4 (learned W_in). For E in 2..16
experts (``--block hash:E``: E times the block parameters, each sample routed to one expert by
a fixed hash of its normalised residual), the seconds per training step of hourglass-mlp's own
step (training/fit.py) and of its forward and backward alone, and their ratios to the same
network with the plain block: one expert. A forward-and-backward ratio near 1 means compute
per sample stays at one expert's as parameters grow E-fold; what it costs above 1 is the
routing (the hash projections, sorting the batch by expert) and the smaller matmuls (about
128 / E rows each). The whole step adds AdamW's update, whose cost grows with the parameters
(every expert's), not with the samples. Steps alternate between the configurations in
rounds, so a busy machine slows each alike; the median round is reported.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
from common import bench_args, by_mode

from hourglass.models import get_family
from hourglass.tasks.image import Task
from hourglass.training import TrainConfig
from hourglass.training.config import model_config
from hourglass.training.feed import batch, epoch_generator
from hourglass.training.fit import make_optimizer, train_step

BLOCKS = ["plain", "hash:2", "hash:4", "hash:8", "hash:16"]
BATCHES = (128, 1024)  # the paper's batch, and one where each of 16 experts gets 64 rows
CPU = torch.device("cpu")


def stepper(block: str, task: Task, split, size: int):
    """A function running one training step of the network with ``block``."""
    cfg = TrainConfig(task="denoise", dataset="mnist", skip_dim=785, inner_dim=115, depth=4,
                      block=block).resolved()
    torch.manual_seed(0)
    model = get_family("mlp").build(model_config(cfg, task))
    opt = make_optimizer(model, cfg)
    gen = epoch_generator(0, 1)
    perm = torch.randperm(len(split), generator=gen)
    at = iter(range(0, 10**9, size))

    def step(optimize: bool = True) -> None:
        s = next(at) % (len(split) - size)
        x, y, _ = batch(task, split, None, perm[s:s + size], gen, CPU)
        if optimize:
            train_step(model, opt, task, x, y, False, 1e-3, 1)
        else:  # the per-sample compute alone: forward and backward
            model.zero_grad(set_to_none=True)
            task.loss(model(x), y).backward()

    return model, step


def main() -> int:
    args, data = bench_args(__doc__, "fewer rounds: under a minute")
    rounds, per_round = by_mode(args, (1, 1), (3, 3), (9, 5))
    task = Task("denoise", data.image_shape, data.num_classes)
    print(f"MNIST denoise, hourglass 785/115/4, {torch.get_num_threads()} threads; median of "
          f"{rounds} rounds of {per_round} steps")
    print(f"{'batch':>5s} {'block':8s} {'params':>9s} {'fwd+bwd ms':>10s} {'vs one expert':>13s}"
          f" {'step ms':>8s} {'vs one expert':>13s}")
    for size in BATCHES:
        runs = {b: stepper(b, task, data.train, size) for b in BLOCKS}
        for _, step in runs.values():
            step()  # warm-up
        times = {(b, o): [] for b in BLOCKS for o in (False, True)}
        for _ in range(rounds):
            for (b, optimize), spent in times.items():
                t0 = time.perf_counter()
                for _ in range(per_round):
                    runs[b][1](optimize)
                spent.append((time.perf_counter() - t0) / per_round)
        one = {o: statistics.median(times["plain", o]) for o in (False, True)}
        for b, (model, _) in runs.items():
            t = {o: statistics.median(times[b, o]) for o in (False, True)}
            params = sum(p.numel() for p in model.parameters() if p.requires_grad)
            print(f"{size:5d} {b:8s} {params:9d} {1000 * t[False]:10.1f} "
                  f"{t[False] / one[False]:12.2f}x {1000 * t[True]:8.1f} "
                  f"{t[True] / one[True]:12.2f}x", flush=True)
    print("step = fwd+bwd and the AdamW update, which touches every expert's parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
