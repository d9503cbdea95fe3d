"""Atomic file writes (a kill at any moment leaves either the old file or the new one) and
the cache directory."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import io
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from hourglass.core.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(path: Path) -> None:
    """Delete the temporary files a killed writer of ``path`` left (named with its pid): a
    SIGKILL mid-write cannot clean up after itself, so the next writer does."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def open_atomic(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write that appears at ``path`` only once the block finishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
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


def file_stamps(paths: list) -> list[str]:
    """Each file's name, size and mtime as one string: what files_key hashes."""
    stamps = []
    for p in paths:
        st = os.stat(p)
        stamps.append(f"{p}\0{st.st_size}\0{st.st_mtime_ns}")
    return stamps


def files_key(paths: list, tags: list | None = None, header: str = "",
              stamps: list[str] | None = None) -> str:
    """A short hash of files' names, sizes and mtimes (and a tag per file): a cache key that
    editing, adding or removing any of the files changes. ``stamps`` (file_stamps of the
    paths, taken once) saves a second stat of every file."""
    h = hashlib.sha256(header.encode())
    for i, stamp in enumerate(file_stamps(paths) if stamps is None else stamps):
        tag = "" if tags is None else f"\0{tags[i]}"
        h.update(f"{stamp}{tag}\n".encode())
    return h.hexdigest()[:24]


def cache_dir() -> Path:
    """Where decoded datasets are cached: $HOURGLASS_CACHE_DIR, else $XDG_CACHE_HOME/hourglass,
    else ~/.cache/hourglass."""
    if os.environ.get("HOURGLASS_CACHE_DIR"):
        return Path(os.environ["HOURGLASS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hourglass"


LOCK_FILE = ".hourglass.lock"


class FolderLock:
    """One writer per output folder: an exclusive flock on DIR/.hourglass.lock, held while the
    process runs. The kernel drops it when the holder dies, however it dies, so a lock left by
    a killed process is simply taken over. The file names its holder for the refusal."""

    def __init__(self, folder: Path, what: str) -> None:
        self.folder, self.created, self.fd = folder, not folder.exists(), -1
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"--out {folder}: cannot create the folder ({e.strerror})") from e
        path = folder / LOCK_FILE
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        except OSError as e:
            raise UserError(f"{path}: cannot open the folder's lock file ({e.strerror})") from e
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 512, 0).decode("utf-8", "replace").strip()
            os.close(self.fd)
            raise UserError(f"{folder} is in use by {holder or 'another process'}; wait for "
                            "it to finish or choose another --out") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{what} (pid {os.getpid()} on {socket.gethostname()}, since "
                           f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode(), 0)

    def release(self) -> None:
        """Drop the lock; a folder it created that holds nothing else (the command was
        refused before writing) is removed, so a refused command leaves nothing behind."""
        if self.fd < 0:
            return
        if self.created and [p.name for p in self.folder.iterdir()] == [LOCK_FILE]:
            (self.folder / LOCK_FILE).unlink()
            with contextlib.suppress(OSError):
                self.folder.rmdir()
        os.close(self.fd)  # closing drops the flock; the file stays for the next writer
        self.fd = -1

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
