"""One writer per output folder: a second `train` or `search` on a folder in use is refused with
one line naming the holder, a lock left by a killed process is taken over, and a search folder
holding another space's search is refused unless asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny

from hourglass.core.errors import UserError
from hourglass.core.files import LOCK_FILE, FolderLock

TRAIN = ["train", "--dataset", "digits", "--skip-dim", "64", "--inner-dim", "8", "--depth", "2",
         "--threads", "1", "--quiet", "--out"]


def start(argv: list, cwd: Path) -> subprocess.Popen:
    # one thread each: two threads on a core another job keeps busy crawl
    return subprocess.Popen([sys.executable, "-m", "hourglass", *map(str, argv)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def wait_for_holder(folder: Path, p: subprocess.Popen, what: str) -> None:
    """Until ``p`` holds the folder: progress, not a time (a hang guard only)."""
    deadline = time.monotonic() + 600
    lock = folder / LOCK_FILE
    while not (lock.is_file() and f"pid {p.pid} " in lock.read_text()):
        assert p.poll() is None, p.stderr.read()
        assert time.monotonic() < deadline, f"{what} never took {folder}"
        time.sleep(0.02)


def test_a_second_holder_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken(tmp_path):
    held = rf"out is in use by hourglass train \(pid {os.getpid()} on .*\); wait for it"
    with FolderLock(tmp_path / "out", "hourglass train"), pytest.raises(UserError, match=held):
        FolderLock(tmp_path / "out", "hourglass search s")
    FolderLock(tmp_path / "out", "again").release()  # released: free to take
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from hourglass.core.files import FolderLock; "
        f"FolderLock(Path({str(tmp_path / 'dead')!r}), 'x'); print('held', flush=True); "
        "time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(UserError, match="in use by x"):
        FolderLock(tmp_path / "dead", "y")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    FolderLock(tmp_path / "dead", "y").release()  # the kernel dropped the dead one's lock


@pytest.mark.integration
def test_two_trainings_on_one_folder_one_trains_the_other_is_refused(tmp_path):
    out = tmp_path / "run"
    first = start([*TRAIN, out, "--epochs", "200"], tmp_path)
    wait_for_holder(out, first, "the first run")
    second = start([*TRAIN, out, "--epochs", "200"], tmp_path)
    _, err = second.communicate(timeout=600)
    assert second.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"is in use by hourglass train (pid {first.pid} " in err
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert (out / "metrics.json").is_file()  # the first run finished, nothing lost


@pytest.mark.integration
def test_two_searches_of_different_spaces_on_one_folder(tmp_path):
    out = tmp_path / "search"
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    space_a, space_b = tiny(tmp_path / "a", epochs=20, name="a"), tiny(tmp_path / "b", name="b")
    first = start(["search", space_a, "--out", out, "--quiet"], tmp_path)
    wait_for_holder(out, first, "the first search")
    second = start(["search", space_b, "--out", out, "--quiet"], tmp_path)
    _, err = second.communicate(timeout=600)
    assert second.returncode == 2 and "is in use by hourglass search a (pid" in err, err
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    trials = (out / "trials.csv").read_text()
    # afterwards, too: the folder holds space a's search, and says so
    later = start(["search", space_b, "--out", out, "--quiet"], tmp_path)
    _, err = later.communicate(timeout=600)
    assert later.returncode == 2 and "holds the search of space 'a', not 'b'" in err, err
    assert (out / "trials.csv").read_text() == trials  # nothing of a's was replaced
    asked = start(["search", space_b, "--out", out, "--quiet", "--other-space"], tmp_path)
    _, err = asked.communicate(timeout=600)
    assert asked.returncode == 0, err
