"""The paper's training recipe as the authors' code runs it (PROTOCOL.md, Training recipe), and
recipe v1, the one this tool ran before, kept reproducible."""

import csv

import pytest

from hourglass.data import load_dataset
from hourglass.errors import UserError
from hourglass.search.space_file import space_from_dict
from hourglass.training import TrainConfig, train
from hourglass.training.config import RECIPE_V1
from hourglass.training.feed import steps_per_epoch
from hourglass.training.fit import learning_rate

QUICK = dict(dataset="digits", skip_dim=96, inner_dim=12, depth=3, epochs=4, lr=3e-3)


def history(run_dir) -> list[dict]:
    """history.csv without its wall-clock column."""
    return [{k: v for k, v in r.items() if k != "seconds"}
            for r in csv.DictReader((run_dir / "history.csv").open())]


@pytest.mark.parametrize("dataset, schedule, checkpoint", [
    ("mnist", "epoch", "last"), ("fashion-mnist", "epoch", "last"),
    ("imagenet32", "step", "best"), ("cifar10", "step", "best"), ("digits", "step", "best")])
def test_each_dataset_gets_the_authors_recipe_by_default(dataset, schedule, checkpoint):
    cfg = TrainConfig(dataset=dataset).resolved()
    assert (cfg.split_rng, cfg.lr_schedule, cfg.test_checkpoint) == ("numpy", schedule,
                                                                     checkpoint)


def test_per_epoch_schedule_is_the_authors_linear_lr_over_epochs():
    # MNIST prototype: 50 epochs of 391 steps (50,000 / 128, the last batch partial)
    cfg = TrainConfig(dataset="mnist", task="prototype", lr=1e-3).resolved()
    per_epoch, last = 391, 50 * 391 - 1
    assert learning_rate(cfg, 0, per_epoch) == 1e-3  # epoch 1, first step
    assert learning_rate(cfg, per_epoch - 1, per_epoch) == 1e-3  # epoch 1, last step
    assert learning_rate(cfg, 49 * per_epoch, per_epoch) == pytest.approx(2e-5, rel=1e-12)
    assert learning_rate(cfg, last, per_epoch) == pytest.approx(2e-5, rel=1e-12)
    assert learning_rate(cfg, 25 * per_epoch, per_epoch) == pytest.approx(5e-4, rel=1e-12)


def test_per_step_schedule_reaches_zero_after_the_last_step():
    cfg = TrainConfig(dataset="mnist", lr=1e-3, epochs=2, lr_schedule="step").resolved()
    assert learning_rate(cfg, 0, 100) == 1e-3
    assert learning_rate(cfg, 99, 100) == pytest.approx(1e-3 * (1 - 99 / 200), rel=1e-12)
    assert learning_rate(cfg, 199, 100) == pytest.approx(1e-3 / 200, rel=1e-12)


@pytest.mark.parametrize("schedule", ["epoch", "step"])
def test_training_steps_at_the_scheduled_rate(schedule, tmp_path):
    train(TrainConfig(task="denoise", lr_schedule=schedule, **QUICK), tmp_path / "r",
          progress=False)
    lrs = [float(r["lr"]) for r in history(tmp_path / "r")]  # each epoch's last step
    cfg = TrainConfig(task="denoise", lr_schedule=schedule, **QUICK).resolved()
    per_epoch = steps_per_epoch(len(load_dataset("digits").train), cfg.batch_size)
    want = [learning_rate(cfg, e * per_epoch - 1, per_epoch) for e in range(1, 5)]
    assert lrs == pytest.approx(want, rel=1e-12)
    if schedule == "epoch":
        assert lrs == pytest.approx([3e-3, 2.25e-3, 1.5e-3, 0.75e-3], rel=1e-12)


def test_the_test_score_comes_from_the_checkpoint_the_recipe_names(tmp_path):
    # 32 training images in batches of 4: the eval loss turns up in the last epoch
    kw = {**QUICK, "epochs": 10, "train_limit": 32, "batch_size": 4}
    last = train(TrainConfig(task="superres", test_checkpoint="last", **kw), tmp_path / "l",
                 progress=False)
    best = train(TrainConfig(task="superres", test_checkpoint="best", **kw), tmp_path / "b",
                 progress=False)
    rows = history(tmp_path / "l")
    assert rows == history(tmp_path / "b")  # same training either way
    assert last["best_epoch"] == 10 and last["eval_loss"] == float(rows[-1]["eval_loss"])
    losses = [float(r["eval_loss"]) for r in rows]
    assert best["best_epoch"] == 1 + losses.index(min(losses)) < 10
    assert best["eval_loss"] == min(losses) < last["eval_loss"]
    assert best["test_psnr"] != last["test_psnr"]


def test_a_config_written_before_the_recipe_settings_reads_back_as_v1():
    old = TrainConfig(dataset="mnist").to_dict()
    for key in RECIPE_V1:
        del old[key]
    cfg = TrainConfig.from_dict(old).resolved()
    assert (cfg.split_rng, cfg.lr_schedule, cfg.test_checkpoint) == ("torch", "step", "best")


def test_bad_recipe_values_are_refused():
    for key in RECIPE_V1:
        with pytest.raises(UserError, match=key.replace("_", "-")):
            TrainConfig(**{key: "sometimes"}).resolved()


def test_a_space_can_name_recipe_v1():
    space = {"task": "denoise", "dataset": "mnist", "epochs": 2, **RECIPE_V1,
             "hourglass": {"skip_dim": [785], "inner_dim": [115], "depth": [2], "lr": [1e-3]}}
    s = space_from_dict(space, "old")
    cfg = s.train_config(s.units()[0], 0, 2, None).resolved()
    assert (cfg.split_rng, cfg.lr_schedule, cfg.test_checkpoint) == ("torch", "step", "best")
    assert {k: s.to_dict()[k] for k in RECIPE_V1} == RECIPE_V1
    new = space_from_dict({k: v for k, v in space.items() if k not in RECIPE_V1}, "new")
    cfg = new.train_config(new.units()[0], 0, 2, None).resolved()
    assert (cfg.split_rng, cfg.lr_schedule, cfg.test_checkpoint) == ("numpy", "epoch", "last")
    with pytest.raises(UserError, match="lr-schedule"):
        space_from_dict({**space, "lr_schedule": "weekly"}, "bad")
