"""Data-parallel training under torchrun (gloo on the CPU) and device selection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hourglass.cli.main import main
from hourglass.core.errors import UserError
from hourglass.training import parallel

# 4,001 images at batch 128: the last batch of 33 rows splits 17 / 16 between the two ranks
COMMON = ["--dataset", "mnist", "--skip-dim", "64", "--inner-dim", "16", "--depth", "2",
          "--norm", "batch", "--epochs", "2", "--train-limit", "4001", "--eval-limit", "500",
          "--lr", "3e-3", "--quiet"]


def _train(launcher: list[str], args: list[str], out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([*launcher, "-m", "hourglass", "train", *args, "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)


def _history(out: Path) -> list[float]:
    """epoch, train_loss, eval_loss, eval metric of every epoch, in one flat list."""
    lines = (out / "history.csv").read_text().splitlines()[1:]
    return [float(v) for line in lines for v in line.split(",")[:4]]


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--standalone"]


@pytest.mark.integration
@pytest.mark.parametrize("task,proj", [("classify", "learned"), ("superres", "fixed")])
def test_two_processes_match_one_at_the_same_global_batch(task, proj, data_dir, tmp_path):
    args = [*COMMON, "--data-dir", str(data_dir), "--task", task, "--input-proj", proj]
    two = _train(TORCHRUN, args, tmp_path / "two")
    assert two.returncode == 0, two.stderr
    one = _train([sys.executable], args, tmp_path / "one")
    assert one.returncode == 0, one.stderr
    printed = json.loads(two.stdout)  # rank 0 alone prints the metrics
    written = json.loads((tmp_path / "two" / "metrics.json").read_text())
    reference = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert printed == written
    assert written["best_epoch"] == reference["best_epoch"]
    metric = "test_accuracy" if task == "classify" else "test_psnr"
    assert written[metric] == pytest.approx(reference[metric], abs=1e-4)
    assert written["test_loss"] == pytest.approx(reference["test_loss"], rel=1e-4)
    # every epoch's training loss (the global batch's, all-reduced) and eval metrics agree
    assert _history(tmp_path / "two") == pytest.approx(_history(tmp_path / "one"), rel=1e-4)
    if task == "classify":
        assert written["test_accuracy"] > 0.8  # it learned: 10% is chance


def test_device_auto_is_the_cpu_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert parallel.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(UserError, match="no CUDA GPU"):
        parallel.resolve_device("cuda")
    with pytest.raises(UserError, match="choose auto, cpu"):
        parallel.resolve_device("tpu")


def test_cuda_on_a_machine_without_one_is_a_one_line_error(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code = main(["train", "--dataset", "digits", "--skip-dim", "32", "--inner-dim", "8",
                 "--depth", "1", "--device", "cuda", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no CUDA GPU" in err
    assert not (tmp_path / "run").exists()


def test_outside_torchrun_the_helpers_are_single_process():
    assert parallel.world() == (0, 1) and parallel.is_main()
    t = torch.arange(5.0)
    assert parallel.shard(t) is t and parallel.all_sum(t) is t
    assert parallel.broadcast_json({"a": 1}) == {"a": 1}


def test_outside_torchrun_the_process_exits_normally():
    # os._exit (no interpreter teardown) is only for processes that joined a group
    with pytest.raises(SystemExit) as exit_:
        parallel.exit_process(3)
    assert exit_.value.code == 3
