"""Training batches from uint8 images held in memory.

A batch is a slice of an index permutation; denoising noise is drawn for the whole batch at
once. The permutation and noise come from a generator seeded by (seed, epoch), so a resumed
run sees the same batches as an uninterrupted one. Inputs that do not change between epochs
(prototype, superres, classify) are computed once for the whole split and, with a frozen
W_in, lifted to z_0 once too.
"""

from __future__ import annotations

import torch

from hourglass.data import Split
from hourglass.data.augment import BATCH_AUGMENTS
from hourglass.tasks.base import TrainingTask
from hourglass.tasks.image import Task, to_float

CACHE_BYTES = 4 << 30  # precompute whole-split inputs (and z_0) only below this size
LIFT_CHUNK = 4096


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def steps_per_epoch(n: int, batch_size: int) -> int:
    # A last batch of one sample is dropped: BatchNorm cannot normalise a single row.
    return n // batch_size + (1 if n % batch_size > 1 else 0)


def train_cache(task: Task, split: Split, device: torch.device,
                lift: torch.nn.Module | None = None,
                augment: str = "none") -> tuple[torch.Tensor, bool] | None:
    """(inputs, or z_0 = ``lift.lift(inputs)`` when a model with a frozen first layer is
    given, for the whole split on ``device``; whether lifted), or None to build every batch
    (inputs that change every epoch: noise, or batched augmentation)."""
    width = task.in_dim + (lift.cfg.skip_dim if lift is not None else 0)
    if (split.streamed or not task.static_inputs or augment in BATCH_AUGMENTS
            or len(split) * width * 4 > CACHE_BYTES):
        return None
    x = task.inputs(to_float(split.images))
    if lift is None:
        return x.to(device), False
    with torch.no_grad():
        return torch.cat([lift.lift(c.to(device)) for c in x.split(LIFT_CHUNK)]), True


def batch(task: TrainingTask, split: Split, cache, idx: torch.Tensor, gen: torch.Generator,
          device: torch.device, augment: str = "none") -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(x, y, lifted) on ``device`` for the rows ``idx`` of the split, made by the task (an
    image batch, or a text's windows). Noise and augmentation are drawn on the CPU from
    ``gen``, so a GPU run sees the same batches as a CPU run."""
    x, y = task.train_batch(split, idx, gen, augment, inputs=cache is None)
    if cache is not None:
        return cache[0][idx.to(cache[0].device)], y.to(device), cache[1]
    return x.to(device), y.to(device), False
