"""What every task declares, and its sizes. Arithmetic only, no PyTorch (`hourglass params`,
search spaces and reports need it; image.py and text.py add the tensors).

A task declares (``TaskSpec``) what it reads (images or a text), the number a frontier ranks it
by and that number's direction, the test numbers its runs write, and the options it takes. The
rest of the tool asks these declarations and never branches on a task's name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hourglass.core.errors import UserError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Metric:
    """The test number a task's frontier ranks: its metrics.json and trials.csv key."""

    key: str
    label: str  # in tables and on plots
    higher_is_better: bool
    decimals: int = 2
    percent: bool = False  # a fraction shown in percent (a difference in points)

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is: multiply to rank best-first."""
        return 1 if self.higher_is_better else -1

    @property
    def eval_key(self) -> str:
        """The same number on the eval split: its metrics.json and history.csv key."""
        return self.key.replace("test_", "eval_", 1)

    @property
    def eval_label(self) -> str:
        return self.label.replace("test ", "eval ", 1)


PSNR = Metric("test_psnr", "test PSNR (dB)", True)
ACCURACY = Metric("test_accuracy", "test accuracy", True, percent=True)
BPC = Metric("test_bpc", "test bits per character", False, decimals=3)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    about: str
    metric: Metric
    # metrics.json's test numbers (trials.csv keeps them), and the baseline's key
    test_keys: tuple[str, ...]
    baseline_key: str
    reads_text: bool = False  # windows of a text (LMShape); else images (TaskShape)
    per_token: bool = False  # FLOPs and latency are per position of a window, not per sample
    classifies: bool = False  # the target is a class label (cross-entropy; labels to smooth)
    paper_epochs: int = 30  # the paper's epochs on MNIST-size data (PROTOCOL.md, Training)
    min_classes: int = 0  # fewer classes than this make the task meaningless


_IMAGE_KEYS = ("test_psnr", "test_psnr_per_image", "test_loss")
TASK_SPECS = {s.name: s for s in [
    TaskSpec("prototype", "map each image to its class's first training image", PSNR,
             _IMAGE_KEYS, "baseline_psnr", paper_epochs=50),
    TaskSpec("denoise", "remove Gaussian noise", PSNR, _IMAGE_KEYS, "baseline_psnr"),
    TaskSpec("superres", "x2 super-resolution from a bicubic half-size image", PSNR,
             _IMAGE_KEYS, "baseline_psnr", paper_epochs=50),
    TaskSpec("classify", "the image's class", ACCURACY, ("test_accuracy", "test_loss"),
             "baseline_accuracy", classifies=True, min_classes=2),
    TaskSpec("lm", "next-character prediction on windows of a text", BPC,
             ("test_bpc", "test_loss"), "baseline_bpc", reads_text=True, per_token=True),
]}
METRICS = {s.metric.key: s.metric for s in TASK_SPECS.values()}


def task_spec(name: str) -> TaskSpec:
    if name not in TASK_SPECS:
        raise UserError(f"unknown task {name!r}; choose one of {', '.join(TASK_SPECS)}")
    return TASK_SPECS[name]


@dataclass
class TaskShape:
    """A task's name and image shape (C, H, W), and the sizes they give the model."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    noise_std: float = 0.25

    reads_text = False

    def __post_init__(self) -> None:
        task_spec(self.name)
        if self.noise_std < 0:
            raise UserError(f"--noise-std must be >= 0, got {self.noise_std}")
        c, h, w = self.image_shape
        if self.name == "superres" and (h < 2 or w < 2):
            raise UserError(f"superres needs images of at least 2x2, got {h}x{w}")

    # ---- shapes -------------------------------------------------------------------------
    @property
    def input_image_shape(self) -> tuple[int, int, int]:
        """What the model reads, as an image: half size for super-resolution."""
        c, h, w = self.image_shape
        return (c, h // 2, w // 2) if self.name == "superres" else (c, h, w)

    @property
    def in_dim(self) -> int:
        return math.prod(self.input_image_shape)

    @property
    def out_dim(self) -> int:
        return self.num_classes if self.name == "classify" else math.prod(self.image_shape)

    @property
    def image_target(self) -> bool:
        return self.name != "classify"

    @property
    def metric(self) -> str:
        """The score the task is judged by (higher is better for both)."""
        return "psnr" if self.image_target else "accuracy"

    @property
    def static_inputs(self) -> bool:
        """Inputs that do not change between epochs (no fresh noise): W_in x can be cached."""
        return self.name != "denoise"


@dataclass
class LMShape:
    """The language-model task's sizes: windows of ``context`` characters in, the next
    character's ``vocab`` logits out at every position."""

    vocab: int
    context: int
    name: str = "lm"

    def __post_init__(self) -> None:
        if not self.vocab >= 2:
            raise UserError(f"a text needs at least 2 distinct characters, got {self.vocab}")
        if not isinstance(self.context, int) or self.context < 1:
            raise UserError(f"--context must be a positive integer, got {self.context!r}")

    num_classes = property(lambda self: self.vocab)
    in_dim = property(lambda self: self.context)
    out_dim = property(lambda self: self.vocab)
    reads_text = True
    image_target = False
    metric = "bpc"  # bits per character: lower is better
    static_inputs = False


class TrainingTask(Protocol):
    """What training, evaluation and checkpoints ask of a task with its tensors (image.Task,
    text.LMTask): batches, loss, metrics, the baseline, its test numbers and its record."""

    name: str
    reads_text: bool
    metric: str  # the eval metric the run's history follows
    static_inputs: bool  # inputs fixed across epochs, so a whole split may be cached

    @property
    def in_dim(self) -> int: ...
    @property
    def out_dim(self) -> int: ...
    def fit(self, train: Any) -> None: ...
    def train_batch(self, split: Any, idx: torch.Tensor, gen: torch.Generator,
                    augment: str = "none", inputs: bool = True
                    ) -> tuple[torch.Tensor | None, torch.Tensor]: ...
    def split_xy(self, split: Any, which: str) -> tuple[torch.Tensor, torch.Tensor]: ...
    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...
    def metrics(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]: ...
    def baseline(self, train: Any, split: Any, which: str) -> dict[str, float]: ...
    def test_numbers(self, m: dict[str, float], base: dict[str, float]) -> dict[str, float]: ...
    def to_meta(self) -> dict: ...
    def example_inputs(self, n: int) -> torch.Tensor: ...
    def mirrored(self, x: torch.Tensor) -> torch.Tensor: ...  # test-time flip
