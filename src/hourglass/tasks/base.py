"""What a task makes of an image shape: the model's input and output sizes. Arithmetic only,
no PyTorch (`hourglass params` needs it; tasks.Task adds the tensors)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hourglass.core.choices import TASKS
from hourglass.core.errors import UserError


@dataclass
class TaskShape:
    """A task's name and image shape (C, H, W), and the sizes they give the model."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    noise_std: float = 0.25

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise UserError(f"unknown task {self.name!r}; choose one of {', '.join(TASKS)}")
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
    image_target = False
    metric = "bpc"  # bits per character: lower is better
    static_inputs = False
