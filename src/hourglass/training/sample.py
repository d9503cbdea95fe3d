"""Generate text with a trained language model (`hourglass sample`)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from hourglass.core.errors import UserError
from hourglass.models.contract import Generates
from hourglass.training.checkpoint import MODEL_FILE, load_model

MAX_TOKENS = 100_000
MAX_PROMPT = 1_000_000  # characters; the model reads only the last `context` of them


def load_language_model(run_dir: str | Path):
    """The run's model and task, refusing anything but a finished language-model run."""
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a finished training run (no {MODEL_FILE})")
    model, task = load_model(path)
    if not isinstance(model, Generates):
        raise UserError(f"{run_dir} holds a {task.name} model; `hourglass sample` needs a "
                        "language model (--family lm), `hourglass predict` applies this one")
    return model, task


def sample(run_dir: str | Path, prompt: str = "\n", tokens: int = 500,
           temperature: float = 0.8, seed: int = 0) -> str:
    """``prompt`` continued by ``tokens`` characters drawn from the model at ``temperature``
    (0: always the most likely; the same seed gives the same text on the CPU)."""
    if not isinstance(tokens, int) or not 1 <= tokens <= MAX_TOKENS:
        raise UserError(f"--tokens must be between 1 and {MAX_TOKENS:,}, got {tokens}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise UserError(f"--temperature must be a number >= 0, got {temperature}")
    if not prompt:
        raise UserError("--prompt is empty; give at least one character (the default is a "
                        "newline)")
    if len(prompt) > MAX_PROMPT:
        raise UserError(f"--prompt holds {len(prompt):,} characters; at most {MAX_PROMPT:,}")
    model, task = load_language_model(run_dir)
    unknown = sorted(set(prompt) - set(task.chars))
    if unknown:
        raise UserError(f"the prompt holds characters the model never saw: "
                        f"{''.join(unknown)[:20]!r}; its vocabulary: {task.chars!r}")
    ids = torch.tensor([[task.chars.index(c) for c in prompt[-model.cfg.context:]]])
    gen = torch.Generator().manual_seed(seed)
    out = model.generate(ids, tokens, temperature, gen)[0, ids.shape[1]:]
    return prompt + "".join(task.chars[i] for i in out.tolist())
