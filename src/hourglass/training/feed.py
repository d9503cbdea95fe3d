"""Training batches for K runs at once, from uint8 images held in memory.

A batch is a slice of an index permutation; denoising noise is drawn for the whole batch at
once. Each run's permutation and noise come from a generator seeded by (seed, epoch), so a
run sees the same batches alone, in a population, or resumed. Inputs that do not change
between epochs (prototype, superres, classify) are computed once for the whole split and,
with a frozen W_in shared by all runs, lifted to z_0 once too.
"""

from __future__ import annotations

import torch

from hourglass.data import Split
from hourglass.tasks import Task, to_float

CACHE_BYTES = 4 << 30  # precompute whole-split inputs (and z_0) only below this size
LIFT_CHUNK = 4096


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def steps_per_epoch(n: int, batch_size: int) -> int:
    # A last batch of one sample is dropped: BatchNorm cannot normalise a single row.
    return n // batch_size + (1 if n % batch_size > 1 else 0)


def train_cache(task: Task, engine, split: Split,
                device: torch.device) -> tuple[torch.Tensor, bool] | None:
    """(inputs or z_0 for the whole split on ``device``, whether lifted), or None to build
    every batch."""
    width = task.in_dim + (engine.models[0].cfg.skip_dim if engine.shared_lift else 0)
    if split.streamed or not task.static_inputs or len(split) * width * 4 > CACHE_BYTES:
        return None
    x = task.inputs(to_float(split.images))
    if not engine.shared_lift:
        return x.to(device), False
    return torch.cat([engine.lift(c.to(device)) for c in x.split(LIFT_CHUNK)]), True


def batch(task: Task, split: Split, cache, idx: torch.Tensor, gens: list[torch.Generator],
          device: torch.device):
    """(x, y, lifted) on ``device`` for index rows ``idx`` (one row per generator): with one
    row x and y are shared by every run, (B, ...); otherwise they are (K, B, ...). Noise is
    drawn on the CPU, so a GPU run sees the same noise as a CPU run."""
    images, labels = split.images[idx], split.labels[idx]
    xf = to_float(images)
    y = torch.stack([task.targets(xf[k], labels[k]) for k in range(len(idx))]).to(device)
    if cache is not None:
        x, lifted = cache[0][idx.to(cache[0].device)], cache[1]
    else:
        x = torch.stack([task.train_inputs(xf[k], g) for k, g in enumerate(gens)]).to(device)
        lifted = False
    if len(idx) == 1:
        return x[0], y[0], lifted
    return x, y, lifted
