"""Inference latency of a search's frontier networks, measured on this machine when the report
is written: the forward pass of each frontier point's checkpoint at batch 1 and batch 128."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from hourglass.training.checkpoint import MODEL_FILE, load_model

BATCHES = {1: 20, 128: 5}  # batch size: timed repeats (the median is kept)


@torch.no_grad()
def forward_ms(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    model(x)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def frontier_latency(summary: dict, out: Path) -> dict[str, dict[int, float]]:
    """{unit: {batch: milliseconds}} for every frontier point (parameter and FLOP axes) whose
    checkpoint is in ``out/runs`` (the first seed's)."""
    fronts = [*summary["frontiers"].values(), *summary.get("frontiers_by_flops", {}).values()]
    units = {c["unit"] for front in fronts for c in front if c.get("unit")}
    found = {}
    for unit in sorted(units):
        runs = sorted((out / "runs").glob(f"{unit}-s*-e{summary['epochs']}/{MODEL_FILE}"))
        if not runs:
            continue
        model, task = load_model(runs[0])
        found[unit] = {b: forward_ms(model, task.example_inputs(b), n) for b, n in BATCHES.items()}
    return found
