import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from test_families import by_hand

from hourglass.core.errors import DivergedError, UserError
from hourglass.tasks.image import Task
from hourglass.training import TrainConfig, evaluate_run, load_run, loop, train
from hourglass.training.checkpoint import load_model

QUICK = dict(dataset="digits", skip_dim=96, inner_dim=12, depth=3, epochs=4, lr=3e-3)


def weights(run_dir):
    with safe_open(str(run_dir / "model.safetensors"), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


@pytest.mark.parametrize("task", ["denoise", "superres", "prototype", "classify"])
def test_every_task_trains_and_beats_doing_nothing(task, tmp_path):
    m = train(TrainConfig(task=task, **{**QUICK, "epochs": 15}), tmp_path / "run",
              progress=False)
    if task == "classify":
        assert m["test_accuracy"] > 0.8 > m["baseline_accuracy"]
    else:
        assert m["test_psnr"] > m["baseline_psnr"]
    for name in ("config.json", "metrics.json", "history.csv", "model.safetensors"):
        assert (tmp_path / "run" / name).is_file()
    assert (tmp_path / "run" / "samples.png").is_file() == (task != "classify")
    assert not (tmp_path / "run" / "trainer.safetensors").exists()  # dropped once finished


def test_same_seed_same_numbers_and_eval_reproduces_them(tmp_path):
    cfg = TrainConfig(task="denoise", input_proj="fixed", **QUICK)
    a = train(cfg, tmp_path / "a", progress=False)
    b = train(cfg, tmp_path / "b", progress=False)
    assert a["test_psnr"] == b["test_psnr"] and a["eval_psnr"] == b["eval_psnr"]
    wa, wb = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    again = evaluate_run(tmp_path / "a")
    assert again["test_psnr"] == a["test_psnr"]
    assert again["test_psnr_per_image"] == a["test_psnr_per_image"]
    # and by another path (tests/test_families.py's, no evaluate.py), with a floor: 13.3 dB
    # here, where a network that does not learn (lr 1e-12) stays at 7.4
    assert by_hand(load_run(tmp_path / "a")[1], cfg.resolved()) == pytest.approx(
        a["test_psnr"], abs=1e-5)
    assert a["test_psnr"] > a["baseline_psnr"] - 2
    c = train(TrainConfig(task="denoise", input_proj="fixed", **{**QUICK, "seed": 1}),
              tmp_path / "c", progress=False)
    assert c["test_psnr"] != a["test_psnr"]


def test_fixed_projection_checkpoint_holds_no_projection(tmp_path):
    m = train(TrainConfig(task="denoise", input_proj="fixed", **QUICK), tmp_path / "f",
              progress=False)
    w = weights(tmp_path / "f")
    assert not any("proj" in k for k in w)
    stored = sum(v.numel() for k, v in w.items() if v.dtype == torch.float32
                 and "running" not in k)
    assert stored == m["params"] and m["frozen_params"] == 64 * 96
    learned = weights_after(tmp_path / "l", "learned")
    assert "proj.weight" in learned


def weights_after(run_dir, proj):
    train(TrainConfig(task="denoise", input_proj=proj, **{**QUICK, "epochs": 1}), run_dir,
          progress=False)
    return weights(run_dir)


def test_metrics_json_has_the_documented_keys(tmp_path):
    m = train(TrainConfig(task="denoise", **{**QUICK, "epochs": 2}), tmp_path / "r",
              progress=False)
    for key in ("params", "frozen_params", "flops_per_sample", "test_psnr",
                "test_psnr_per_image", "eval_psnr", "baseline_psnr", "best_epoch", "epochs",
                "train_seconds", "seed"):
        assert key in m
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == m
    rows = list(csv.DictReader((tmp_path / "r" / "history.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[-1]["lr"]) < float(rows[0]["lr"]) < 3e-3  # linear decay to 0


class Interrupt(Exception):
    pass


def kill_after_epoch_2(monkeypatch, cfg, out, **kwargs):
    """Train until right after epoch 2's trainer state is written, then die as if killed."""
    real_save = loop.save_trainer
    calls = []

    def save_then_die(*args, **kw):
        real_save(*args, **kw)
        calls.append(1)
        if len(calls) == 2:
            raise Interrupt

    monkeypatch.setattr(loop, "save_trainer", save_then_die)
    with pytest.raises(Interrupt):
        train(cfg, out, progress=False, **kwargs)
    monkeypatch.setattr(loop, "save_trainer", real_save)


def test_resume_continues_to_the_same_result(tmp_path, monkeypatch):
    cfg = TrainConfig(task="denoise", input_proj="learned", **QUICK)
    whole = train(cfg, tmp_path / "whole", progress=False)

    kill_after_epoch_2(monkeypatch, cfg, tmp_path / "cut")
    _, model = load_run(tmp_path / "cut")  # usable mid-way
    assert model.cfg.skip_dim == 96
    with pytest.raises(UserError, match="already holds a run; pass --resume"):
        train(cfg, tmp_path / "cut", progress=False)
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert resumed["test_psnr"] == whole["test_psnr"]
    assert resumed["best_epoch"] == whole["best_epoch"]
    rows = list(csv.DictReader((tmp_path / "cut" / "history.csv").read_text().splitlines()))
    assert len(rows) == QUICK["epochs"]
    with pytest.raises(UserError, match=r"different settings \(lr\)"):
        train(TrainConfig(task="denoise", **{**QUICK, "lr": 1e-3}), tmp_path / "cut",
              resume=True, progress=False)


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_loss = Task.loss
    steps = []

    def loss_that_turns_nan(self, pred, target):
        steps.append(1)
        value = real_loss(self, pred, target)
        return value * float("nan") if len(steps) > 15 else value  # 11 steps an epoch

    monkeypatch.setattr(Task, "loss", loss_that_turns_nan)
    with pytest.raises(DivergedError, match=r"loss nan at epoch 2.*epoch 1\) is kept"):
        train(TrainConfig(task="denoise", **QUICK), tmp_path / "r", progress=False)
    model, _ = load_model(tmp_path / "r" / "model.safetensors")
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_real_divergence_is_reported(tmp_path):
    with pytest.raises(DivergedError, match="try a lower --lr"):
        train(TrainConfig(task="denoise", **{**QUICK, "lr": 1e30}), tmp_path / "r",
              progress=False)


def test_bad_training_settings_are_refused(tmp_path):
    for kwargs, match in [({"epochs": 0}, "--epochs must be positive"),
                          ({"lr": -1.0}, "--lr must be positive"),
                          ({"augment": "mixup"}, "--augment 'mixup'")]:
        with pytest.raises(UserError, match=match):
            train(TrainConfig(task="denoise", **{**QUICK, **kwargs}), tmp_path / "x",
                  progress=False)


# test_psnr (test_accuracy for classify) of these runs at one thread, computed before the
# model-family refactor by the plain autograd engine of commit 667132f: the refactor and the
# single training path must not move one bit of them. The last bits are the CPU's: its
# matmul kernels sum in another order on AVX-512 than on AVX2, so each instruction set has the
# numbers 667132f gives there (AVX2 on an AMD EPYC; AVX-512 on an Intel Xeon, 2026-12-08).
PINNED = {"AVX2": {("denoise", "fixed", "batch"): 12.50298328340419,
                   ("superres", "learned", "batch"): 13.025269245205939,
                   ("classify", "learned", "layer"): 0.884,
                   ("prototype", "fixed", "none"): 12.005805518132393},
          "AVX512": {("denoise", "fixed", "batch"): 12.502983259699628,
                     ("superres", "learned", "batch"): 13.025269234514429,
                     ("classify", "learned", "layer"): 0.884,
                     ("prototype", "fixed", "none"): 12.005805511988886}}


@pytest.mark.parametrize("task,proj,norm", list(PINNED["AVX2"]))
def test_the_mlp_numbers_are_pinned(task, proj, norm, tmp_path):
    isa = torch.backends.cpu.get_cpu_capability()
    if isa not in PINNED:
        pytest.skip(f"no numbers of commit 667132f on a CPU with {isa}: add them to PINNED")
    cfg = TrainConfig(task=task, input_proj=proj, norm=norm, dataset="digits", skip_dim=48,
                      inner_dim=16, depth=2, epochs=3, batch_size=64, lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a thread count changes how matmuls sum, so the last bits
    try:
        got = train(cfg, tmp_path / "run", progress=False)
    finally:
        torch.set_num_threads(threads)
    metric = "test_accuracy" if task == "classify" else "test_psnr"
    assert got[metric] == PINNED[isa][task, proj, norm]


def test_a_run_written_before_the_plug_in_layout_resumes_to_the_same_result(tmp_path):
    """tests/fixtures/run-0ade527: a digits run stopped after epoch 1 of 3 by the package at
    commit 0ade527 (before the core/tasks/families layout and TrainState), on one thread. It
    resumes here and ends where an uninterrupted one-thread run of today's code ends, bit for
    bit (a thread count changes float sums, so both take the fixture's)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _resume_the_fixture(tmp_path)
    finally:
        torch.set_num_threads(threads)


def _resume_the_fixture(tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "run-0ade527"
    cfg = TrainConfig.from_dict(json.loads((fixture / "config.json").read_text()))
    cut = tmp_path / "cut"
    shutil.copytree(fixture, cut)
    resumed = train(cfg, cut, resume=True, progress=False)
    whole = train(cfg, tmp_path / "whole", progress=False)
    assert resumed["test_accuracy"] == whole["test_accuracy"]
    assert resumed["test_loss"] == whole["test_loss"]
    assert resumed["best_epoch"] == whole["best_epoch"] and resumed["epochs"] == 3
    rows = list(csv.DictReader((cut / "history.csv").read_text().splitlines()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["eval_loss"] == "1.4487158060073853"  # epoch 1 is the old run's


def test_a_resumed_run_with_dropout_draws_the_masks_an_uninterrupted_one_draws(tmp_path,
                                                                                monkeypatch):
    """Dropout takes PyTorch's global generator, which every epoch reseeds from the run's
    seed: a language model killed after epoch 2 and resumed ends bit-exactly where the
    uninterrupted run ends (before the reseeding the resumed epochs drew other masks)."""
    cfg = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=32, inner_dim=64,
                      depth=1, arch={"heads": 2}, context=32, epochs=3, batch_size=16,
                      train_limit=64, eval_limit=16, dropout=0.2, warmup=0)
    whole = train(cfg, tmp_path / "whole", progress=False)
    kill_after_epoch_2(monkeypatch, cfg, tmp_path / "cut")
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert (resumed["test_bpc"], resumed["eval_bpc"]) == (whole["test_bpc"], whole["eval_bpc"])


def test_a_bf16_run_trains_differs_from_fp32_and_resumes_to_the_same_result(tmp_path,
                                                                            monkeypatch):
    """--precision bf16: the forward under bfloat16 autocast is deterministic on the CPU, so a
    run killed after epoch 2 still resumes bit-exactly; its numbers are its own (not fp32's),
    and its eval loss falls as fp32's does."""
    cfg = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=32, inner_dim=64,
                      depth=1, arch={"heads": 2}, context=32, epochs=3, batch_size=16,
                      train_limit=160, eval_limit=16, warmup=0, precision="bf16")
    whole = train(cfg, tmp_path / "whole", progress=False)
    fp32 = train(dataclasses.replace(cfg, precision="fp32"), tmp_path / "fp32", progress=False)
    assert whole["test_bpc"] != fp32["test_bpc"]
    assert abs(whole["test_bpc"] - fp32["test_bpc"]) < 0.05 * fp32["test_bpc"]
    kill_after_epoch_2(monkeypatch, cfg, tmp_path / "cut")
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert (resumed["test_bpc"], resumed["eval_bpc"]) == (whole["test_bpc"], whole["eval_bpc"])
    with pytest.raises(UserError, match="--precision 'fp16': choose one of fp32, bf16"):
        dataclasses.replace(cfg, precision="fp16").resolved()


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_bfloat16_units_warns_once(tmp_path, monkeypatch, capsys, native):
    """Without AVX-512 BF16 or AMX PyTorch's bfloat16 matmuls run in reference kernels, 10x
    slower than fp32: a run in bf16 says so on stderr, once per process; with them, nothing."""
    loop._warn_once.cache_clear()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    cfg = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=16, inner_dim=32,
                      depth=1, arch={"heads": 2}, context=16, epochs=1, batch_size=8,
                      train_limit=16, eval_limit=8, warmup=0, precision="bf16")
    train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", progress=False)
    train(dataclasses.replace(cfg, precision="fp32"), tmp_path / "c", progress=False)
    err = capsys.readouterr().err
    assert err.count("no bfloat16 matmul units") == (0 if native else 1)


def test_patience_stops_a_run_whose_eval_loss_stopped_falling_and_tests_its_best_epoch(
        tmp_path, monkeypatch):
    """--patience P: a run stops once P epochs pass without a lower eval loss, having trained
    exactly what the full run trained up to there (the schedule is the full epochs'), and is
    tested at its best epoch; a run killed on the way stops at the same epoch; bad values are
    refused."""
    cfg = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=64, inner_dim=128,
                      depth=2, arch={"heads": 2}, context=32, epochs=20, batch_size=4,
                      lr=1e-2, train_limit=24, eval_limit=16, warmup=0, dropout=0.0)
    train(cfg, tmp_path / "full", progress=False)

    def history(run):  # each epoch's row, without the wall-clock seconds
        return [r.rsplit(",", 1)[0] for r in (run / "history.csv").read_text().split()[1:]]

    full = history(tmp_path / "full")
    losses = [float(r.split(",")[2]) for r in full]
    stop = next(e for e in range(1, 21) if e - 1 - losses.index(min(losses[:e])) >= 3)
    assert stop < 20  # at lr 1e-2 the eval loss wanders: some 3 epochs bring nothing new
    stopping = dataclasses.replace(cfg, patience=3)
    stopped = train(stopping, tmp_path / "stopped", progress=False)
    assert (stopped["epochs_trained"], stopped["epochs"]) == (stop, 20)
    assert history(tmp_path / "stopped") == full[:stop]
    assert stopped["best_epoch"] == stop - 3
    assert stopped["eval_loss"] == min(losses[:stop])
    kill_after_epoch_2(monkeypatch, stopping, tmp_path / "cut")
    resumed = train(stopping, tmp_path / "cut", resume=True, progress=False)
    assert (resumed["epochs_trained"], resumed["test_bpc"]) == (stop, stopped["test_bpc"])
    for bad in (-1, True, 1.5):
        with pytest.raises(UserError, match="--patience must be a whole number"):
            dataclasses.replace(cfg, patience=bad).resolved()
    with pytest.raises(UserError, match="only with --test-checkpoint best"):
        dataclasses.replace(cfg, patience=2, test_checkpoint="last").resolved()
