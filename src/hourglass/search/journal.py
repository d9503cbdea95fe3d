"""Recovery of a damaged journal file before a search opens it.

Optuna's journal is one JSON record per line, replayed in order. A kill or a full disk in the
middle of a write leaves a torn last line; Optuna skips it on reading, but the next write is
appended onto it, and from then on every read of the merged line fails. Damage inside the
file (bytes overwritten, garbage appended) fails every read at once. Each record depends on
the ones before it (trial numbers are counted, not stored), so what can be trusted is the
longest prefix of whole, valid records: that is kept, and the rest is moved aside into a file
of its own, never deleted. The trials recorded after the damage are trained again; those that
had finished find their metrics in their run directories and cost nothing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from hourglass.core.errors import UserError


def intact_prefix(data: bytes) -> int:
    """Bytes at the start of ``data`` that are whole lines, each one JSON object."""
    good = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            record = json.loads(line)
        except ValueError:
            break
        if not isinstance(record, dict) or "op_code" not in record:
            break
        good += len(line)
    return good


def repair(path: Path) -> str | None:
    """Cut ``path`` back to its intact prefix; returns what was done, or None if it was whole.
    Call it only while no process writes the journal (before a search starts its workers)."""
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read the search journal ({e.strerror})") from e
    good = intact_prefix(data)
    if good == len(data):
        return None
    kept = data[:good].count(b"\n")
    dropped = data[good:]
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    try:
        aside.write_bytes(dropped)
        with open(path, "r+b") as f:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise UserError(f"{path} is damaged after record {kept} and could not be repaired "
                        f"({e.strerror}); copy the first {good} bytes to a new journal.log to "
                        "recover the search by hand") from e
    lines = dropped.count(b"\n") + (not dropped.endswith(b"\n"))
    return (f"{path.name}: kept its first {kept} intact records; {len(dropped)} damaged or "
            f"torn bytes after them ({lines} line{'s' * (lines != 1)}) moved to {aside.name}; "
            "trials recorded there run again (finished ones reuse their run directories)")
