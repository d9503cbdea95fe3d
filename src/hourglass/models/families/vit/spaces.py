"""The ViT's built-in search spaces: `quick-vit-<task>` on digits, and `hourglass compare
--family vit`'s space on any image dataset."""

from __future__ import annotations

from hourglass.core.choices import IMAGE_TASKS
from hourglass.models.family import space_name


def quick(task: str) -> dict:
    """ViTs on digits (8x8, patch 2: 16 tokens): the hourglass with a wider stream, narrow
    sub-blocks (d_h 24), K in {1, 2, 4} and the attention at 32; the conventional at FFN ratio
    2-8. d_h 12 went: drawn against non-embedding parameters, 48/12/1 became the hourglass
    frontier's first point, at 86.6% with the grid's largest lr."""
    common = {"heads": [2], "patch": [2], "lr": [1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2]}
    # ViTs learn slower than MLPs here: 20 epochs of batch 32 reach about 90%; the best lr
    # is about 4e-3 (0.92-0.94 at 4e-3, 0.86-0.92 at 8e-3, 0.74-0.88 at 1.6e-2)
    return {
        "task": task, "dataset": "digits", "family": "vit", "epochs": 20, "batch_size": 32,
        "seeds": [0, 1], "recipe": 2,  # the grid was tuned on it (per-step linear decay)
        "hourglass": {"skip_dim": [48, 96], "inner_dim": [24], "depth": [1, 2],
                      "sub_blocks": [1, 2, 4], "attn_dim": [32], **common},
        "conventional": {"skip_dim": [24, 32, 48], "inner_dim": [96, 192], "depth": [1, 2],
                         **common},
    }


SPACES = {f"quick-vit-{t}": (lambda t=t: quick(t)) for t in IMAGE_TASKS}


def compare_space(task: str, dataset: str, shape) -> dict:
    """digits: `quick-vit-<task>`; else small ViTs of both shapes at the largest patch (up to
    4) that divides the model's input image."""
    if dataset == "digits":
        return {"name": f"quick-vit-{task}", **quick(task)}
    _, h, w = shape.input_image_shape
    patch = max(p for p in (1, 2, 4) if h % p == 0 and w % p == 0)
    common = {"heads": [4], "patch": [patch], "lr": [5e-4, 1e-3, 2e-3]}
    return {
        "name": space_name("compare-vit", task, dataset), "task": task, "dataset": dataset,
        "family": "vit", "epochs": 6, "batch_size": 128, "seeds": [0],
        "hourglass": {"skip_dim": [128, 192], "inner_dim": [32, 64], "depth": [3, 4],
                      "sub_blocks": [1, 2, 4], "attn_dim": [96], **common},
        "conventional": {"skip_dim": [64, 96, 128], "inner_dim": [256, 384, 512],
                         "depth": [3, 4], **common},
    }
