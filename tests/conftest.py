"""Shared fixtures. Real-data tests use ../shared/data (or $HOURGLASS_TEST_DATA) and skip with a
reason when it is absent; CI always has it."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

# One thread per process, here and in every process a test starts: CI's cores are shared with
# other jobs, and there a search worker's two threads can train 20x slower than one (a tiny
# digits trial: 9.5 s against 0.4). Set before PyTorch first reads it; a run may still ask
# for more with --threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HOURGLASS_TEST_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Decoded-image caches go to a temporary folder, never the user's ~/.cache."""
    os.environ["HOURGLASS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
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
def cifar_dir(tmp_path_factory) -> Path:
    """A data directory whose cifar10/ is the shared JPEG archive, extracted."""
    archive = need(SHARED_DATA / "cifar10-jpeg.tar.gz")
    root = tmp_path_factory.mktemp("cifar-data")
    with tarfile.open(archive) as tar:
        tar.extractall(root / "cifar10", filter="data")
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
