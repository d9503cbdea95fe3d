"""The paper's tasks (PROTOCOL.md, Tasks): inputs, targets, loss and metrics from image batches.

Every function works on whole batches (float images (B, C, H, W) in [0, 1]); nothing loops
over samples. PSNR uses data range 1 and comes in two flavours: ``psnr`` as the authors
compute it (MSE pooled over each batch of 128, PSNR per batch, mean weighted by batch size)
and ``psnr_per_image`` (mean of per-image PSNR), a different and usually higher number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hourglass.core.errors import UserError
from hourglass.data import Split
from hourglass.data.augment import BATCH_AUGMENTS, mix_batch
from hourglass.tasks.base import TaskShape

METRIC_BATCH = 128  # the authors' eval batch: it sets how MSE is pooled for `psnr`
EVAL_NOISE_SEEDS = {"eval": 1, "test": 2}  # denoise eval/test noise is fixed: reproducible metrics
BASELINE_CHUNK = 8192  # rows of the training split summed at a time by the class-mean baseline


def to_float(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32) / 255.0


def psnr_pooled(mse_per_image: torch.Tensor, batch: int = METRIC_BATCH) -> float:
    """The authors' PSNR: per batch of ``batch`` images 10*log10(1/mean MSE), weighted mean."""
    chunks = mse_per_image.double().split(batch)
    total = sum(len(c) * 10 * math.log10(1.0 / max(c.mean().item(), 1e-20)) for c in chunks)
    return total / len(mse_per_image)


def psnr_per_image(mse_per_image: torch.Tensor) -> float:
    return (10 * torch.log10(1.0 / mse_per_image.double().clamp_min(1e-20))).mean().item()


def image_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    mse = (pred - target).pow(2).mean(1)
    return {"loss": mse.mean().item(), "psnr": psnr_pooled(mse), "psnr_per_image":
            psnr_per_image(mse)}


def channel_stats(train: Split) -> tuple[list[float], list[float]]:
    """Each channel's mean and standard deviation over the training images, summed in float64
    a chunk at a time (a large split is never converted whole)."""
    c = train.images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    squares = torch.zeros(c, dtype=torch.float64)
    count = 0
    for i in range(0, len(train), BASELINE_CHUNK):
        x = to_float(train.images[i:i + BASELINE_CHUNK]).double().transpose(0, 1).flatten(1)
        total += x.sum(1)
        squares += x.square().sum(1)
        count += x.shape[1]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()


@dataclass
class Task(TaskShape):
    """A task over images of ``image_shape`` (C, H, W) with ``num_classes`` classes: its shapes
    (TaskShape), and its inputs, targets, loss and metrics on image batches."""

    prototypes: torch.Tensor | None = None  # (classes, C*H*W), set by fit() for `prototype`
    label_smoothing: float = 0.0  # classify's training loss only; metrics score plain labels
    input_norm: str = "none"  # channel: inputs standardised per channel (core/choices.py)
    channel_mean: list[float] | None = None  # set by fit() (or a checkpoint) for "channel"
    channel_std: list[float] | None = None
    mixup: float = 0.0  # classify's training batches: Beta(alpha, alpha) blends; 0: none
    cutmix: float = 0.0  # ... pasted boxes; with both, each batch takes one at even odds

    # ---- data ---------------------------------------------------------------------------
    def fit(self, train: Split) -> None:
        """What the task learns from the training split before training: the per-channel mean
        and standard deviation of its images for ``input_norm`` "channel"; the prototype
        targets (the first training image of each class)."""
        if self.input_norm == "channel" and self.channel_mean is None:
            self.channel_mean, self.channel_std = channel_stats(train)
        if self.name != "prototype":
            return
        labels = train.labels
        protos = []
        for k in range(self.num_classes):
            hits = (labels == k).nonzero()
            if len(hits) == 0:
                raise UserError(f"prototype task: class {k} has no training image")
            protos.append(to_float(train.images[hits[0, 0]]).flatten())
        self.prototypes = torch.stack(protos)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        """x2 bicubic downsampling with antialias off, as the authors do."""
        h, w = self.input_image_shape[1:]
        return F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False,
                             antialias=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Float images (B, C, H, W) as the model reads them: standardised per channel under
        ``input_norm`` "channel", else as they are."""
        if self.channel_mean is None:
            return x
        mean = torch.tensor(self.channel_mean, dtype=x.dtype)[:, None, None]
        std = torch.tensor(self.channel_std, dtype=x.dtype)[:, None, None]
        return (x - mean) / std

    def inputs(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Model inputs (B, in_dim) from float images; denoise adds ``noise`` (std 1)."""
        if self.name == "denoise":
            if noise is None:
                raise ValueError("denoise inputs need noise")
            x = (x + self.noise_std * noise).clamp(0.0, 1.0)
        elif self.name == "superres":
            x = self.downsample(x)
        return self.normalize(x).flatten(1)

    def train_inputs(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Training inputs: denoise draws fresh noise for every batch from ``generator``."""
        noise = torch.randn(x.shape, generator=generator) if self.name == "denoise" else None
        return self.inputs(x, noise)

    def split_inputs(self, split: Split, which: str) -> torch.Tensor:
        """Inputs of a whole eval/test split; denoise noise is fixed by a per-split seed."""
        x = to_float(split.images)
        noise = None
        if self.name == "denoise":
            g = torch.Generator().manual_seed(EVAL_NOISE_SEEDS[which])
            noise = torch.randn(x.shape, generator=g)
        return self.inputs(x, noise)

    def split_xy(self, split: Split, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of a whole eval/test split."""
        return self.split_inputs(split, which), self.targets(to_float(split.images), split.labels)

    def targets(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.name == "classify":
            return labels
        if self.name == "prototype":
            return self.prototypes[labels]
        return x.flatten(1)

    def train_batch(self, split: Split, idx: torch.Tensor, gen: torch.Generator,
                    augment: str = "none", inputs: bool = True
                    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(inputs, targets) of the rows ``idx``: augmentation and noise drawn from ``gen``.
        With ``inputs`` False only the targets (the inputs come from a cache)."""
        images, labels = split.images[idx], split.labels[idx]
        if augment in BATCH_AUGMENTS:
            images = BATCH_AUGMENTS[augment](images, gen)
        xf = to_float(images)
        x, y = (self.train_inputs(xf, gen) if inputs else None), self.targets(xf, labels)
        if self.mixup or self.cutmix:  # static_inputs is False: there is no cache
            mixed, y = mix_batch(x.view(len(x), *self.input_image_shape), y, self.num_classes,
                                 gen, self.mixup, self.cutmix)
            x = mixed.flatten(1)
        return x, y

    @property
    def static_inputs(self) -> bool:
        """Inputs that do not change between epochs: no fresh noise, no mixing."""
        return super().static_inputs and not (self.mixup or self.cutmix)

    def mirrored(self, x: torch.Tensor) -> torch.Tensor:
        """Model inputs (B, in_dim) of the horizontally flipped images (test-time flip)."""
        return x.view(len(x), *self.input_image_shape).flip(-1).flatten(1)

    def example_inputs(self, n: int) -> torch.Tensor:
        """``n`` random inputs of the model's size (latency timing)."""
        return torch.rand(n, self.in_dim)

    # ---- loss and metrics ---------------------------------------------------------------
    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss: cross-entropy for classify (against labels smoothed by
        ``label_smoothing``, or the soft targets of mixed batches), else MSE over pixels and
        batch."""
        if self.name == "classify":
            return F.cross_entropy(pred, target, label_smoothing=self.label_smoothing)
        return (pred - target).square().mean()

    def metrics(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """{'loss', 'psnr', 'psnr_per_image'} or, for classify, {'loss', 'accuracy'}."""
        if self.name == "classify":
            return {"loss": F.cross_entropy(pred, target).item(),
                    "accuracy": (pred.argmax(1) == target).double().mean().item()}
        return image_metrics(pred, target)

    def test_numbers(self, m: dict[str, float], base: dict[str, float]) -> dict[str, float]:
        """metrics.json's test numbers (TaskSpec.test_keys) from the test split's metrics and
        the baseline's."""
        if self.image_target:
            return {"test_psnr": m["psnr"], "test_psnr_per_image": m["psnr_per_image"],
                    "test_loss": m["loss"], "baseline_psnr": base["psnr"]}
        return {"test_accuracy": m["accuracy"], "test_loss": m["loss"],
                "baseline_accuracy": base["accuracy"]}

    def to_meta(self) -> dict:
        """What a checkpoint stores of the task (tasks/build.py reads it back)."""
        meta = {"name": self.name, "image_shape": list(self.image_shape),
                "num_classes": self.num_classes, "noise_std": self.noise_std}
        if self.channel_mean is not None:  # a checkpoint without them: inputs as they are
            meta.update(input_norm=self.input_norm, channel_mean=self.channel_mean,
                        channel_std=self.channel_std)
        return meta

    def baseline(self, train: Split, split: Split, which: str) -> dict[str, float]:
        """Doing nothing clever: the noisy input (denoise), bicubic upsampling (superres),
        the class-mean image (prototype), the most frequent class (classify)."""
        x = to_float(split.images)
        if self.name == "classify":
            top = torch.bincount(train.labels, minlength=self.num_classes).argmax()
            return {"accuracy": (split.labels == top).double().mean().item()}
        target = self.targets(x, split.labels)
        if self.name == "denoise":
            guess = self.split_inputs(split, which)
        elif self.name == "superres":
            low = self.downsample(x)
            guess = F.interpolate(low, size=x.shape[-2:], mode="bicubic",
                                  align_corners=False).clamp(0, 1).flatten(1)
        else:
            sums = torch.zeros(self.num_classes, target.shape[1])
            for i in range(0, len(train), BASELINE_CHUNK):  # a streamed split is never whole
                sums.index_add_(0, train.labels[i:i + BASELINE_CHUNK],
                                to_float(train.images[i:i + BASELINE_CHUNK]).flatten(1))
            means = sums / torch.bincount(train.labels, minlength=self.num_classes)[:, None]
            guess = means[split.labels]
        return {"psnr": image_metrics(guess, target)["psnr"]}
