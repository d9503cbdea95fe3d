"""Every benchmark command the README shows runs: each as written but in its smoke mode (one or
two steps on a subset; DATA and S filled in): the code a full run takes, at a CI's cost. The
figures themselves are the README's, measured by hand: nothing here times anything."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT, SHARED_DATA, need, tiny

README_COMMANDS = sorted(set(re.findall(r"`python (bench/\S+\.py[^`]*)`",
                                        (ROOT / "README.md").read_text())))


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)


def test_the_readme_shows_every_benchmark():
    shown = {c.split()[0] for c in README_COMMANDS}
    assert shown == {str(p.relative_to(ROOT)) for p in (ROOT / "bench").glob("*.py")
                     if p.name != "common.py"}


@pytest.mark.integration
@pytest.mark.parametrize("command", README_COMMANDS)
def test_each_readme_benchmark_command_runs_in_its_smoke_mode(command, cifar_dir, tmp_path):
    need(SHARED_DATA / "tinyshakespeare")
    data = SHARED_DATA
    if "vit.py" in command or "time_to_quality.py" in command:  # CIFAR-10 unpacked, the text
        data = tmp_path / "data"
        data.mkdir()
        (data / "cifar10").symlink_to(cifar_dir / "cifar10")
        (data / "tinyshakespeare").symlink_to(SHARED_DATA / "tinyshakespeare")
    space = tiny(tmp_path, epochs=3)  # S: a 10-trial space of seconds per trial
    argv = shlex.split(command.replace("DATA", str(data)).replace("--space S",
                                                                  f"--space {space}"))
    argv = [a for a in argv if a != "--quick"]  # --quick and --smoke pick the size: one of them
    r = run([*argv, "--smoke"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("\n") >= 3, r.stdout  # a header and a row of figures at least
