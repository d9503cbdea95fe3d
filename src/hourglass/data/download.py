"""Fetch datasets from their canonical sources, verifying checksums before anything is kept.

``$HOURGLASS_DOWNLOAD_MIRROR`` replaces the base address (same file names), for mirrors and
for tests that serve files on loopback.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from hourglass.core.errors import UserError
from hourglass.data.idx import IDX_FILES, IDX_MD5
from hourglass.data.registry import resolve_data_dir

SOURCES = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
}
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
TIMEOUT_S = 30


def _fetch(url: str, dest: Path, where_to_put: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f, length=1 << 20)
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:  # ValueError: no URL
        reason = getattr(e, "reason", e)
        raise UserError(f"cannot download {url} ({reason}); if this machine is offline, "
                        f"copy the files into {where_to_put} yourself") from e


def _md5_of(path: Path, gunzip: bool = False) -> str:
    h = hashlib.md5()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _base(name: str) -> str:
    base = os.environ.get("HOURGLASS_DOWNLOAD_MIRROR") or SOURCES[name]
    return base if base.endswith("/") else base + "/"


def download(name: str, data_dir: str | Path | None = None) -> Path:
    """Download ``name`` into the data directory; returns the folder that now holds it. A
    failed download leaves no folder behind that it created."""
    root = resolve_data_dir(data_dir)
    made = [p for p in (root, root / name) if not p.exists()]
    try:
        return _download(name, root)
    except BaseException:
        for p in reversed(made):  # the dataset's folder, then the data directory
            with contextlib.suppress(OSError):
                p.rmdir()  # only if empty: files kept by an earlier download stay
        raise


def _download(name: str, root: Path) -> Path:
    if name == "digits":
        raise UserError("digits ships with scikit-learn: nothing to download")
    if name == "imagenet32":
        raise UserError("imagenet32 needs an image-net.org account: download "
                        "Imagenet32_train_npz and Imagenet32_val_npz there and unpack them into "
                        f"{root / 'imagenet32'}")
    if name not in SOURCES:
        raise UserError(f"unknown dataset {name!r}; downloadable: {', '.join(SOURCES)}")
    if name == "cifar10":
        return _download_cifar(root)
    dest = root / name
    dest.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_FILES.items():
        target = dest / (stem + ".gz")
        if target.is_file() and _md5_of(target, gunzip=True) == IDX_MD5[name][key]:
            continue
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            part = Path(tmp) / target.name
            _fetch(_base(name) + target.name, part, dest)
            try:
                got = _md5_of(part, gunzip=True)
            except (OSError, EOFError) as e:
                raise UserError(f"{_base(name) + target.name}: not a gzip file ({e})") from e
            if got != IDX_MD5[name][key]:
                raise UserError(f"{_base(name) + target.name}: checksum mismatch (md5 {got}, "
                                f"expected {IDX_MD5[name][key]}); nothing was kept")
            os.replace(part, target)
    return dest


def _download_cifar(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        archive = Path(tmp) / CIFAR_ARCHIVE
        _fetch(_base("cifar10") + CIFAR_ARCHIVE, archive, root / "cifar-10-batches-py")
        if (got := _md5_of(archive)) != CIFAR_MD5:
            raise UserError(f"{CIFAR_ARCHIVE}: checksum mismatch (md5 {got}, expected "
                            f"{CIFAR_MD5}); nothing was kept")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        out = root / "cifar-10-batches-py"
        shutil.rmtree(out, ignore_errors=True)
        os.replace(Path(tmp) / "cifar-10-batches-py", out)
    return out
