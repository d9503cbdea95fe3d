"""What produced a result: the code's commit (and whether the tree had changes) and the
command, recorded with every search so that a committed study stays reproducible after a
later change moves its numbers (a corrected recipe, another training path)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from hourglass.core.version import __version__

SOURCE = Path(__file__).resolve().parent.parent  # the package


def code_version() -> dict:
    """{"commit", "dirty"} of the checkout this package runs from, or its version when it is
    not a git checkout (an installed wheel)."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(SOURCE), *args], capture_output=True,
                                  text=True, timeout=10, check=True).stdout.strip()

        commit = git("rev-parse", "HEAD")
        # changes to the package or its studies count; run folders and notes do not
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", str(SOURCE)))
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "version": __version__}


def provenance(argv: list[str] | None = None) -> dict:
    """The code version and the command line that is running (as `hourglass ...`)."""
    args = sys.argv[1:] if argv is None else argv
    return {**code_version(), "command": shlex.join(["hourglass", *args])}


def resumed(previous: dict | None, now: dict) -> dict:
    """The record of a search run again: the first run's, with each later run at other code
    or with another command listed under ``resumed`` (its trials may have trained there)."""
    if not isinstance(previous, dict) or "command" not in previous:
        return now
    first = {k: v for k, v in previous.items() if k != "resumed"}
    later = list(previous.get("resumed", []))
    if now != (later[-1] if later else first):
        later.append(now)
    return {**first, "resumed": later} if later else first


def _where(p: dict) -> str:
    if not p.get("commit"):
        return f"hourglass-mlp {p.get('version', '?')}"
    return f"commit {p['commit'][:12]}" + (" with uncommitted changes" if p.get("dirty") else "")


def describe(p: dict | None) -> str:
    """One line for a report: 'produced by `cmd` at commit abc1234 (with local changes)', and
    each later run that resumed it."""
    if not p:
        return ""
    return " ".join([f"Produced by `{p['command']}` at {_where(p)}.",
                     *(f"Resumed by `{r['command']}` at {_where(r)}."
                       for r in p.get("resumed", []))])
