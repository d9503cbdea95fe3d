"""The MLP-Mixer's built-in search spaces: `quick-mixer-<task>` on digits, and `hourglass
compare --family mixer`'s space on any image dataset."""

from __future__ import annotations

from hourglass.core.choices import IMAGE_TASKS
from hourglass.models.family import space_name


def quick(task: str) -> dict:
    """MLP-Mixers on digits (patch 2: 16 tokens, token MLP width 8), with the grid the ViT's
    quick space was tuned to: the hourglass with a wider stream, d_h 24 and K in {1, 2, 4};
    the conventional at channel ratio 2-8."""
    common = {"patch": [2], "lr": [1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2]}
    return {
        "task": task, "dataset": "digits", "family": "mixer", "epochs": 20, "batch_size": 32,
        "seeds": [0, 1], "recipe": 2,
        "hourglass": {"skip_dim": [48, 96], "inner_dim": [24], "depth": [1, 2],
                      "sub_blocks": [1, 2, 4], **common},
        "conventional": {"skip_dim": [24, 32, 48], "inner_dim": [96, 192], "depth": [1, 2],
                         **common},
    }


SPACES = {f"quick-mixer-{t}": (lambda t=t: quick(t)) for t in IMAGE_TASKS}


def compare_space(task: str, dataset: str, shape) -> dict:
    """digits: `quick-mixer-<task>`; else small Mixers of both shapes at the largest patch (up
    to 4) that divides the model's input image: the ViT's compare widths, the token-mixing
    width at its default (half the tokens)."""
    if dataset == "digits":
        return {"name": f"quick-mixer-{task}", **quick(task)}
    _, h, w = shape.input_image_shape
    patch = max(p for p in (1, 2, 4) if h % p == 0 and w % p == 0)
    common = {"patch": [patch], "lr": [5e-4, 1e-3, 2e-3]}
    return {
        "name": space_name("compare-mixer", task, dataset), "task": task, "dataset": dataset,
        "family": "mixer", "epochs": 6, "batch_size": 128, "seeds": [0],
        "hourglass": {"skip_dim": [128, 192], "inner_dim": [32, 64], "depth": [3, 4],
                      "sub_blocks": [1, 2, 4], **common},
        "conventional": {"skip_dim": [64, 96, 128], "inner_dim": [256, 384, 512],
                         "depth": [3, 4], **common},
    }
