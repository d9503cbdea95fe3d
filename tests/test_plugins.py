"""A user's own model family: loaded by --plugin or an entry point, failing in one line, and
the worked example (examples/convnext-family) installed, searched and reported like a
built-in family; a family folder dropped into the package needs no other edit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from hourglass.cli.main import main
from hourglass.core.errors import UserError
from hourglass.models.registry import load_plugin

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "convnext-family"
PARAMS = ["params", "--family", "convnext", "--task", "classify", "--skip-dim", "48",
          "--inner-dim", "12", "--depth", "2", "--sub-blocks", "2", "--kernel", "3"]
# the example's count by hand: stem 1*2*2*48 + 48; per layer norm 96, depthwise 48*9 + 48,
# 2 sub-blocks of (96 + 48*12 + 12 + 12*48 + 48); head 96 + 48*10 + 10
EXAMPLE_PARAMS = 240 + 2 * (96 + 480 + 2 * 1308) + 586


def clean_env(**extra: str) -> dict[str, str]:
    """This interpreter's environment without the plug-ins other tests loaded."""
    env = {k: v for k, v in os.environ.items() if k not in ("HOURGLASS_PLUGINS", "PYTHONPATH")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def one_line_error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_plug_in_that_raises_on_import_is_one_line_naming_it(tmp_path, capsys):
    bad = tmp_path / "broken_family.py"
    bad.write_text("raise RuntimeError('the weights server is down')\n")
    err = one_line_error(["params", "--plugin", str(bad), "--family", "x"], capsys)
    assert f"plug-in {bad} failed to load: RuntimeError: the weights server is down" in err
    err = one_line_error(["params", "--plugin", "no_such_family_module"], capsys)
    assert "plug-in no_such_family_module failed to load: ModuleNotFoundError" in err
    err = one_line_error(["params", "--plugin", str(tmp_path / "absent.py")], capsys)
    assert "no such file" in err


def test_a_plug_in_must_register_a_new_family(tmp_path):
    empty = tmp_path / "empty_family.py"
    empty.write_text("X = 1\n")
    with pytest.raises(UserError, match="registered no family"):
        load_plugin(str(empty))
    thief = tmp_path / "thief_family.py"
    thief.write_text("from hourglass.models import get_family, register\n"
                     "register(get_family('vit'))\n")
    with pytest.raises(UserError, match=r"registers the family 'vit', which built-in "
                                        "registered; give it another name"):
        load_plugin(str(thief))


def test_the_example_counts_by_hand(capsys):
    load_plugin(str(EXAMPLE / "convnext_family"))  # test_families loads it too
    assert main(PARAMS) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["params"] == EXAMPLE_PARAMS and counts["embedding_params"] == 240


def run(args: list[str], env: dict[str, str], cwd: Path | None = None,
        timeout: int = 600) -> subprocess.CompletedProcess:
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.mark.integration
def test_counts_that_disagree_with_the_module_are_one_line(tmp_path):
    family = tmp_path / "miscounted"
    shutil.copytree(EXAMPLE / "convnext_family", family)
    spec = family / "spec.py"
    text = spec.read_text().replace('name="convnext"', 'name="miscounted"')
    spec.write_text(text.replace('return {"params": stem + ', 'return {"params": 1 + stem + '))
    r = subprocess.run([sys.executable, "-m", "hourglass", "train", "--plugin", str(family),
                        "--family", "miscounted", "--task", "classify", "--skip-dim", "24",
                        "--inner-dim", "96", "--depth", "1", "--epochs", "1",
                        "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, env=clean_env(), timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert f"family miscounted (plug-in {family}): its counts declare" in r.stderr


@pytest.mark.integration
def test_a_family_folder_dropped_into_the_package_needs_no_other_edit(tmp_path):
    """Adding a built-in family is one folder: the example's, copied into models/families of
    a copy of the package, is registered, counted, trained and searched."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "hourglass", src / "hourglass",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(EXAMPLE / "convnext_family", src / "hourglass" / "models" / "families" /
                    "convnext", ignore=shutil.ignore_patterns("__pycache__"))
    env = clean_env(PYTHONPATH=str(src))
    cmd = [sys.executable, "-m", "hourglass"]
    r = run([*cmd, "params", *PARAMS[1:]], env)
    assert json.loads(r.stdout)["params"] == EXAMPLE_PARAMS
    r = run([*cmd, "train", "--family", "convnext", "--task", "classify", "--skip-dim", "24",
             "--inner-dim", "96", "--depth", "1", "--kernel", "3", "--epochs", "10",
             "--batch-size", "32", "--lr", "3e-3", "--out", str(tmp_path / "run")], env)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9  # 96.8% when written
    r = run([*cmd, "spaces"], env)
    assert "quick-convnext" in r.stdout
    run([*cmd, "search", "quick-convnext", "--max-trials", "2", "--out",
         str(tmp_path / "search"), "--quiet"], env)
    rows = (tmp_path / "search" / "trials.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and all(",complete," in row for row in rows), rows


@pytest.mark.integration
def test_the_example_installed_in_a_clean_venv_searches_and_reports(tmp_path):
    """README, Your own model, as a user follows it: a fresh virtual environment, the package
    and the example installed with pip; then `match`, a 2-worker search and its report with
    both shapes on the frontier, and a checkpoint of the plug-in family reloaded by `eval`."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    pip = [str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", "--no-compile"]
    run([*pip, "torch==2.13.0"], env)
    run([*pip, "-e", str(ROOT)], env)
    run([*pip, "-e", str(EXAMPLE)], env)
    hourglass = str(bin_dir / "hourglass")
    r = run([hourglass, "match", "--family", "convnext", "--task", "classify", "--skip-dim", "24",
             "--inner-dim", "96", "--depth", "1", "--kernel", "3", "--json"], env, cwd=tmp_path)
    matched = json.loads(r.stdout)
    assert matched and all(m["shape"] == "hourglass" for m in matched)
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    out = tmp_path / "search"
    run([hourglass, "search", str(space), "--workers", "2", "--out", str(out), "--quiet"],
        env, cwd=tmp_path)
    run([hourglass, "report", str(out)], env, cwd=tmp_path)
    summary = json.loads((out / "frontier.json").read_text())
    assert set(summary["frontiers"]) == {"hourglass", "conventional"}
    assert (out / "report.html").is_file() and (out / "summary.md").is_file()
    run_dir = next(p.parent for p in (out / "runs").rglob("model.safetensors"))
    r = run([hourglass, "eval", str(run_dir)], env, cwd=tmp_path)
    assert "test_accuracy" in r.stdout


SPACE = """
name = "convnext-venv"
task = "classify"
dataset = "digits"
family = "convnext"
epochs = 6
batch_size = 32
seeds = [0]
[hourglass]
skip_dim = [48]
inner_dim = [12]
depth = [1]
sub_blocks = [2]
kernel = [3]
lr = [3e-3]
[conventional]
skip_dim = [24]
inner_dim = [96]
depth = [1]
kernel = [3]
lr = [3e-3]
"""
