"""Atomic file writes (a kill at any moment leaves either the old file or the new one) and
the cache directory."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def open_atomic(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write that appears at ``path`` only once the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with open_atomic(path) as f:
        f.write(data)


def write_npy_atomic(path: str | Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    write_bytes_atomic(path, buf.getvalue())


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def files_key(paths: list[Path], tags: list | None = None, header: str = "") -> str:
    """A short hash of files' names, sizes and mtimes (and a tag per file): a cache key that
    editing, adding or removing any of the files changes."""
    h = hashlib.sha256(header.encode())
    for i, p in enumerate(paths):
        st = p.stat()
        tag = "" if tags is None else f"\0{tags[i]}"
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}{tag}\n".encode())
    return h.hexdigest()[:24]


def cache_dir() -> Path:
    """Where decoded datasets are cached: $HOURGLASS_CACHE_DIR, else $XDG_CACHE_HOME/hourglass,
    else ~/.cache/hourglass."""
    if os.environ.get("HOURGLASS_CACHE_DIR"):
        return Path(os.environ["HOURGLASS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hourglass"
