"""The language model's built-in search space, `quick-lm`, and `hourglass compare --family
lm`'s space on any text (quick-lm's grid on that text)."""

from __future__ import annotations

from hourglass.models.family import space_name


def quick() -> dict:
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


SPACES = {"quick-lm": quick}


def compare_space(task: str, dataset: str, shape) -> dict:
    """quick-lm, on whichever text."""
    if dataset == "moby-dick":
        return {"name": "quick-lm", **quick()}
    return {**quick(), "name": space_name("compare-lm", dataset), "dataset": dataset}
