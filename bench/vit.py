"""ViT training throughput on CIFAR-10: against the machine's matmul peak and a plain loop.

    python bench/vit.py [--quick | --smoke] [--data-dir DIR_WITH_cifar10] [--compile]

For each configuration (both shapes at one budget): training images/s of hourglass-mlp's own
step (training/fit.py: in-memory uint8 batches, batched crop-flip augmentation, the family's
module, AdamW), the model's training FLOP/s and their ratio to this machine's fp32 matmul peak
(measured first, same run), and the speed-up over a plain eager loop run here on the same
model: a per-sample Dataset that converts each image and crops and flips it in __getitem__, a
torch DataLoader, then the same forward, backward and AdamW step. "bf16": our step under
``--precision bf16`` (the forward under bfloat16 autocast), its speed-up over fp32.
``--compile`` adds the step with the model under torch.compile, its compile time apart.

Training FLOPs per image = 3 x the family's forward FLOPs (forward, and backward for inputs
and weights: every matmul's input gradient is computed here, the first one's too, as its
input needs none but its weight gradient does; counted as 3x anyway, which over-counts the
patch embedding's input gradient by one matmul). Norms, softmax and the optimizer are not
counted: time spent there lowers the ratio.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
import torch.nn.functional as F
from common import bench_args, by_mode, matmul_peak
from torch.utils.data import DataLoader, Dataset

from hourglass.data.augment import CROP_PAD
from hourglass.models import get_family
from hourglass.tasks.image import Task
from hourglass.training import TrainConfig
from hourglass.training.config import model_config
from hourglass.training.feed import batch, epoch_generator
from hourglass.training.fit import train_step

# (label, TrainConfig settings): both shapes at 0.80M non-embedding parameters (hourglass
# match --family vit --task classify --dataset cifar10 --skip-dim 128 --inner-dim 512
# --depth 4 --depths 4 --skip-dims 192,256), the attention at the conventional width
CONFIGS = [("conventional 128/512/4", {"skip_dim": 128, "inner_dim": 512, "depth": 4})] + [
    (f"hourglass {z}/{h}/4 K{k} a128", {"skip_dim": z, "inner_dim": h, "depth": 4,
                                        "arch": {"sub_blocks": k, "attn_dim": 128}})
    for z, h, k in ((256, 127, 1), (192, 127, 2), (192, 63, 4))]
BATCH = 128
CPU = torch.device("cpu")


class CroppedImages(Dataset):
    """The plain pipeline: one image at a time, converted, padded, cropped and flipped."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        x = F.pad(self.images[i].float() / 255, (CROP_PAD,) * 4)
        dy, dx = torch.randint(0, 2 * CROP_PAD + 1, (2,)).tolist()
        x = x[:, dy:dy + 32, dx:dx + 32]
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
        return x.flatten(), self.labels[i]


def build(settings: dict, task: Task) -> torch.nn.Module:
    cfg = TrainConfig(task="classify", dataset="cifar10", family="vit", **settings).resolved()
    torch.manual_seed(0)
    return get_family("vit").build(model_config(cfg, task)), cfg


def ours(model, task: Task, split, steps: int, rows: int, bf16: bool = False) -> float:
    """Seconds per training step of hourglass-mlp's step and batches (``bf16``: under
    --precision bf16)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = epoch_generator(0, 1)
    perm = torch.randperm(len(split), generator=gen)

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for s in range(n):
            idx = perm[(s * rows) % (len(split) - rows):][:rows]
            x, y, _ = batch(task, split, None, idx, gen, CPU, "crop-flip")
            train_step(model, opt, task, x, y, False, 1e-3, 1, bf16)
        return time.perf_counter() - t0

    run(2)
    return run(steps) / steps


def plain(model, split, steps: int, rows: int) -> float:
    """Seconds per training step of the plain loop (DataLoader over per-sample crops)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = iter(DataLoader(CroppedImages(split.images, split.labels), batch_size=rows,
                             shuffle=True))
    model.train()

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            x, y = next(loader)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    run(2)
    return run(steps) / steps


def main() -> int:
    args, data = bench_args(__doc__, "fewer steps: a run of a few minutes", "cifar10",
                            {"--compile": "also time the step under torch.compile"})
    compile_too = args.compile
    steps = by_mode(args, 1, 5, 20)
    rows = by_mode(args, 8, BATCH, BATCH)  # smoke: one bf16 without its units affords
    task = Task("classify", data.image_shape, data.num_classes)
    size, peak = matmul_peak(args)
    print(f"matmul peak ({size}^2 fp32, {torch.get_num_threads()} threads): {peak / 1e9:.0f} "
          f"GFLOP/s; CIFAR-10, batch {rows}, {steps} timed steps each")
    print(f"{'configuration':28s} {'params':>8s} {'img/s':>6s} {'GFLOP/s':>8s} {'of peak':>7s} "
          f"{'plain img/s':>11s} {'speed-up':>8s} {'bf16 img/s':>10s} {'bf16 speed-up':>13s}"
          + (" compiled img/s (compile s)" if compile_too else ""))
    ratios = []
    # smoke checks that the script runs: one configuration (each torch.compile costs most of
    # a minute here)
    for label, settings in by_mode(args, CONFIGS[:1], CONFIGS, CONFIGS):
        model, cfg = build(settings, task)
        counts = get_family("vit").counts(model.cfg)
        step = ours(model, task, data.train, steps, rows)
        rate = 3 * counts["flops_per_sample"] * rows / step
        ratios.append(rate / peak)
        ref = plain(build(settings, task)[0], data.train, steps, rows)
        half = ours(build(settings, task)[0], task, data.train, steps, rows, bf16=True)
        line = (f"{label:28s} {counts['params']:8d} {rows / step:6.0f} {rate / 1e9:8.1f} "
                f"{rate / peak:7.2f} {rows / ref:11.0f} {ref / step:7.2f}x "
                f"{rows / half:10.0f} {step / half:12.2f}x")
        if compile_too:
            t0 = time.perf_counter()
            compiled = torch.compile(build(settings, task)[0])
            ours(compiled, task, data.train, 1, rows)
            took = time.perf_counter() - t0
            line += f" {rows / ours(compiled, task, data.train, steps, rows):14.0f} ({took:.0f})"
        print(line, flush=True)
    print(f"median ratio to peak {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
