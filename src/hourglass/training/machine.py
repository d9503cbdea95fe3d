"""The machine a training session runs on: a run's seconds, and the last bits of its fp32
numbers, are that machine's (its CPU's kernels, the thread count, PyTorch's version), so a run
records each machine it trained on (metrics.json "machines"; trials.csv's "machine")."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from hourglass.training import parallel

CPUINFO = Path("/proc/cpuinfo")
CPUINFO_BYTES = 1 << 16  # the first processor's lines are at the top; many-core files are long


def cpu_name() -> str:
    """The CPU's model name, as Linux reports it, or what the platform module knows."""
    try:
        with CPUINFO.open("rb") as f:
            head = f.read(CPUINFO_BYTES).decode("utf-8", "replace")
        for line in head.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def this_machine() -> dict:
    """{"cpu", "threads" (each process's), "processes", "torch"} of this training session."""
    return {"cpu": cpu_name(), "threads": torch.get_num_threads(),
            "processes": parallel.world()[1], "torch": torch.__version__}
