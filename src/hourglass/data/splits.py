"""Image splits: every image of a split is one uint8 tensor (N, C, H, W), in memory or, for
a training set larger than memory, memory-mapped from a file (``streamed``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hourglass.core.choices import SPLIT_RNGS
from hourglass.core.errors import UserError

SPLIT_SEED = 42  # PROTOCOL.md: MNIST's 60k are split 50k train / 10k eval with seed 42


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    streamed: bool = False  # images are memory-mapped: index batches, never read them whole

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def take(self, n: int | None) -> Split:
        """The first n samples (all when n is None): small real subsets for quick runs."""
        if n is None or n >= len(self):
            return self
        return Split(self.images[:n], self.labels[:n], self.streamed)

    def sample(self, n: int | None, seed: int = SPLIT_SEED) -> Split:
        """n samples drawn by a seeded permutation, kept in their order (all when n is None):
        a subset of a split stored in class order (an image folder's test split, CIFAR-10's
        JPEG archive) that still holds every class, where the first n would hold a few."""
        if n is None or n >= len(self):
            return self
        idx = permutation(len(self), seed)[:n].sort().values
        return Split(self.images[idx], self.labels[idx], self.streamed)


@dataclass(frozen=True)
class ImageDataset:
    name: str
    train: Split
    eval: Split
    test: Split
    num_classes: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train.images.shape[1:]
        return int(c), int(h), int(w)


def permutation(n: int, seed: int = SPLIT_SEED, rng: str = "numpy") -> torch.Tensor:
    """A seeded permutation of range(n): NumPy's ``RandomState(seed).permutation(n)`` (the
    authors'), or ``torch.randperm`` with a seeded generator (this tool's earlier split, the
    indices of ``torch.utils.data.random_split``)."""
    if rng == "numpy":
        return torch.from_numpy(np.random.RandomState(seed).permutation(n).astype(np.int64))
    if rng == "torch":
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    raise UserError(f"--split-rng {rng!r}: choose one of {', '.join(SPLIT_RNGS)}")


def random_split(images: torch.Tensor, labels: torch.Tensor, holdout: int,
                 seed: int = SPLIT_SEED, rng: str = "numpy") -> tuple[Split, Split]:
    """Split into (first N-holdout, last holdout) of a seeded permutation.

    With ``rng="numpy"`` these are the authors' indices (MNIST: the first 50,000 of
    ``RandomState(42).permutation(60000)`` train, the last 10,000 eval); the order inside each
    part is the permutation's, which fixes what "the first training image" of a class is.
    """
    n = images.shape[0]
    if not 0 < holdout < n:
        raise ValueError(f"holdout {holdout} must be between 1 and {n - 1}")
    perm = permutation(n, seed, rng)
    keep, held = perm[: n - holdout], perm[n - holdout:]
    return Split(images[keep], labels[keep]), Split(images[held], labels[held])


def flip4(split: Split) -> Split:
    """The authors' deterministic x4 copy: identity, horizontal, vertical, both flips."""
    if split.streamed:
        raise UserError("--augment flip4 copies the training set 4 times in memory; it is not "
                        "available for a memory-mapped (streamed) dataset")
    x = split.images
    images = torch.cat([x, x.flip(-1), x.flip(-2), x.flip(-1, -2)])
    return Split(images, split.labels.repeat(4))
