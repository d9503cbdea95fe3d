"""Training throughput against the machine's matmul peak and a reference-style loop.

    python bench/throughput.py [--quick | --smoke] [--data-dir ../shared/data]

MNIST denoising, batch 128, the paper's configurations. For each: training samples/s of
hourglass-mlp, model FLOP/s and their ratio to this machine's fp32 matmul peak (measured
first, same run), and the speed-up of a whole epoch (training plus one evaluation pass) over a
reference-style loop run here on the same configuration: a per-sample Dataset that converts
each image and adds noise in __getitem__, a torch DataLoader, the eager ResidualMLP and AdamW.

FLOPs count the matmuls actually executed per training sample: 2*m*n per Linear forward; a
trainable Linear adds 2*m*n for its weight gradient, and 2*m*n for its input gradient when
something before it is trained; a frozen W_in counts its forward only. Norms, activations and
the optimizer are not counted: time spent there lowers the ratio.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import bench_args, by_mode, matmul_peak
from torch.utils.data import DataLoader, Dataset

from hourglass.models import MLPConfig, ResidualMLP
from hourglass.training import TrainConfig, train
from hourglass.training.config import model_config
from hourglass.training.evaluate import prepare
from hourglass.training.feed import batch, epoch_generator, train_cache
from hourglass.training.fit import frozen_lift, train_step

# (label, skip_dim, inner_dim, depth, input_proj): the paper's MNIST configurations
CONFIGS = [("hourglass 785/115/4 fixed", 785, 115, 4, "fixed"),
           ("hourglass 785/115/4 learned", 785, 115, 4, "learned"),
           ("hourglass 1150/480/4", 1150, 480, 4, "learned"),
           ("hourglass 785/4/40", 785, 4, 40, "learned"),
           ("conventional 784/785/1", 784, 785, 1, "learned"),
           ("conventional 784/1150/2", 784, 1150, 2, "learned")]
BATCH = 128
CPU = torch.device("cpu")  # the benchmark measures this machine's CPU


def train_flops(cfg: MLPConfig) -> int:
    """Executed matmul FLOPs per training sample (see the module docstring)."""
    d, learned = cfg.skip_dim, cfg.input_proj == "learned"
    total = 0 if cfg.input_proj == "identity" else 2 * cfg.in_dim * d * (2 if learned else 1)
    for i, h in enumerate(cfg.inner_dims):
        fc1_input_grad = learned or i > 0
        total += 2 * d * h * (2 + fc1_input_grad) + 2 * d * h * 3
    return total + 2 * d * cfg.out_dim * 3


def time_training(cfg: TrainConfig, data, steps: int) -> float:
    """Seconds per training step of hourglass-mlp's own loop (training/fit.py's step and
    batches)."""
    cfg = cfg.resolved()
    prep = prepare(cfg, data)
    torch.manual_seed(0)
    model = ResidualMLP(model_config(cfg, prep.task))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  weight_decay=cfg.weight_decay)
    split = prep.data.train
    cache = train_cache(prep.task, split, CPU, model if frozen_lift(model) else None)
    gen = epoch_generator(0, 1)
    perm = torch.randperm(len(split), generator=gen)

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for s in range(n):
            idx = perm[(s * BATCH) % (len(split) - BATCH):][:BATCH]
            x, y, lifted = batch(prep.task, split, cache, idx, gen, CPU)
            train_step(model, optimizer, prep.task, x, y, lifted, cfg.lr, 1)
        return time.perf_counter() - t0

    run(3)
    return run(steps) / steps


class NoisyImages(Dataset):
    """The reference pipeline: one image at a time, noise added as it is loaded."""

    def __init__(self, images: torch.Tensor, std: float = 0.25) -> None:
        self.images, self.std = images, std

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        x = self.images[i].to(torch.float32).div(255.0).flatten()
        return (x + self.std * torch.randn_like(x)).clamp(0, 1), x


def reference_epoch(mcfg: MLPConfig, train_images, eval_images) -> float:
    """Seconds for one epoch plus one evaluation pass of the reference-style loop."""
    torch.manual_seed(0)
    model = ResidualMLP(mcfg)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loader = DataLoader(NoisyImages(train_images), batch_size=BATCH, shuffle=True)
    t0 = time.perf_counter()
    model.train()
    for x, y in loader:
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        for x, y in DataLoader(NoisyImages(eval_images), batch_size=BATCH):
            torch.nn.functional.mse_loss(model(x), y).item()
    return time.perf_counter() - t0


def main() -> int:
    args, data = bench_args(__doc__, "subsets: a run under a minute")
    n_train, n_eval, steps = by_mode(args, (256, 128, 1), (2560, 1000, 15), (50000, 10000, 100))
    size, peak = matmul_peak(args)
    print(f"matmul peak ({size}^2 fp32, {torch.get_num_threads()} threads): "
          f"{peak / 1e9:.0f} GFLOP/s; {n_train} training and {n_eval} eval images, batch {BATCH}")
    head = (f"{'configuration':28s} {'samples/s':>9s} {'GFLOP/s':>8s} {'of peak':>7s} "
            f"{'epoch s':>8s} {'ref s':>7s} {'speed-up':>8s}")
    print(head)
    ratios = []
    for label, skip, inner, depth, proj in CONFIGS:
        cfg = TrainConfig(task="denoise", dataset="mnist", data_dir=args.data_dir,
                          skip_dim=skip, inner_dim=inner, depth=depth, input_proj=proj,
                          epochs=1, batch_size=BATCH, train_limit=n_train, eval_limit=n_eval)
        mcfg = MLPConfig(in_dim=784, out_dim=784, skip_dim=skip, inner_dim=inner, depth=depth,
                         input_proj=proj)
        step = time_training(cfg, data, steps)
        rate = train_flops(mcfg) * BATCH / step
        ratios.append(rate / peak)
        with tempfile.TemporaryDirectory() as tmp:
            ours = train(cfg, Path(tmp) / "run", progress=False, data=data)["train_seconds"]
        ref = reference_epoch(mcfg, data.train.images[:n_train], data.eval.images[:n_eval])
        print(f"{label:28s} {BATCH / step:9.0f} {rate / 1e9:8.1f} {rate / peak:7.2f} "
              f"{ours:8.2f} {ref:7.2f} {ref / ours:7.1f}x", flush=True)
    print(f"median ratio to peak {statistics.median(ratios):.2f}, lowest {min(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
