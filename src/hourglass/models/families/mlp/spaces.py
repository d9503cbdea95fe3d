"""The MLP's built-in search spaces, as the dicts a TOML file would hold.

`paper-mnist-<task>`: the authors' MNIST ranges (PROTOCOL.md, Search and frontier); the exact
83 Hourglass architectures are not published, so depth takes a spread of values over their
range 2..40. `quick-<task>`: digits, about 30 s on 2 cores with `hourglass compare`; the best
lr runs from about 3e-2 (the smallest networks) to 8e-3 (the largest), and collapses above
5e-2, so the grid holds every frontier point's lr inside it.
"""

from __future__ import annotations

import math

from hourglass.core.choices import IMAGE_TASKS
from hourglass.models.family import space_name

# task: (epochs, augmentation) of the authors' MNIST protocol (superres trains on the x4 flip
# copy of the training set)
PAPER = {"prototype": (50, "none"), "denoise": (30, "none"), "superres": (50, "flip4")}


def paper(task: str) -> dict:
    epochs, augment = PAPER[task]
    return {
        "task": task, "dataset": "mnist", "epochs": epochs, "batch_size": 128,
        "seeds": [0, 1, 2], "augment": augment,
        "hourglass": {"skip_dim": [785, 1150, 1470, 1790, 2140],
                      "inner_dim": [4, 115, 270, 350, 480, 690],
                      "depth": [2, 3, 4, 5, 6, 8, 12, 20, 40], "lr": [1e-4, 5e-4, 1e-3, 5e-3]},
        "conventional": {"skip_dim": [784], "inner_dim": [785, 1150, 1470, 1790, 2140, 3000, 4150],
                         "depth": [1, 2, 3, 4, 5], "lr": [3e-4, 5e-4, 1e-3]},
    }


def quick(task: str) -> dict:
    return {
        "task": task, "dataset": "digits", "epochs": 9, "batch_size": 64, "seeds": [0, 1],
        "hourglass": {"skip_dim": [96, 192, 384], "inner_dim": [4, 16, 48],
                      "depth": [1, 2, 4], "lr": [2e-3, 8e-3, 3.2e-2, 4.8e-2]},
        "conventional": {"skip_dim": [64], "inner_dim": [96, 192, 384, 768],
                         "depth": [1, 2, 3], "lr": [2e-3, 8e-3, 3.2e-2, 4.8e-2]},
    }


SPACES = {**{f"paper-mnist-{t}": (lambda t=t: paper(t)) for t in PAPER},
          **{f"quick-{t}": (lambda t=t: quick(t)) for t in IMAGE_TASKS}}


def compare_space(task: str, dataset: str, shape) -> dict:
    """`hourglass compare`'s space: digits' quick space, else a small space around the paper's
    shapes scaled to the image size (the conventional skip path runs at the input size)."""
    if dataset == "digits":
        return {"name": f"quick-{task}", **quick(task)}
    d = math.prod(shape.image_shape)
    return {
        "name": space_name("compare", task, dataset), "task": task, "dataset": dataset, "epochs": 9,
        "batch_size": 128, "seeds": [0, 1],
        "hourglass": {"skip_dim": [d + 1, int(d * 1.5), int(d * 2.3)],
                      "inner_dim": [16, d // 7, d // 3], "depth": [2, 4, 8],
                      "lr": [5e-4, 1e-3, 3e-3]},
        "conventional": {"skip_dim": [d], "inner_dim": [d + 1, int(d * 1.9), int(d * 2.7)],
                         "depth": [1, 2, 3], "lr": [5e-4, 1e-3, 3e-3]},
    }
