"""Text datasets for the lm task by name: where each one's file is, reading it (size-checked,
UTF-8) and its vocabulary size. No PyTorch: `hourglass params` asks the vocabulary; data/text.py
turns the text into tensors."""

from __future__ import annotations

import functools
import lzma
from importlib import resources
from pathlib import Path

from hourglass.core.errors import UserError

EMBEDDED = "moby-dick"
TEXT_SPECS = {
    EMBEDDED: "Melville's Moby-Dick, 1.19M characters, embedded (public domain); needs no files",
    "tinyshakespeare": "Tiny Shakespeare, tinyshakespeare/input.txt (1.12M characters), "
                       "nanoGPT's shakespeare_char corpus",
}


EMBEDDED_FILE = "moby-dick.txt.xz"  # in this package, read with importlib.resources
MAX_TEXT_BYTES = 256 << 20  # decoded and encoded in memory: about 13 bytes a character at peak


def is_text(name: str) -> bool:
    return name in TEXT_SPECS or name.startswith("text:")


def text_path(name: str, data_dir: Path) -> Path | None:
    """The file a text dataset reads (None: the embedded one)."""
    if name == EMBEDDED:
        return None
    if name == "tinyshakespeare":
        return data_dir / "tinyshakespeare" / "input.txt"
    return Path(name.split(":", 1)[1]).expanduser()


def read_text(name: str, data_dir: Path) -> str:
    path = text_path(name, data_dir)
    if path is None:
        with resources.files("hourglass.data").joinpath(EMBEDDED_FILE).open("rb") as f:
            return lzma.decompress(f.read()).decode("utf-8")
    if not path.is_file():
        hint = (" (from char-rnn or nanoGPT's data/shakespeare_char); pass --data-dir or set "
                "HOURGLASS_DATA_DIR" if name == "tinyshakespeare" else "")
        raise UserError(f"{name}: no text file at {path}{hint}")
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise UserError(f"{path}: {size:,} bytes; a text dataset is held in memory, at most "
                        f"{MAX_TEXT_BYTES:,}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start:,}: {e.reason})") from None


def vocab_size(name: str, root: Path) -> int:
    """A text's vocabulary size: every character of the file (data/text.py). Cached while the
    file is unchanged: a search space asks it once for each architecture."""
    path = text_path(name, root)
    stamp = None if path is None or not path.is_file() else path.stat().st_mtime_ns
    return _vocab_cached(name, root, stamp)


@functools.lru_cache(maxsize=16)
def _vocab_cached(name: str, root: Path, stamp: int | None) -> int:
    return len(set(read_text(name, root)))


def text_rows(data_dir: Path) -> list[dict]:
    """`hourglass data list`'s rows for the named texts."""
    rows = []
    for name, about in TEXT_SPECS.items():
        path = text_path(name, data_dir)
        rows.append({"name": name, "found": path is None or path.is_file(),
                     "path": "(embedded in hourglass)" if path is None else str(path),
                     "shape": None, "classes": None, "about": about, "hint": ""})
    return rows
