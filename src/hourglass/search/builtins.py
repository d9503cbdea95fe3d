"""Built-in search spaces, as the dicts a TOML file would hold (`hourglass spaces show NAME`
prints one as TOML, ready to edit and pass back to `hourglass search`).

`paper-mnist-<task>`: the authors' MNIST ranges (PROTOCOL.md, Search and frontier); the exact
83 Hourglass architectures are not published, so depth takes a spread of values over their
range 2..40. `quick-<task>`: digits, about 30 s on 2 cores with `hourglass compare`; the
best lr runs from about 3e-2 (the smallest networks) to 8e-3 (the largest), and collapses above
5e-2, so the grid holds every frontier point's lr inside it. `quick-vit-<task>` and
`quick-mixer-<task>`: the same for Vision Transformers and MLP-Mixers (`hourglass compare
--family vit`).
"""

from __future__ import annotations

import math

from hourglass.core.choices import IMAGE_TASKS

PAPER_EPOCHS = {"prototype": 50, "denoise": 30, "superres": 50}


def _paper(task: str) -> dict:
    return {
        "task": task, "dataset": "mnist", "epochs": PAPER_EPOCHS[task], "batch_size": 128,
        "seeds": [0, 1, 2], "augment": "flip4" if task == "superres" else "none",
        "hourglass": {"skip_dim": [785, 1150, 1470, 1790, 2140],
                      "inner_dim": [4, 115, 270, 350, 480, 690],
                      "depth": [2, 3, 4, 5, 6, 8, 12, 20, 40], "lr": [1e-4, 5e-4, 1e-3, 5e-3]},
        "conventional": {"skip_dim": [784], "inner_dim": [785, 1150, 1470, 1790, 2140, 3000, 4150],
                         "depth": [1, 2, 3, 4, 5], "lr": [3e-4, 5e-4, 1e-3]},
    }


def _quick(task: str) -> dict:
    return {
        "task": task, "dataset": "digits", "epochs": 9, "batch_size": 64, "seeds": [0, 1],
        "hourglass": {"skip_dim": [96, 192, 384], "inner_dim": [4, 16, 48],
                      "depth": [1, 2, 4], "lr": [2e-3, 8e-3, 3.2e-2, 4.8e-2]},
        "conventional": {"skip_dim": [64], "inner_dim": [96, 192, 384, 768],
                         "depth": [1, 2, 3], "lr": [2e-3, 8e-3, 3.2e-2, 4.8e-2]},
    }


def _quick_vit(task: str) -> dict:
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


def _quick_mixer(task: str) -> dict:
    """MLP-Mixers on digits (patch 2: 16 tokens, token MLP width 8), as `quick-vit-<task>`."""
    space = _quick_vit(task)
    space["family"] = "mixer"
    for shape in ("hourglass", "conventional"):
        for key in ("heads", "attn_dim"):
            space[shape].pop(key, None)
    return space


def _quick_lm() -> dict:
    """Character-level language models on the embedded Moby-Dick (windows of 64 characters,
    the first 1,024 windows (65k characters) an epoch): the hourglass with a wider stream,
    d_h = 16, K in {1, 2, 4} and the attention at 32; the conventional at FFN ratio 1.5-6.
    Sized for `hourglass compare --family lm`: about 4 minutes on 2 cores. At 3e-3..1.2e-2
    every frontier point took 1.2e-2, so the grid runs to 2.4e-2. No warm-up: the recipe's 100
    steps would be a third of these 288, and the grid was chosen without it."""
    common = {"heads": [2], "lr": [6e-3, 1.2e-2, 2.4e-2]}
    return {
        "task": "lm", "dataset": "moby-dick", "family": "lm", "epochs": 9, "batch_size": 32,
        "seeds": [0], "context": 64, "warmup": 0, "train_limit": 1024, "eval_limit": 128,
        "recipe": 2,  # the grid was tuned on it (no dropout)
        "hourglass": {"skip_dim": [64, 96], "inner_dim": [16], "depth": [2],
                      "sub_blocks": [1, 2, 4], "attn_dim": [32], **common},
        "conventional": {"skip_dim": [32, 48, 64], "inner_dim": [96, 192], "depth": [2],
                         **common},
    }


BUILTINS = {**{f"paper-mnist-{t}": (lambda t=t: _paper(t)) for t in PAPER_EPOCHS},
            **{f"quick-{t}": (lambda t=t: _quick(t)) for t in IMAGE_TASKS},
            **{f"quick-{f}-{t}": (lambda t=t, f=f: {"vit": _quick_vit, "mixer": _quick_mixer}[f](t))
               for f in ("vit", "mixer") for t in IMAGE_TASKS},
            "quick-lm": _quick_lm}


def describe(space: dict) -> str:
    """One line for `hourglass spaces`."""
    shapes = [k for k, v in space.items() if isinstance(v, dict)]
    sizes = []
    for shape in shapes:
        s = space[shape]
        archs = math.prod(len(v) for k, v in s.items() if isinstance(v, list) and k != "lr")
        sizes.append(f"{shape} {archs} architectures x {len(s['lr'])} lrs")
    family = f"{space['family']} " if "family" in space else ""
    return (f"{family}{space['task']} on {space['dataset']}, {space['epochs']} epochs, "
            f"{len(space['seeds'])} seeds; " + ", ".join(sizes))


def toml(space: dict) -> str:
    """A space dict as TOML: top-level keys, then one table per shape."""
    tables = [k for k, v in space.items() if isinstance(v, dict)]
    lines = [f"{k} = {_value(v)}" for k, v in space.items() if k not in tables]
    for shape in tables:
        lines += ["", f"[{shape}]"] + [f"{k} = {_value(v)}" for k, v in space[shape].items()]
    return "\n".join(lines) + "\n"


def _value(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an inline table: one of a shape's configs
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    return repr(v)
