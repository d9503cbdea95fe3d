"""Run a search: workers claim trials from the store, train them one at a time, and tell the
results; trials.csv and frontier.json are rewritten as trials finish (search/results.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from hourglass.core.choices import STRATEGIES
from hourglass.core.errors import UserError
from hourglass.core.files import FolderLock, write_json_atomic
from hourglass.core.provenance import provenance, resumed
from hourglass.data import ImageDataset, load_dataset
from hourglass.data.fingerprint import changes, fingerprint
from hourglass.models.family import non_embedding
from hourglass.search import journal
from hourglass.search.frontier import metric_name
from hourglass.search.progress import Progress, finished
from hourglass.search.results import FRONTIER_FILE, write_results
from hourglass.search.space import SearchSpace, rung_epochs
from hourglass.search.store import (
    JOURNAL_FILE,
    Record,
    Store,
    open_storage,
    trial_key,
    unit_of,
)
from hourglass.search.strategies import WAIT, Job, Sample, full_length_job, next_job
from hourglass.training import train
from hourglass.training.checkpoint import DATA_FILE, read_json

PROVENANCE_FILE = "provenance.json"
MAX_REPEATS = 20  # NSGA-II re-sampling finished units this often in a row: take one in order
MAX_LATE_TRIES = 2  # full-length trials per shape after the budget, failures included


@dataclass
class SearchOptions:
    strategy: str = "grid"
    max_trials: int | None = None  # architectures x learning rates started (seeds not counted)
    time_budget_min: float | None = None
    workers: int = 1
    storage: str | None = None
    data_dir: str | None = None
    eta: int = 3  # pareto-halving: keep 1/eta per rung, epochs grow by eta
    progress: bool = True
    # after the budget, train each shape still without a finished full-length trial to full
    # length (compare's promise: its report always holds both shapes, on any machine)
    full_length_per_shape: bool = False
    other_space: bool = False  # let a search of another space into a folder that holds one

    def check(self) -> None:
        if self.strategy not in STRATEGIES:
            raise UserError(f"--strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if self.workers < 1:
            raise UserError(f"--workers must be at least 1, got {self.workers}")
        if self.max_trials is not None and self.max_trials < 1:
            raise UserError(f"--max-trials must be at least 1, got {self.max_trials}")
        if self.time_budget_min is not None and self.time_budget_min <= 0:
            raise UserError(f"--time-budget must be positive, got {self.time_budget_min}")
        if self.eta < 2:
            raise UserError(f"--eta must be at least 2, got {self.eta}")


def _reason(e: Exception) -> str:
    one_line = " ".join(str(e).split())
    return one_line if isinstance(e, UserError) else f"{type(e).__name__}: {one_line}"


def run_trial(store: Store, job: Job, trial, out: Path, data: ImageDataset,
              data_dir: str | None) -> None:
    """Train a claimed trial and tell the store its result; a failure is a result too."""
    space = store.space
    cfg = space.train_config(job.unit, job.seed, job.epochs, data_dir)
    run_dir = out / "runs" / trial.user_attrs["key"]
    stop = store.heartbeat(trial)
    t0 = time.perf_counter()
    try:
        try:
            result = train(cfg, run_dir, resume=True, progress=False, data=data)
        except Exception as e:  # a failed trial is a result, not the end of the search
            result = e
        seconds = round(time.perf_counter() - t0, 3)
        if isinstance(result, Exception):
            store.tell(trial, None, _reason(result), params=space.params(job.unit.arch),
                       seconds=seconds)
        else:
            values = (float(non_embedding(result)), float(result[metric_name(space.task)]))
            store.tell(trial, values, None, metrics=result, run_dir=str(run_dir),
                       seconds=seconds)
    finally:
        stop.set()


def _recorded(out: Path) -> dict | None:
    """provenance.json as an earlier run left it; a missing or damaged one starts afresh."""
    try:
        if (out / PROVENANCE_FILE).stat().st_size < 1 << 20:
            return json.loads((out / PROVENANCE_FILE).read_text())
    except (OSError, ValueError):
        pass
    return None


def threads_per_worker(workers: int) -> int:
    """The cores shared among the workers, or fewer where the user set OMP_NUM_THREADS:
    on cores another job keeps busy, two threads each can train 50x slower than one."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return min(threads, int(cap)) if cap.isdigit() and int(cap) > 0 else threads


def work(store: Store, out: Path, opts: SearchOptions, deadline: float | None) -> None:
    """One worker: claim, train, tell, until the strategy is done or time is up."""
    space = store.space
    data = load_dataset(space.dataset, opts.data_dir, split_rng=space.split_rng)
    repeats = 0
    while deadline is None or time.time() < deadline:
        store.reap_dead_workers()
        records = store.records()
        job = next_job(opts.strategy, space, records, opts.eta, opts.max_trials)
        if job is None:
            break
        if job == WAIT:
            time.sleep(0.5)
            continue
        if isinstance(job, Sample):
            if _sample_and_run(store, job, records, out, data, opts):
                repeats = 0
            else:
                repeats += 1
                if repeats < MAX_REPEATS:
                    continue
                repeats = 0  # the sampler keeps proposing finished units: take one in order
                fallback = next_job("random", space, records, opts.eta, opts.max_trials)
                if isinstance(fallback, Job):
                    _claim_and_run(store, fallback, out, data, opts)
        else:
            _claim_and_run(store, job, out, data, opts)
        write_results(store, out)


def _sample_and_run(store: Store, job: Sample, records: list[Record], out: Path,
                    data: ImageDataset, opts: SearchOptions) -> bool:
    """Train the unit NSGA-II proposes; False when it was run already (the sampler is told the
    known result, so it learns from it, and nothing trains)."""
    trial = store.sample(job.shape, job.seed, job.epochs, rung=0)
    unit = unit_of(store.space.family, job.shape, trial.params)
    done = [r for r in records if r.unit == unit and r.claims and r.seed == job.seed]
    if done:
        trial.set_user_attr("repeat", True)
        values = done[0].values or (float(store.space.size(unit.arch)), float("-inf"))
        trial.study.tell(trial, list(values))
        return False
    run_trial(store, Job(unit, job.seed, job.epochs), trial, out, data, opts.data_dir)
    return True


def _claim_and_run(store: Store, job: Job, out: Path, data: ImageDataset,
                   opts: SearchOptions, **attrs) -> None:
    trial = store.claim(job.unit, job.seed, job.epochs, rung=job.rung, **attrs)
    if trial is None:
        return
    # Optuna hands out the oldest waiting trial of the study, which may be one another
    # process enqueued (a worker killed between enqueueing and asking leaves one): train the
    # trial received, never the one intended under the received trial's key
    a = trial.user_attrs
    if a["key"] != trial_key(job.unit, job.seed, job.epochs):
        job = Job(unit_of(store.space.family, job.unit.arch.shape, trial.params),
                  int(a["seed"]), int(a["epochs"]), int(a.get("rung", 0)))
    run_trial(store, job, trial, out, data, opts.data_dir)


def complete_shapes(store: Store, out: Path, opts: SearchOptions,
                    shapes: list[str] | None = None) -> None:
    """Train each shape (of ``shapes``, default all) that has no finished full-length trial yet
    to full length (its best unit so far: strategies.full_length_job), marked
    ``after_budget`` in the results."""
    data, tries = None, dict.fromkeys(store.space.shapes, 0)
    while (job := full_length_job(store.space, store.records(), opts.eta, shapes)) is not None:
        shape = job.unit.arch.shape
        if tries[shape] >= MAX_LATE_TRIES:
            break
        tries[shape] += 1
        if data is None:
            data = load_dataset(store.space.dataset, opts.data_dir,
                                split_rng=store.space.split_rng)
        if opts.progress:
            print(f"[search] the budget ended with no full-length {shape} trial: training "
                  f"{job.unit.arch.label} lr {job.unit.lr:g} to {job.epochs} epochs",
                  file=sys.stderr, flush=True)
        _claim_and_run(store, job, out, data, opts, after_budget=True)
        write_results(store, out)


def complete_side_by_side(space_spec: str, store: Store, out: Path, opts: SearchOptions) -> None:
    """complete_shapes with the shapes shared among up to ``opts.workers`` processes (this
    one and workers started for it), so that they train side by side, not one after another."""
    store.reap_dead_workers()
    full = {r.unit.arch.shape for r in store.records()
            if r.state == "complete" and r.epochs == store.space.epochs}
    missing = [s for s in store.space.shapes if s not in full]
    if not missing:
        return
    n = min(opts.workers, len(missing))
    shares = [missing[i::n] for i in range(n)]
    threads = threads_per_worker(n)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    procs = [subprocess.Popen(worker_command(space_spec, out, opts, None, after_budget=share),
                              env=env) for share in shares[1:]]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        complete_shapes(store, out, opts, shares[0])
        if any([p.wait() for p in procs]):  # a worker died: what it held is trained here
            store.reap_dead_workers()
            complete_shapes(store, out, opts)
    finally:
        for p in procs:
            p.wait()
        torch.set_num_threads(previous)


def worker_command(space_spec: str, out: Path, opts: SearchOptions, deadline: float | None,
                   after_budget: list[str] | None = None):
    """A worker process of this search: it trains the strategy's trials until the deadline,
    or with ``after_budget`` those shapes' full-length trials (complete_shapes)."""
    cmd = [sys.executable, "-m", "hourglass", "search", space_spec, "--out", str(out),
           "--strategy", opts.strategy, "--eta", str(opts.eta), "--worker", "--quiet"]
    if after_budget:
        cmd += ["--after-budget", ",".join(after_budget)]
    for flag, value in (("--max-trials", opts.max_trials), ("--storage", opts.storage),
                        ("--data-dir", opts.data_dir), ("--deadline", deadline)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


def _check_folder_space(out: Path, space: SearchSpace, opts: SearchOptions) -> None:
    """A search folder holds one space's search: its trials.csv, frontier.json and report
    would otherwise be replaced by another's without a word. ``opts.other_space`` lets a
    second space into the folder (its files then show the new search). The spaces a folder
    holds: its journal's studies, or with a shared database, what its frontier.json shows."""
    if opts.storage is None:
        held = {m.group(1) for s in open_storage(None, out).get_all_studies()
                if (m := re.match(r"^(.*):(?:hourglass|conventional)(?::\d+)?$", s.study_name))}
    else:
        try:
            held = {json.loads((out / FRONTIER_FILE).read_text())["space"]["name"]}
        except (OSError, ValueError, KeyError, TypeError):
            held = set()
    if held and space.name not in held and not opts.other_space:
        raise UserError(f"{out} holds the search of space {sorted(held)[0]!r}, not "
                        f"{space.name!r}; choose another --out, or pass --other-space to add "
                        "this one (the folder's trials.csv and report then show it)")


def _check_folder_data(out: Path, space: SearchSpace, opts: SearchOptions) -> None:
    """A search knows its data: a rerun on data that changed since it started would put two
    datasets on one frontier, so it is refused, saying what changed."""
    now = fingerprint(space.dataset, opts.data_dir)
    if (out / DATA_FILE).is_file():
        changed = changes(read_json(out / DATA_FILE, "data fingerprint"), now)
        if changed:
            raise UserError(f"{out}: {changed}; search it again into another --out")
    else:
        write_json_atomic(out / DATA_FILE, now)


def search(space_spec: str, space: SearchSpace, out: str | Path, opts: SearchOptions,
           deadline: float | None = None, worker_only: bool = False,
           after_budget: list[str] | None = None) -> dict:
    """Run (or resume) the search; returns frontier.json's contents. ``worker_only``: be one
    worker of the search that holds the folder (``after_budget``: train these shapes'
    full-length trials, complete_shapes)."""
    opts.check()
    if space.lr_extend and opts.strategy != "lr-then-seeds":
        raise UserError(f"{space.name}: lr_extend widens lr-then-seeds' lr search; run it with "
                        f"--strategy lr-then-seeds, or leave lr_extend out for {opts.strategy}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder for the search")
    if worker_only:
        return _search(space_spec, space, out, opts, deadline, worker_only, after_budget)
    with FolderLock(out, f"hourglass search {space.name}"):
        return _search(space_spec, space, out, opts, deadline, worker_only)


def _search(space_spec: str, space: SearchSpace, out: Path, opts: SearchOptions,
            deadline: float | None, worker_only: bool,
            after_budget: list[str] | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    if deadline is None and opts.time_budget_min is not None:
        deadline = time.time() + 60 * opts.time_budget_min
    if opts.storage is None and not worker_only:  # before any worker reads or writes it
        repaired = journal.repair(out / JOURNAL_FILE)
        if repaired:
            print(f"[search] {repaired}", file=sys.stderr, flush=True)
    if not worker_only:
        _check_folder_space(out, space, opts)
        _check_folder_data(out, space, opts)
        # what produced this search: the report says it
        write_json_atomic(out / PROVENANCE_FILE, resumed(_recorded(out), provenance()))
    store = Store(space, out, opts.storage)  # creates the studies; checks the space matches
    if worker_only:
        if after_budget:
            complete_shapes(store, out, opts, after_budget)
        else:
            work(store, out, opts, deadline)
        return {}
    before = len(finished(store.records()))
    bar = Progress(store, opts.strategy, opts.eta, opts.max_trials) if opts.progress else None
    threads = threads_per_worker(opts.workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}  # oversubscribed cores crawl
    procs = [subprocess.Popen(worker_command(space_spec, out, opts, deadline), env=env)
             for _ in range(opts.workers - 1)]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        work(store, out, opts, deadline)
    finally:
        torch.set_num_threads(previous)
        for p in procs:
            p.wait()
        if bar is not None:
            bar.close()
    if opts.full_length_per_shape:
        complete_side_by_side(space_spec, store, out, opts)
    summary = write_results(store, out)
    summary["ran"] = len(finished(store.records())) - before
    return summary


__all__ = ["SearchOptions", "search", "rung_epochs"]
