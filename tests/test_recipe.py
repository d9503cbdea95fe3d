"""The paper's training recipe as the authors' code runs it (PROTOCOL.md, Training recipe), and
recipe v1, the one this tool ran before, kept reproducible."""

import csv
import dataclasses

import pytest
import torch

from hourglass.core.errors import UserError
from hourglass.data import load_dataset
from hourglass.search.space_file import space_from_dict
from hourglass.training import TrainConfig, train
from hourglass.training.config import RECIPE_V1, build_task
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


# ---- recipe versions and the fast Transformer recipes (recipe 3) ----------------------------
VIT = {"family": "vit", "task": "classify", "dataset": "digits", "skip_dim": 32,
       "inner_dim": 128, "depth": 2, "arch": {"heads": 2, "patch": 2}}


def test_recipe_5_gives_vit_classification_its_fast_recipe_and_the_default_6_keeps_it():
    new = TrainConfig(**VIT, recipe=5).resolved()
    # recipe 6 changes the language model's dropout masks alone
    assert TrainConfig(**VIT).resolved().to_dict() == {**new.to_dict(), "recipe": 6}
    assert (new.recipe, new.lr_schedule, new.warmup, new.label_smoothing, new.weight_decay,
            new.decay, new.input_norm) == (5, "cosine", 250, 0.1, 0.05, "matrices", "channel")
    # Muon's lr follows lr (5x), so a search over lr moves both; a stated one is kept
    assert (new.optimizer, new.muon_lr) == ("muon", 5 * new.lr)
    assert TrainConfig(**VIT, lr=2e-3).resolved().muon_lr == pytest.approx(0.01)
    assert TrainConfig(**VIT, muon_lr=0.02).resolved().muon_lr == 0.02
    four = TrainConfig(**VIT, recipe=4).resolved()
    assert four.to_dict() == {**new.to_dict(), "recipe": 4, "optimizer": "adamw",
                              "muon_lr": 0.02}
    three = TrainConfig(**VIT, recipe=3).resolved()
    assert three.to_dict() == {**four.to_dict(), "recipe": 3, "input_norm": "none",
                               "batch_size": 128}
    assert new.batch_size == 64
    for family in ("lm", "mixer"):  # recipe 5 is the ViT's: the others keep AdamW
        other = TrainConfig(**{**VIT, "family": family, **(
            {"task": "lm", "dataset": "moby-dick", "arch": {"heads": 2}, "context": 32}
            if family == "lm" else {"arch": {"patch": 2}})}).resolved()
        assert (other.recipe, other.optimizer, other.muon_lr) == (6, "adamw", 0.02)
    old = TrainConfig(**VIT, recipe=2).resolved()
    assert (old.lr_schedule, old.warmup, old.label_smoothing, old.weight_decay,
            old.decay) == ("step", 0, 0.0, 0.01, "all")
    denoise = TrainConfig(**{**VIT, "task": "denoise"}).resolved()  # classification only
    assert (denoise.label_smoothing, denoise.decay, denoise.input_norm) == (0.0, "all", "none")
    with pytest.raises(UserError, match="standardised inputs are for classification"):
        build_task(TrainConfig(**{**VIT, "task": "denoise", "input_norm": "channel"})
                   .resolved(), (1, 8, 8), 10)
    mlp = TrainConfig(dataset="mnist").resolved()  # the MLP's recipe is 2's
    assert {k: v for k, v in mlp.to_dict().items() if k != "recipe"} == \
        {k: v for k, v in TrainConfig(dataset="mnist", recipe=2).resolved().to_dict().items()
         if k != "recipe"}
    lm = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=32, inner_dim=96,
                     depth=1)
    assert (lm.resolved().dropout, dataclasses.replace(lm, recipe=2).resolved().dropout) == \
        (0.1, 0.0)


def test_a_config_stored_before_recipe_versions_names_the_one_it_ran_on():
    v2 = TrainConfig(**VIT).resolved().to_dict()
    for key in ("recipe", "label_smoothing", "dropout", "decay"):
        del v2[key]
    v2.update(lr_schedule="step", warmup=0, weight_decay=0.01)
    cfg = TrainConfig.from_dict(v2).resolved()
    assert (cfg.recipe, cfg.label_smoothing, cfg.decay) == (2, 0.0, "all")
    v1 = {k: v for k, v in v2.items() if k not in RECIPE_V1}
    assert TrainConfig.from_dict(v1).resolved().recipe == 1


@pytest.mark.parametrize("settings, match", [
    ({"recipe": 7}, "--recipe 7"),
    ({"input_norm": "batch"}, "--input-norm"),
    ({"label_smoothing": -0.1}, "--label-smoothing"),
    ({"label_smoothing": 1.0}, "--label-smoothing"),
    ({"dropout": 1.0, "family": "lm", "task": "lm", "dataset": "moby-dick", "arch": {}},
     "--dropout"),
    ({"dropout": 0.1}, "vit family has no dropout"),
    ({"attention_dropout": 1.0, "family": "lm", "task": "lm", "dataset": "moby-dick",
      "arch": {}}, "--attention-dropout must be in"),
    ({"attention_dropout": -0.1, "family": "lm", "task": "lm", "dataset": "moby-dick",
      "arch": {}}, "--attention-dropout must be in"),
    ({"attention_dropout": 0.1}, "--attention-dropout: the vit family has no dropout"),
    ({"dropout_masks": "int16"}, "--dropout-masks: the vit family has no dropout"),
    ({"decay": "some"}, "--decay"),
    ({"task": "denoise", "label_smoothing": 0.1}, "denoise task has no labels"),
])
def test_bad_recipe_3_values_are_one_clear_error(settings, match):
    with pytest.raises(UserError, match=match):
        TrainConfig(**{**VIT, **settings}).resolved()


def test_weight_decay_on_matrices_leaves_norms_biases_and_positions_alone():
    from hourglass.models.registry import get_family
    from hourglass.training.config import build_task, model_config
    from hourglass.training.fit import param_groups

    cfg = TrainConfig(**{**VIT, "dataset": "digits"}).resolved()
    task = build_task(cfg, (1, 8, 8), 10, tensors=False)
    model = get_family("vit").build(model_config(cfg, task))
    decayed, kept = param_groups(model, 0.05, "matrices")
    named = {id(p): n for n, p in model.named_parameters()}
    assert {named[id(p)] for p in kept["params"]} == \
        {n for n, p in model.named_parameters() if p.ndim < 2 or n == "pos"}
    assert all(p.ndim == 2 for p in decayed["params"]) and decayed["weight_decay"] == 0.05
    assert len(param_groups(model, 0.05, "all")) == 1


def test_label_smoothing_changes_the_training_loss_only():
    import torch

    from hourglass.tasks.image import Task

    plain, smooth = (Task("classify", (1, 8, 8), 10, label_smoothing=s) for s in (0.0, 0.1))
    logits, y = torch.randn(16, 10, generator=torch.Generator().manual_seed(0)), \
        torch.arange(16) % 10
    expected = 0.9 * torch.nn.functional.cross_entropy(logits, y) \
        - 0.1 * torch.log_softmax(logits, 1).mean(1).mean()
    assert float(smooth.loss(logits, y)) == pytest.approx(float(expected), rel=1e-6)
    assert smooth.metrics(logits, y) == plain.metrics(logits, y)


def test_lm_dropout_acts_in_training_only_and_leaves_a_dropout_free_model_as_it_was():
    import torch

    from hourglass.models.families.lm.net import LanguageModel
    from hourglass.models.families.lm.spec import LMConfig

    dims = {"vocab": 20, "context": 16, "skip_dim": 32, "inner_dim": 48, "depth": 2}
    torch.manual_seed(0)
    plain = LanguageModel(LMConfig(**dims))
    torch.manual_seed(0)
    dropped = LanguageModel(LMConfig(**dims, dropout=0.5))
    # the same weights: dropout layers hold no parameters and draw nothing at init
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                 dropped.state_dict().values(), strict=True))
    ids = torch.randint(20, (3, 16), generator=torch.Generator().manual_seed(1))
    plain.eval(), dropped.eval()
    assert torch.equal(plain(ids), dropped(ids))
    dropped.train()
    assert not torch.allclose(plain(ids), dropped(ids))
    with pytest.raises(UserError, match="dropout"):
        LMConfig(**dims, dropout=1.0)


def test_lm_attention_dropout_sets_the_attention_s_alone_and_defaults_to_dropout():
    import torch

    from hourglass.models.families.lm.net import CausalAttention, LanguageModel
    from hourglass.models.families.lm.spec import LMConfig

    dims = {"vocab": 20, "context": 16, "skip_dim": 32, "inner_dim": 48, "depth": 2,
            "dropout": 0.3}

    def rates(model):
        attention = {m.dropout for m in model.modules() if isinstance(m, CausalAttention)}
        residual = {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}
        return attention, residual

    assert rates(LanguageModel(LMConfig(**dims))) == ({0.3}, {0.3})  # a run before the option
    assert rates(LanguageModel(LMConfig(**dims, attention_dropout=0.0))) == ({0.0}, {0.3})
    assert rates(LanguageModel(LMConfig(**{**dims, "dropout": 0.0},
                                        attention_dropout=0.2))) == ({0.2}, set())
    # no dropout on the weights: training-mode attention is a function of its input
    attn = LanguageModel(LMConfig(**dims, attention_dropout=0.0)).layers[0].attn.train()
    x = torch.randn(2, 16, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(attn(x), attn(x))
    attn.dropout = 0.3
    assert not torch.equal(attn(x), attn(x))
    lm = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=32, inner_dim=48,
                     depth=2, attention_dropout=0.0, lr=1e-3)
    assert (lm.resolved().attention_dropout, lm.resolved().dropout) == (0.0, 0.1)
    for bad in (1.0, -0.1, True):
        with pytest.raises(UserError, match="attention-dropout must be in"):
            LMConfig(**dims, attention_dropout=bad)


def test_standardised_inputs_are_the_training_split_s_and_travel_with_the_checkpoint(tmp_path):
    """Recipe 4's ViT classifier reads each channel standardised by the training split's mean
    and std; the checkpoint keeps them, so `eval` scores the reloaded model the same and
    `predict` feeds it the same inputs."""
    import numpy as np
    from PIL import Image

    from hourglass.training import evaluate_run
    from hourglass.training.checkpoint import load_model
    from hourglass.training.predict import predict

    cfg = TrainConfig(**VIT, epochs=2, batch_size=64)
    metrics = train(cfg, tmp_path / "run", progress=False)
    model, task = load_model(tmp_path / "run" / "model.safetensors")
    images = load_dataset("digits").train.images.double() / 255
    assert task.input_norm == "channel"
    assert task.channel_mean == pytest.approx([images.mean().item()])
    assert task.channel_std == pytest.approx([images.std(correction=0).item()])
    assert evaluate_run(tmp_path / "run")["test_accuracy"] == metrics["test_accuracy"]
    digit = load_dataset("digits").test.images[0, 0].numpy()
    Image.fromarray(digit).save(tmp_path / "digit.png")
    x = task.normalize(torch.from_numpy(digit).float()[None, None] / 255).flatten(1)
    expected = torch.softmax(model(x)[0], 0)
    got = predict(tmp_path / "run", tmp_path / "digit.png")["probabilities"]
    assert got == pytest.approx(expected.tolist(), abs=1e-5)
    assert np.argmax(got) == int(expected.argmax())


def test_test_flip_scores_the_mean_of_each_image_and_its_mirror(tmp_path):
    from hourglass.training.checkpoint import load_model
    from hourglass.training.evaluate import prepare

    cfg = TrainConfig(**VIT, epochs=1, batch_size=64, test_flip=True)
    metrics = train(cfg, tmp_path / "run", progress=False)
    model, task = load_model(tmp_path / "run" / "model.safetensors")
    x, y = prepare(cfg.resolved()).task.split_xy(load_dataset("digits").test, "test")
    images = x.view(len(x), 1, 8, 8)
    with torch.no_grad():
        logits = (model.eval()(x) + model(images.flip(-1).flatten(1))) / 2
    assert metrics["test_accuracy"] == pytest.approx(
        (logits.argmax(1) == y).double().mean().item())
    plain = train(dataclasses.replace(cfg, test_flip=False), tmp_path / "plain", progress=False)
    assert plain["test_accuracy"] != metrics["test_accuracy"] or \
        plain["test_loss"] != metrics["test_loss"]
    from hourglass.training import evaluate_run

    # one epoch: both runs keep the same weights, so `eval --test-flip` of the plain run scores
    # what the flipped run tested
    flipped = evaluate_run(tmp_path / "plain", test_flip=True)
    assert (flipped["test_accuracy"], flipped["test_loss"]) == \
        (metrics["test_accuracy"], metrics["test_loss"])
    with pytest.raises(UserError, match="--test-flip: the denoise task is not classification"):
        TrainConfig(**{**VIT, "task": "denoise", "test_flip": True}).resolved()


def test_a_weight_average_is_what_is_evaluated_saved_and_resumed(tmp_path, monkeypatch):
    """--ema: the saved model is the average (not the trained weights), the eval and test
    scores are the average's, and a run stopped after epoch 1 resumes to the same result."""
    from hourglass.training import loop
    from hourglass.training.checkpoint import load_model

    cfg = TrainConfig(**VIT, epochs=2, batch_size=64, ema=0.99)
    whole = train(cfg, tmp_path / "whole", progress=False)
    model, _ = load_model(tmp_path / "whole" / "model.safetensors")
    plain = train(dataclasses.replace(cfg, ema=0.0), tmp_path / "plain", progress=False)
    trained, _ = load_model(tmp_path / "plain" / "model.safetensors")
    # the same seed and batches: the average differs from the weights it averages
    assert not torch.equal(model.head.weight, trained.head.weight)
    assert whole["test_loss"] != plain["test_loss"]

    real = loop.save_trainer

    def save_then_stop(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_trainer", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(loop, "save_trainer", real)
    resumed = train(cfg, tmp_path / "cut", resume=True, progress=False)
    assert (resumed["test_accuracy"], resumed["test_loss"]) == \
        (whole["test_accuracy"], whole["test_loss"])
    with pytest.raises(UserError, match="--ema must be in"):
        TrainConfig(**VIT, ema=1.0).resolved()


def test_mixed_batches_train_on_soft_targets_and_only_for_classification(tmp_path):
    cfg = TrainConfig(**VIT, epochs=1, batch_size=64, mixup=0.2, cutmix=1.0)
    metrics = train(cfg, tmp_path / "run", progress=False)  # cross-entropy on soft targets
    plain = train(dataclasses.replace(cfg, mixup=0.0, cutmix=0.0), tmp_path / "plain",
                  progress=False)
    assert 0 < metrics["test_loss"] < 10 and metrics["test_loss"] != plain["test_loss"]
    with pytest.raises(UserError, match="--mixup and --cutmix mix labels; the denoise task"):
        build_task(TrainConfig(**{**VIT, "task": "denoise", "mixup": 0.2}).resolved(),
                   (1, 8, 8), 10)
    with pytest.raises(UserError, match="--cutmix must be a number >= 0"):
        TrainConfig(**VIT, cutmix=-1.0).resolved()
