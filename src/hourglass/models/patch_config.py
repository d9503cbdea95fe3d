"""The arithmetic of patch models' two ends (the modules' side is patches.py): embedding and
head counts, and what an image head can write. No PyTorch, like every family's config."""

from __future__ import annotations

from hourglass.errors import UserError


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


def patch_recipe(task: str, dataset: str) -> dict:
    """The patch models' defaults: LayerNorm, GELU and, for classifying natural images,
    crop-flip augmentation (digits and MNIST are neither shift- nor mirror-invariant: a
    4-pixel pad on an 8x8 digit, or a mirrored 2, is another picture)."""
    natural = dataset in CROP_FLIP_DATASETS or dataset.startswith("folder:")
    return {"norm": "layer", "act": "gelu",
            "augment": "crop-flip" if task == "classify" and natural else "none"}
