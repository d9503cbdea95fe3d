"""Shared fixtures. Real-data tests use ../shared/data (or $HOURGLASS_TEST_DATA) and skip with a
reason when it is absent; CI always has it."""

from __future__ import annotations

import csv
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# One thread per process, here and in every process a test starts: CI's cores are shared with
# other jobs, and there a search worker's two threads can train 20x slower than one (a tiny
# digits trial: 9.5 s against 0.4). Set before PyTorch first reads it; a run may still ask
# for more with --threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HOURGLASS_TEST_DATA", ROOT.parent / "shared" / "data"))

# The test files that take longest in CI (about one minute to five each), longest first.
# `make test` hands whole files to its two workers in collection order (--dist loadfile
# --no-loadscope-reorder), so these go first and the many short files fill in after them:
# the two workers then end close together, where xdist's own order (most tests first) left
# these few-test files to the end.
LONGEST_FILES = ("test_report.py", "test_kills.py", "test_plugins.py", "test_bench.py",
                 "test_search.py", "test_integration.py", "test_search_workers.py",
                 "test_folders.py", "test_streaming.py", "test_data.py", "test_compare_cifar.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files whole


def session_dir(tmp_path_factory, worker_id: str, name: str) -> Path:
    """A folder of this test session shared by all its pytest-xdist workers."""
    base = tmp_path_factory.getbasetemp()
    path = (base if worker_id == "master" else base.parent) / name
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory, worker_id):
    """Decoded-image caches go to a temporary folder, never the user's ~/.cache; one for all
    workers, so that CIFAR-10's 60,000 JPEGs are decoded once a session (writes are atomic)."""
    os.environ["HOURGLASS_CACHE_DIR"] = str(session_dir(tmp_path_factory, worker_id, "cache"))
    os.environ.pop("HOURGLASS_DATA_DIR", None)


def require(condition: bool, reason: str) -> None:
    """Skip outside CI; in CI (which installs every server and tool) a missing one fails."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)


def need(path: Path) -> Path:
    require(path.exists(), f"real data not found at {path} (set HOURGLASS_TEST_DATA)")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Folder with mnist/ and fashion-mnist/ IDX files."""
    need(SHARED_DATA / "mnist")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory, worker_id) -> Path:
    """A data directory whose cifar10/ is the shared JPEG archive, extracted once for all the
    session's pytest-xdist workers (read only: no test writes into it), by GNU tar: Python's
    tarfile took about 60 s of a busy CI core for the 60,000 files, tar about 6."""
    archive = need(SHARED_DATA / "cifar10-jpeg.tar.gz")
    root = session_dir(tmp_path_factory, worker_id, "cifar-data")
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the one extraction
        if not (root / "extracted").is_file():
            shutil.rmtree(root / "cifar10", ignore_errors=True)
            (root / "cifar10").mkdir()
            subprocess.run(["tar", "xzf", str(archive), "-C", str(root / "cifar10")], check=True)
            (root / "extracted").touch()
    return root


@pytest.fixture(scope="session")
def mnist(data_dir):
    from hourglass.data import load_dataset

    return load_dataset("mnist", data_dir)


TINY = """
name = "{name}"
task = "denoise"
dataset = "digits"
epochs = {epochs}
batch_size = 64
seeds = [0, 1]
[hourglass]
skip_dim = [48, 96]
inner_dim = [8]
depth = [1, 2]
lr = [{lr}]
[conventional]
skip_dim = [64]
inner_dim = [96]
depth = [1]
lr = [{conventional_lr}]
"""


def tiny(tmp_path: Path, epochs=2, lr="3e-3", name=None, conventional_lr="3e-3") -> Path:
    """A 10-trial search space on digits (4 Hourglass and 1 conventional architecture x the
    given learning rates x 2 seeds): seconds per trial."""
    path = tmp_path / "space.toml"
    path.write_text(TINY.format(name=name or "tiny", epochs=epochs, lr=lr,
                                conventional_lr=conventional_lr))
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished 1-epoch run of a small Hourglass MLP on digits, for tests that damage a copy."""
    from hourglass.cli.main import main

    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["train", "--skip-dim", "64", "--inner-dim", "8", "--depth", "2", "--epochs",
                 "1", "--quiet", "--out", str(out)]) == 0
    return out


def one_line(capsys, argv, match: str) -> None:
    """The command refuses with exit status 2 and one line on stderr that holds ``match``."""
    from hourglass.cli.main import main

    capsys.readouterr()
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err


def rewrite_metadata(path: Path, resign: bool = True, **changes) -> None:
    """Edit a checkpoint's metadata; ``resign``: store a matching metadata digest, as a
    hostile writer would, so that what reads the metadata is tested, not only the digest."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save

    from hourglass.training.checkpoint import META_DIGEST_KEY, metadata_digest

    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        meta = dict(f.metadata())
    for key, change in changes.items():
        meta[key] = json.dumps({**json.loads(meta[key]), **change})
    if resign:
        meta[META_DIGEST_KEY] = metadata_digest(meta)
    path.write_bytes(save(tensors, metadata=meta))


def rows(out: Path) -> list[dict]:
    """A search folder's trials.csv."""
    return list(csv.DictReader((out / "trials.csv").read_text().splitlines()))


def run_search(*args, wait=True):
    """`hourglass search ARGS` in a process of its own (``wait=False``: running, stderr piped)."""
    cmd = [sys.executable, "-m", "hourglass", "search", *map(str, args), "--quiet"]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)
