"""What the patch models' configs share (ViT, MLP-Mixer): the common fields and their checks,
and the arithmetic of both ends (embedding and head counts; the modules' side is patches.py).
No PyTorch, like every family's config."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from hourglass.core.choices import MODEL_ACTS
from hourglass.core.errors import UserError
from hourglass.core.limits import MAX_PARAMS, MAX_WIDTH
from hourglass.models.family import shape_of

NORMS = ("layer", "rms")
ACTS = MODEL_ACTS
MAX_LAYERS = 1_000
MAX_TOKENS = 16_384


@dataclass
class PatchConfig:
    """Fields and checks every patch model has; a family's config adds its own (with
    defaults) and says which of them are ``WIDTHS`` (checked like skip_dim; 0 allowed)."""

    image_shape: tuple[int, int, int]  # (C, h, w) the model reads
    out_dim: int  # classes, or C*H*W of the target image
    skip_dim: int  # d: width of the residual stream
    inner_dim: int  # d_h: width inside each feed-forward sub-block
    depth: int  # layers
    sub_blocks: int = 1  # K: feed-forward sub-blocks per layer
    patch: int = 4
    norm: str = "layer"
    act: str = "gelu"
    classify: bool = True  # False: a per-patch image head with a sigmoid

    FAMILY: ClassVar[str] = "patch model"
    POSITIVE: ClassVar[tuple[str, ...]] = ("out_dim", "skip_dim", "inner_dim", "depth",
                                           "sub_blocks", "patch")
    WIDTHS: ClassVar[tuple[str, ...]] = ()  # the family's own widths, where 0 means a default

    def __post_init__(self) -> None:
        self.image_shape = tuple(int(v) for v in self.image_shape)
        for name in self.POSITIVE:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got "
                                f"{value!r}")
        for name in self.WIDTHS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer (or 0 "
                                f"for its default), got {value!r}")
        for name in ("skip_dim", "inner_dim", "out_dim", *self.WIDTHS):
            if getattr(self, name) > MAX_WIDTH:
                raise UserError(f"{name.replace('_', '-')} {getattr(self, name)}: at most "
                                f"{MAX_WIDTH:,}")
        if self.depth * self.sub_blocks > MAX_LAYERS:
            raise UserError(f"depth x sub-blocks {self.depth * self.sub_blocks}: at most "
                            f"{MAX_LAYERS:,}")
        if self.norm not in NORMS:
            raise UserError(f"norm {self.norm!r}: the {self.FAMILY} takes {', '.join(NORMS)}")
        if self.act not in ACTS:
            raise UserError(f"act {self.act!r}: the {self.FAMILY} takes {', '.join(ACTS)}")
        c, h, w = self.image_shape
        if h % self.patch or w % self.patch:
            raise UserError(f"patch {self.patch} does not divide the {h}x{w} input images")
        if self.tokens > MAX_TOKENS:
            raise UserError(f"{self.tokens:,} tokens: at most {MAX_TOKENS:,}; take a larger patch")
        self.check()
        if not self.classify:
            check_image_head(self.image_shape, self.out_dim)
        total = self.counts()["params"]
        if total > MAX_PARAMS:
            raise UserError(f"this network would have {total:,} parameters; at most "
                            f"{MAX_PARAMS:,}")

    def check(self) -> None:
        """The family's own checks, after the common ones."""

    def counts(self) -> dict[str, int]:
        raise NotImplementedError

    @property
    def in_dim(self) -> int:
        c, h, w = self.image_shape
        return c * h * w

    @property
    def tokens(self) -> int:
        c, h, w = self.image_shape
        return (h // self.patch) * (w // self.patch)

    @property
    def out_patch(self) -> int:
        """Values one token writes in an image head: C x (patch x scale)^2."""
        return self.out_dim // self.tokens

    @property
    def shape(self) -> str:
        return shape_of(self.skip_dim, [self.inner_dim])

    def to_dict(self) -> dict:
        return asdict(self)


def patch_make_config(cls: type, family, run, task, **own) -> PatchConfig:
    """A patch family's config for a run (a TrainConfig) on a task (its TaskShape); ``own``:
    the family's fields that come from run settings rather than dims."""
    if run.input_proj != "learned" or run.proj_seed is not None:
        raise UserError(f"--input-proj and --proj-seed are the MLP's; the {cls.FAMILY}'s patch "
                        "embedding is always learned")
    if isinstance(run.inner_dim, list):
        raise UserError(f"the {cls.FAMILY} takes one --inner-dim for every layer")
    return cls(image_shape=task.input_image_shape, out_dim=task.out_dim, skip_dim=run.skip_dim,
               inner_dim=run.inner_dim, depth=run.depth, norm=run.norm, act=run.act,
               classify=not task.image_target,
               **{d.name: run.arch.get(d.name, d.default) for d in family.extra_dims}, **own)


def io_counts(image_shape: tuple[int, int, int], patch: int, width: int, out_dim: int,
              classify: bool, positions: bool) -> dict[str, int]:
    """Parameters of the embedding (patch projection with its bias, and learned positions
    when ``positions``) and of the head, and the forward FLOPs per sample of both."""
    c, h, w = image_shape
    tokens = (h // patch) * (w // patch)
    p_in = c * patch * patch
    head_out = out_dim if classify else out_dim // tokens
    return {"embedding": p_in * width + width + (tokens * width if positions else 0),
            "head": width * head_out + head_out,
            "flops": 2 * tokens * p_in * width + (2 * width * out_dim if classify
                                                  else 2 * tokens * width * head_out)}


def check_image_head(image_shape: tuple[int, int, int], out_dim: int) -> None:
    """An image head writes a C x (s*h) x (s*w) image for an integer scale s."""
    c, h, w = image_shape
    scale2, rest = divmod(out_dim, c * h * w)
    root = round(scale2 ** 0.5)
    if rest or root * root != scale2:
        raise UserError(f"an image head needs an output {c}x(s*{h})x(s*{w}); got {out_dim} "
                        "values")


# natural photographs, where a shifted or mirrored image is still the same class
CROP_FLIP_DATASETS = ("cifar10", "imagenet32")


# Recipe 3 for classification, after the public recipes that train small ViTs on CIFAR-10
# in a few epochs (DeiT's and timm's, scaled down): the lr warms up linearly for WARMUP_STEPS
# (about 2/3 of an epoch of CIFAR-10 at batch 128) and then follows a cosine per step;
# cross-entropy against labels smoothed by 0.1; AdamW's weight decay 0.05 on the matrices
# only (norm gains, biases and positions are not pulled towards 0).
CLASSIFY_RECIPE = {"lr_schedule": "cosine", "warmup": 250, "label_smoothing": 0.1,
                   "weight_decay": 0.05, "decay": "matrices"}


# Recipe 4 adds, for classification: inputs standardised per channel, and batches of 64 (the
# 3-epoch pilots of docs/results section 9: +3.7 and +1.7 points of eval accuracy).
CLASSIFY_RECIPE_4 = {"input_norm": "channel", "batch_size": 64}


def patch_recipe(task, dataset: str, version: int) -> dict:
    """The patch models' defaults: LayerNorm, GELU and, for classifying natural images,
    crop-flip augmentation (digits and MNIST are neither shift- nor mirror-invariant: a
    4-pixel pad on an 8x8 digit, or a mirrored 2, is another picture); from recipe 3,
    CLASSIFY_RECIPE for every classification; from recipe 4, CLASSIFY_RECIPE_4 too."""
    natural = dataset in CROP_FLIP_DATASETS or dataset.startswith("folder:")
    return {"norm": "layer", "act": "gelu",
            "augment": "crop-flip" if task.classifies and natural else "none",
            **(CLASSIFY_RECIPE if task.classifies and version >= 3 else {}),
            **(CLASSIFY_RECIPE_4 if task.classifies and version >= 4 else {})}
