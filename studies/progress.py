"""A long study's finished work, kept in the repository so that a new machine resumes it.

    python studies/progress.py save RUNS_DIR/NAME studies/NAME/progress
    python studies/progress.py restore studies/NAME/progress RUNS_DIR/NAME

A study of many core-hours outlives the machine it started on, and only what is committed
survives. ``save`` copies, from a study's runs folder, what resuming and the tables need and
nothing heavy: the search's journal and provenance, and every finished run's small files
(config, data fingerprint, history, metrics), never its checkpoints. ``restore`` puts them back
into a runs folder, never over a finished run or a journal already there (a finished record
that replaces an interrupted copy deletes that copy's checkpoints), and fails the
trials the journal still shows running: their workers died with the old machine, so the
search trains them again. Then the study's own command resumes as usual (studies/run.sh, the
ablations' run.sh): a finished trial or run is skipped. The report's latency table and sample
images read checkpoints, so a report of a restored study leaves out the networks trained
elsewhere.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

# What a resumed study reads: the search's state at the top, each finished run's record below
STUDY_FILES = ("journal.log", "provenance.json")
RUN_FILES = ("config.json", "data.json", "history.csv", "metrics.json")
FINISHED = "metrics.json"
CHECKPOINTS = ("model.safetensors", "trainer.safetensors")  # never saved: too heavy for git


def finished_runs(folder: Path) -> list[Path]:
    return sorted(m.parent for m in folder.rglob(FINISHED))


def save(runs: Path, progress: Path) -> int:
    """Copy the study's state and its finished runs' records; returns the runs copied."""
    if not runs.is_dir():
        raise SystemExit(f"{runs}: no such runs folder")
    progress.mkdir(parents=True, exist_ok=True)
    for name in STUDY_FILES:
        if (runs / name).is_file():
            data = (runs / name).read_bytes()
            if name == "journal.log":  # a worker may be writing it: keep whole records only
                data = data[:data.rfind(b"\n") + 1]
            tmp = progress / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp.replace(progress / name)
    done = finished_runs(runs)
    for run in done:
        target = progress / run.relative_to(runs)
        target.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            if (run / name).is_file():
                shutil.copy2(run / name, target / name)
    return len(done)


def fail_running_trials(journal: Path) -> int:
    """Mark the journal's running trials failed (without a reason: 'killed', so run again)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    n = 0
    for study in storage.get_all_studies():
        for t in storage.get_all_trials(study._study_id, deepcopy=False,
                                        states=(TrialState.RUNNING,)):
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            n += 1
    return n


def restore(progress: Path, runs: Path) -> tuple[int, int]:
    """Copy saved files into ``runs`` but for its finished runs and its journal; returns (runs
    restored, trials failed)."""
    if not progress.is_dir():
        raise SystemExit(f"{progress}: no saved progress")
    runs.mkdir(parents=True, exist_ok=True)
    journal_restored = False
    for name in STUDY_FILES:
        if (progress / name).is_file() and not (runs / name).exists():
            shutil.copy2(progress / name, runs / name)
            journal_restored |= name == "journal.log"
    restored = 0
    for run in finished_runs(progress):
        target = runs / run.relative_to(progress)
        if (target / FINISHED).exists():
            continue
        target.mkdir(parents=True, exist_ok=True)
        for f in run.iterdir():  # a finished record replaces an interrupted one's files
            if f.name in RUN_FILES:
                shutil.copy2(f, target / f.name)
        for name in CHECKPOINTS:  # the interrupted attempt's weights are not the record's
            (target / name).unlink(missing_ok=True)
        restored += 1
    # only a journal copied here now can hold trials no process runs; one already in the runs
    # folder may belong to a search running on this machine
    failed = fail_running_trials(runs / "journal.log") if journal_restored else 0
    return restored, failed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save", help="copy a study's finished work into the repository")
    s.add_argument("runs", type=Path)
    s.add_argument("progress", type=Path)
    r = sub.add_parser("restore", help="put saved work back into a runs folder")
    r.add_argument("progress", type=Path)
    r.add_argument("runs", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "save":
        print(f"{args.progress}: {save(args.runs, args.progress)} finished runs")
    else:
        restored, failed = restore(args.progress, args.runs)
        print(f"{args.runs}: {restored} finished runs restored; {failed} trials that were "
              "running when the work was saved will train again")


if __name__ == "__main__":
    sys.exit(main())
