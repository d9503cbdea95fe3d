"""Searches over many workers: processes on one journal file, machines on one PostgreSQL
study, and the shapes' full-length trials that workers train after a time budget."""

import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import require, rows, run_search, tiny

from hourglass.search import SearchOptions, load_space, search


def trainers(out: Path) -> set[int]:
    """The pids that hold or held each run folder's lock (core/files.py writes them in)."""
    pids = set()
    for lock in out.glob("runs/*/.hourglass.lock"):
        try:
            found = re.search(r"pid (\d+)", lock.read_text())
        except FileNotFoundError:  # a folder left empty gives its lock up
            continue
        pids |= {int(found.group(1))} if found else set()
    return pids


def split_for_certain(*outs: Path) -> None:
    """How many trials each of two workers takes is the machine's to decide: one may start
    training while the other still imports PyTorch, and on a busy machine finish them all
    first. So the first process seen training is frozen until another trains too."""
    deadline = time.time() + 600  # a hang guard: each wait is for progress, not a time
    while not (seen := set().union(*map(trainers, outs))):
        assert time.time() < deadline, "no worker ever trained"
        time.sleep(0.05)
    if len(seen) > 1:
        return
    (first,) = seen
    os.kill(first, signal.SIGSTOP)
    try:
        while not set().union(*map(trainers, outs)) - {first}:
            assert time.time() < deadline, "only one worker ever trained"
            time.sleep(0.05)
    finally:
        os.kill(first, signal.SIGCONT)


@pytest.mark.integration
def test_two_workers_split_the_work_on_a_journal_file(tmp_path):
    """Two workers share the trials, and none trains twice."""
    space = tiny(tmp_path, epochs=6)
    out = tmp_path / "out"
    proc = run_search(space, "--out", out, "--workers", "2", wait=False)
    split_for_certain(out)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    got = rows(out)
    assert len(got) == 10 and len({x["key"] for x in got}) == 10
    assert all(x["status"] == "complete" for x in got)
    assert len({x["worker"] for x in got}) == 2


@pytest.mark.integration
def test_two_machines_share_one_postgresql_study(tmp_path):
    url = os.environ.get("HOURGLASS_TEST_POSTGRES", "")
    require(bool(url), "no PostgreSQL: set HOURGLASS_TEST_POSTGRES (.ci/postgres.sh starts one)")
    space = tiny(tmp_path, epochs=6, name=f"pg-{uuid.uuid4().hex[:8]}")
    procs = [run_search(space, "--out", tmp_path / f"m{i}", "--storage", url, wait=False)
             for i in range(2)]
    split_for_certain(tmp_path / "m0", tmp_path / "m1")
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()
    final = rows(tmp_path / "m0") if len(rows(tmp_path / "m0")) == 10 else rows(tmp_path / "m1")
    keys = [x["key"] for x in final]
    assert len(keys) == 10 and len(set(keys)) == 10
    assert all(x["status"] == "complete" for x in final)
    assert len({x["worker"] for x in final}) == 2


@pytest.mark.integration
def test_a_spent_budget_starts_nothing_unless_each_shape_needs_its_full_length_trial(tmp_path):
    """The budget is checked before each trial starts; with a deadline already past nothing
    starts, and `compare`'s option then trains one full-length trial per shape, said in the
    report. A deadline in the past makes this independent of the machine's speed."""
    space = tiny(tmp_path, epochs=3)
    spent = time.time() - 1
    summary = search(str(space), load_space(str(space)), tmp_path / "plain",
                     SearchOptions(strategy="pareto-halving", progress=False), deadline=spent)
    assert summary["trials"] == 0 and summary["frontiers"] == {}
    out = tmp_path / "late"
    summary = search(str(space), load_space(str(space)), out,
                     SearchOptions(strategy="pareto-halving", progress=False,
                                   full_length_per_shape=True), deadline=spent)
    got = rows(out)
    assert sorted(r["shape"] for r in got) == ["conventional", "hourglass"]
    assert all(r["status"] == "complete" and r["epochs"] == "3" for r in got)
    assert set(summary["frontiers"]) == {"hourglass", "conventional"}
    assert len(summary["after_budget"]) == 2
    from hourglass.report.tables import intro
    assert "trained to full length after it" in intro(summary)


@pytest.mark.integration
def test_after_the_budget_two_workers_train_the_two_shapes_side_by_side(tmp_path):
    """With two workers, the shapes' full-length trials after the budget train in two
    processes, one shape each (by the shapes' order), not one after the other in one."""
    space = tiny(tmp_path, epochs=3)
    out = tmp_path / "late"
    search(str(space), load_space(str(space)), out,
           SearchOptions(strategy="pareto-halving", progress=False, workers=2,
                         full_length_per_shape=True), deadline=time.time() - 1)
    got = {r["shape"]: r for r in rows(out)}
    assert sorted(got) == ["conventional", "hourglass"]
    assert all(r["status"] == "complete" and r["epochs"] == "3" for r in got.values())
    assert got["hourglass"]["worker"].endswith(f":{os.getpid()}")  # the first shape: here
    assert got["conventional"]["worker"] != got["hourglass"]["worker"]


@pytest.mark.integration
def test_a_shape_whose_after_budget_worker_dies_is_trained_by_the_search(tmp_path, monkeypatch):
    """A worker of the last phase that dies without training its shape leaves that shape to
    the search's own process: the report still holds both shapes."""
    from hourglass.search import runner

    monkeypatch.setattr(runner, "worker_command",
                        lambda *a, **k: [sys.executable, "-c", "raise SystemExit(1)"])
    space = tiny(tmp_path, epochs=3)
    out = tmp_path / "late"
    summary = search(str(space), load_space(str(space)), out,
                     SearchOptions(strategy="pareto-halving", progress=False, workers=2,
                                   full_length_per_shape=True), deadline=time.time() - 1)
    got = rows(out)
    assert sorted(r["shape"] for r in got) == ["conventional", "hourglass"]
    assert {r["worker"] for r in got} == {f"{got[0]['worker'].split(':')[0]}:{os.getpid()}"}
    assert set(summary["frontiers"]) == {"hourglass", "conventional"}
