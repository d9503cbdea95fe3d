"""Injected faults: SIGKILL at seeded moments placed by progress (a few trials or epochs
further, then a random fraction of a second), then a rerun of the same command.

A 2-worker search and a training run are each killed KILLS times; some kills in the search
also tear the journal's last record, as a kill in the middle of a write leaves it. After every
kill nothing finished may be lost or redone, and the end result must equal an uninterrupted
run's to the last digit. `HOURGLASS_KILLS=100 pytest tests/test_kills.py` runs a longer round.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny

KILLS = int(os.environ.get("HOURGLASS_KILLS", "6"))
SEED = 20261130
pytestmark = pytest.mark.integration


def start(argv: list, cwd: Path) -> subprocess.Popen:
    # a session of its own: the kill takes the search's worker processes with it
    return subprocess.Popen([sys.executable, "-m", "hourglass", *map(str, argv)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def finish(argv: list, cwd: Path) -> None:
    p = start(argv, cwd)
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]


def kill_when(p: subprocess.Popen, ready, delay: float) -> bool:
    """Kill the process group ``delay`` seconds after ``ready()`` first holds; False when the
    process ended first. Kills are placed by progress (so many epochs or trials further), not
    by the clock, so that as many land on a slow machine as on a fast one."""
    deadline = time.monotonic() + 600
    while p.poll() is None:
        if ready():
            time.sleep(delay)  # past the checkpoint just written: into the next step or write
            if p.poll() is not None:
                return False
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return True
        assert time.monotonic() < deadline, "no progress in 10 minutes"
        time.sleep(0.02)
    return False


def trained_epochs(out: Path) -> int:
    """Epochs finished over every trial of a search (each trial's history.csv)."""
    return sum(epochs_done(run) for run in (out / "runs").glob("*")) \
        if (out / "runs").is_dir() else 0


def epochs_done(out: Path) -> int:
    path = out / "history.csv"
    return max(0, len(path.read_text().split()) - 1) if path.is_file() else 0


def finished_runs(out: Path) -> dict[str, tuple[str, int]]:
    """Each finished trial's metrics.json: its text and modification time."""
    return {p.parent.name: (p.read_text(), p.stat().st_mtime_ns)
            for p in (out / "runs").glob("*/metrics.json")} if (out / "runs").is_dir() else {}


def trial_rows(out: Path) -> list[str]:
    import csv

    path = out / "trials.csv"
    return [r["key"] for r in csv.DictReader(path.open())] if path.is_file() else []


def frontier(out: Path) -> dict:
    return json.loads((out / "frontier.json").read_text())["frontiers"]


def test_a_search_killed_again_and_again_loses_and_repeats_nothing(tmp_path):
    # 18 trials of 8 short epochs; each run is killed one to three epochs of training further
    # on, so kills land mid-trial and the search is never over before the last kill
    space = tiny(tmp_path, epochs=8, lr="3e-3, 1e-2")
    argv = ["search", space, "--workers", "2", "--quiet", "--out"]
    finish([*argv, tmp_path / "whole"], tmp_path)
    out, rng = tmp_path / "killed", random.Random(SEED)
    kills = torn = attempts = 0
    while kills < KILLS and attempts < 3 * KILLS:
        attempts += 1
        before, n, more = finished_runs(out), trained_epochs(out), rng.randint(1, 3)
        if kill_when(start([*argv, out], tmp_path), lambda n=n, more=more: trained_epochs(out)
                     >= n + more, rng.uniform(0.0, 0.3)):
            kills += 1
            journal = out / "journal.log"
            if kills % 4 == 0 and journal.is_file() and journal.stat().st_size > 20:
                with open(journal, "r+b") as f:  # a write cut short by the kill
                    f.truncate(journal.stat().st_size - rng.randint(1, 15))
                torn += 1
        after = finished_runs(out)
        assert all(after[key] == before[key] for key in before), "a finished trial was redone"
        keys = trial_rows(out)
        assert len(keys) == len(set(keys)), "a configuration appears twice in trials.csv"
    assert kills == KILLS and torn >= KILLS // 4, (kills, torn, attempts)
    finish([*argv, out], tmp_path)
    keys = trial_rows(out)
    assert len(keys) == 18 and len(set(keys)) == 18
    assert frontier(out) == frontier(tmp_path / "whole")


def test_a_training_run_killed_again_and_again_ends_with_the_same_numbers(tmp_path):
    argv = ["train", "--dataset", "digits", "--skip-dim", "384", "--inner-dim", "48",
            "--depth", "4", "--epochs", "60", "--batch-size", "16", "--threads", "1",
            "--quiet", "--resume", "--out"]
    finish([*argv, tmp_path / "whole"], tmp_path)
    out, rng = tmp_path / "killed", random.Random(SEED)
    kills = 0
    for _ in range(KILLS):
        # one to three epochs further (at most 40 of the 60 in all), then into the next epoch
        # or the checkpoint's write
        n, more = epochs_done(out), rng.randint(1, 3)
        kills += kill_when(start([*argv, out], tmp_path),
                           lambda n=n, more=more: epochs_done(out) >= n + more,
                           rng.uniform(0.0, 0.2))
    finish([*argv, out], tmp_path)
    assert kills == KILLS, kills
    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    killed = json.loads((out / "metrics.json").read_text())
    for key in ("test_psnr", "test_psnr_per_image", "eval_psnr", "eval_loss", "best_epoch"):
        assert killed[key] == whole[key], key
    def history(run: Path) -> list[str]:  # without its last column, the wall-clock seconds
        return [line.rsplit(",", 1)[0] for line in (run / "history.csv").read_text().split()]

    assert history(out) == history(tmp_path / "whole")
