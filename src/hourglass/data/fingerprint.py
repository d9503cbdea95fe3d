"""What identifies a dataset's content, so that a run or a search knows its data and refuses
data that changed under it (`train --resume`, `eval`, a search rerun).

A text: the sha256 of its characters, their count and its vocabulary (the characters, in id
order). Files (IDX, CIFAR batches, ImageNet-32 npz, an image folder): a manifest of every file
below the dataset's folder, its relative name, size and modification time, hashed; tar keeps
modification times, so unpacking the same archive again gives the same manifest. The bundled
digits need no files and have a fixed content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hourglass.core.errors import UserError
from hourglass.data.registry import (
    SPECS,
    _folder_root,
    _spec,
    resolve_data_dir,
)
from hourglass.data.text_files import is_text, read_text

NAMES = {"sha256": "content (sha256)", "characters": "length in characters",
         "vocabulary": "vocabulary", "files": "number of files", "bytes": "size in bytes",
         "manifest": "file names, sizes or modification times"}


def dataset_folder(name: str, root: Path) -> Path | None:
    """The folder whose files a dataset is read from (None: bundled or a text)."""
    if name.startswith("folder:"):
        return _folder_root(name, root)
    if name == "cifar10" and (root / "cifar-10-batches-py").is_dir():
        return root / "cifar-10-batches-py"
    subdir = SPECS[name].subdir if name in SPECS else None
    return None if subdir is None else root / subdir


def fingerprint(name: str, data_dir: str | Path | None = None) -> dict:
    """The dataset's fingerprint as a JSON-ready dict (see the module docstring)."""
    _spec(name)  # an unknown name is one clear error
    root = resolve_data_dir(data_dir)
    if is_text(name):
        text = read_text(name, root)
        return {"dataset": name, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "characters": len(text), "vocabulary": "".join(sorted(set(text)))}
    folder = dataset_folder(name, root)
    if folder is None:
        return {"dataset": name}
    h, files, size = hashlib.sha256(), 0, 0
    for parts in sorted(_visible_files(folder)):  # in the order of their paths' parts
        st = os.stat(os.path.join(folder, *parts))
        h.update(f"{'/'.join(parts)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        files, size = files + 1, size + st.st_size
    return {"dataset": name, "files": files, "bytes": size, "manifest": h.hexdigest()}


def _visible_files(folder: Path) -> list[tuple[str, ...]]:
    """Every file below ``folder`` outside hidden folders (and not into linked ones), but for
    hidden files, as its relative path's parts: os.walk and strings, where Paths cost seconds
    for a 60,000-image folder."""
    found = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(top).relative_to(folder).parts
        found += [(*rel, n) for n in names
                  if not n.startswith(".") and os.path.isfile(os.path.join(top, n))]
    return found


def changes(before: dict, now: dict) -> str | None:
    """What changed between two fingerprints of a run's data, in words; None if nothing."""
    if not isinstance(before, dict):
        raise UserError(f"a data fingerprint must be a JSON object, got {type(before).__name__}")
    differ = [k for k in NAMES if before.get(k) != now.get(k)]
    if not differ:
        return None
    said = []
    for k in differ:
        was, got = before.get(k), now.get(k)
        if k == "vocabulary" and was is not None and got is not None:
            added, gone = sorted(set(got) - set(was)), sorted(set(was) - set(got))
            said.append(f"vocabulary {len(was)} -> {len(got)} characters"
                        + (f" (new: {''.join(added)[:10]!r})" if added else "")
                        + (f" (gone: {''.join(gone)[:10]!r})" if gone else "")
                        + (" (the same characters in another order)" if not added + gone
                           else ""))
        elif k in ("characters", "files", "bytes"):
            said.append(f"{NAMES[k]} {was} -> {got}")
        else:
            said.append(f"its {NAMES[k]}")
    return f"{before.get('dataset')} changed since this run started: " + ", ".join(said)
