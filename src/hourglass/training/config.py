"""A training run's configuration: one dataclass, saved as config.json in the run directory."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from hourglass.core.choices import (
    AUGMENTS,
    DROPOUT_MASKS,
    INPUT_NORMS,
    LR_SCHEDULES,
    SPLIT_RNGS,
    TEST_CHECKPOINTS,
)
from hourglass.core.errors import UserError
from hourglass.data import dataset_shape
from hourglass.models.family import DEFAULT_FAMILY, MUON_LR_PER_LR
from hourglass.models.registry import get_family
from hourglass.tasks.base import LMShape, TaskShape, task_spec
from hourglass.tasks.build import make_task

# PROTOCOL.md, Training recipe. Epochs by task on MNIST-size data (TaskSpec.paper_epochs);
# ImageNet-32: 2 epochs, batch 512.
PAPER_BATCH = 128
IMAGENET32_RECIPE = {"epochs": 2, "batch_size": 512}
# The authors' MNIST code path steps the learning rate once per epoch and evaluates only after
# the last epoch, so the test score is the final model's; on ImageNet-32 it steps per optimizer
# step and keeps the best-eval checkpoint (PROTOCOL.md). Fashion-MNIST, a drop-in MNIST, takes
# the MNIST recipe; every other dataset the per-step one.
EPOCH_RECIPE_DATASETS = ("mnist", "fashion-mnist")
MAX_SEED = 2**32 - 1  # each epoch's generator is seeded with seed * 1,000,003 + epoch
# Recipe v1: what this tool did before the corrections above (torch.randperm splits, per-step
# decay and the best-eval checkpoint on every dataset). A run directory written before these
# settings existed was trained so; its config.json reads back with them.
RECIPE_V1 = {"split_rng": "torch", "lr_schedule": "step", "test_checkpoint": "best"}
# Recipe versions: each run and search space names the one it trains on, so a study still
# reproduces after the defaults change. 1: this tool's first recipe (RECIPE_V1); 2: the
# paper's MNIST code path (the settings above); 3: fast Transformer recipes (the ViT
# classifying: warm-up and cosine per step, label smoothing, weight decay 0.05 on matrices
# only; the LM: dropout); 4: 3, with a ViT or Mixer classifier's inputs standardised per
# channel (input_norm); 5: 4, with a ViT classifier's layer matrices trained by Muon; 6: 5,
# with the LM's dropout masks drawn from 16-bit random integers (dropout_masks int16). The
# MLP's recipe is the same from 2 on.
RECIPES = (1, 2, 3, 4, 5, 6)
LATEST_RECIPE = RECIPES[-1]
DECAY = ("all", "matrices")  # which parameters weight decay pulls towards 0
OPTIMIZERS = ("adamw", "muon")
PRECISIONS = ("fp32", "bf16")
MUON_LR = 0.02  # Keller Jordan's default for Muon's peak lr (or the family recipe's
# MUON_LR_PER_LR x lr)


@dataclass
class TrainConfig:
    task: str = "denoise"
    dataset: str = "digits"
    family: str = DEFAULT_FAMILY  # a folder of models/families: mlp, vit, ...
    skip_dim: int = 256  # d_z (the residual stream's width in every family)
    inner_dim: int | list[int] = 32  # d_h, one value or (mlp) one per block
    depth: int = 4  # L
    arch: dict = field(default_factory=dict)  # the family's other dims (vit: sub_blocks, ...)
    input_proj: str = "learned"  # mlp: learned | fixed | identity
    block: str = "plain"  # mlp: the block, or a variant of it (models/layers/blocks_config.py)
    shape: str | None = None  # when set, checked against the dims
    norm: str | None = None  # None: the family's (mlp: batch, vit: layer)
    act: str | None = None  # None: the family's (mlp: relu, vit: gelu)
    epochs: int | None = None  # None: the paper's recipe for the task and dataset
    batch_size: int | None = None  # None: the paper's recipe
    lr: float = 1e-3
    weight_decay: float | None = None  # None: AdamW's PyTorch default 0.01, as the authors
    # (lm: 0.1)
    adam_beta2: float | None = None  # None: 0.999, PyTorch's (lm: 0.95, the authors')
    warmup: int | None = None  # lr warm-up steps of the cosine schedule (None: lm 100, else 0)
    context: int | None = None  # lm: characters a window holds (None: the family's 256)
    recipe: int | None = None  # the recipe version the unset settings come from (RECIPES;
    # None: the latest)
    label_smoothing: float | None = None  # classify: cross-entropy against smoothed labels
    dropout: float | None = None  # families with dropout (lm): attention and residual
    attention_dropout: float | None = None  # lm: on the attention weights (None: dropout)
    dropout_masks: str | None = None  # torch | int16 (core/choices.py, DROPOUT_MASKS)
    decay: str | None = None  # all | matrices (not norms, biases or positions)
    input_norm: str | None = None  # classify: none | channel (standardised per channel)
    test_flip: bool | None = None  # classify: eval and test score the mean of each image's
    # and its mirror image's logits
    ema: float | None = None  # decay of a weight average evaluated, tested and saved (0: none)
    drop_path: float | None = None  # stochastic depth (vit): its rate at the last layer
    mixup: float | None = None  # classify: Mixup's Beta alpha (0: none)
    cutmix: float | None = None  # classify: CutMix's Beta alpha (0: none)
    optimizer: str | None = None  # adamw | muon (Muon on the hidden matrices, AdamW on the
    # rest: training/muon.py)
    muon_lr: float | None = None  # Muon's peak lr (the schedule scales it as it scales lr;
    # None: MUON_LR, or the family recipe's multiple of lr, MUON_LR_PER_LR)
    precision: str | None = None  # fp32 | bf16 (the training step's forward under bfloat16
    # autocast: matmuls in bfloat16, weights, gradients, optimizer and evaluation in fp32)
    seed: int = 0
    proj_seed: int | None = None  # seeds a fixed W_in; None: the run's seed
    noise_std: float = 0.25  # denoise
    augment: str | None = None  # none | flip4 (the authors' x4 flip copy) | crop-flip; None:
    # the family's recipe
    # None: the paper's recipe for the dataset (see EPOCH_RECIPE_DATASETS); RECIPE_V1 = before
    split_rng: str | None = None  # numpy (the authors' split) | torch
    lr_schedule: str | None = None  # epoch (constant within an epoch) | step
    test_checkpoint: str | None = None  # last (final model) | best (lowest eval loss)
    patience: int | None = None  # stop once this many epochs pass without a lower eval loss
    # (0: train every epoch); the schedule stays the full epochs' and the best checkpoint is
    # tested: it saves the epochs a network that overfits would spend getting worse
    data_dir: str | None = None
    image_size: str | None = None  # folder datasets: N or HxW
    channels: int | None = None  # folder datasets: 1 or 3
    train_limit: int | None = None  # first N training images only (quick runs, tests)
    eval_limit: int | None = None  # first N eval images, a seeded sample of N test images
    extra: dict = field(default_factory=dict)  # free-form notes stored with the run

    def resolved(self) -> TrainConfig:
        """A copy with the recipe's defaults filled in and every value checked."""
        family = get_family(self.family)
        family.check_task(self.task)
        task = task_spec(self.task)
        if self.block != "plain" and "block" not in family.options:
            raise UserError(f"--block {self.block}: the block variants are the mlp family's")
        unknown = set(self.arch) - {d.name for d in family.extra_dims}
        if unknown:
            raise UserError(f"family {family.name} has no {', '.join(sorted(unknown))}; its "
                            f"dims: {', '.join(family.dim_names)}")
        version = LATEST_RECIPE if self.recipe is None else self.recipe
        if version not in RECIPES:
            raise UserError(f"--recipe {version!r}: choose one of {', '.join(map(str, RECIPES))}")
        recipe = IMAGENET32_RECIPE if self.dataset == "imagenet32" else {
            "epochs": task.paper_epochs, "batch_size": PAPER_BATCH}
        mnist = self.dataset in EPOCH_RECIPE_DATASETS
        defaults = {**recipe, "split_rng": "numpy", "lr_schedule": "epoch" if mnist else "step",
                    "test_checkpoint": "last" if mnist else "best", "weight_decay": 0.01,
                    "adam_beta2": 0.999, "warmup": 0, "label_smoothing": 0.0, "dropout": 0.0,
                    "decay": "all", "input_norm": "none", "test_flip": False, "ema": 0.0,
                    "mixup": 0.0, "cutmix": 0.0, "drop_path": 0.0, "optimizer": "adamw",
                    "muon_lr": MUON_LR, "precision": "fp32", "patience": 0,
                    "dropout_masks": "torch",
                    **(RECIPE_V1 if version == 1 else {}),
                    **family.recipe(task, self.dataset, version), "recipe": version}
        if MUON_LR_PER_LR in defaults:
            defaults["muon_lr"] = defaults.pop(MUON_LR_PER_LR) * self.lr
        cfg = dataclasses.replace(self, **{k: v if getattr(self, k) is None else getattr(self, k)
                                           for k, v in defaults.items()})
        if task.reads_text != (cfg.context is not None):
            raise UserError("--context is the window of a task that reads text; other tasks "
                            "read whole images")
        for name in ("epochs", "batch_size", *(("context",) if task.reads_text else ())):
            if not isinstance(getattr(cfg, name), int) or getattr(cfg, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive, "
                                f"got {getattr(cfg, name)}")
        if not (math.isfinite(cfg.lr) and cfg.lr > 0):
            raise UserError(f"--lr must be positive and finite, got {cfg.lr}")
        if not (math.isfinite(cfg.muon_lr) and cfg.muon_lr > 0):
            raise UserError(f"--muon-lr must be positive and finite, got {cfg.muon_lr}")
        for name in ("weight_decay", "noise_std", "warmup", "mixup", "cutmix"):
            value = getattr(cfg, name)
            if not (math.isfinite(value) and value >= 0):
                raise UserError(f"--{name.replace('_', '-')} must be a number >= 0, got {value}")
        for name in ("adam_beta2", "label_smoothing", "dropout", "attention_dropout", "ema",
                     "drop_path"):
            value = getattr(cfg, name)
            if name == "attention_dropout" and value is None:
                continue
            if not (isinstance(value, int | float) and 0 <= value < 1):
                raise UserError(f"--{name.replace('_', '-')} must be in [0, 1), got {value}")
        if not isinstance(cfg.patience, int) or isinstance(cfg.patience, bool) \
                or cfg.patience < 0:
            raise UserError(f"--patience must be a whole number of epochs >= 0, got "
                            f"{cfg.patience}")
        if cfg.patience and cfg.test_checkpoint != "best":
            raise UserError("--patience stops on the eval loss, which picks the tested model "
                            "only with --test-checkpoint best")
        if cfg.test_flip and not task.classifies:
            raise UserError(f"--test-flip: the {cfg.task} task is not classification (a "
                            "mirrored input has a mirrored target)")
        if cfg.label_smoothing and not task.classifies:
            raise UserError(f"--label-smoothing: the {cfg.task} task has no labels to smooth")
        if cfg.optimizer == "muon" and not hasattr(family.module_class(), "hidden_matrices"):
            raise UserError(f"--optimizer muon: the {family.name} family's model does not name "
                            "its hidden matrices (hidden_matrices())")
        for name in ("dropout", "attention_dropout", "dropout_masks"):
            if getattr(cfg, name) not in (0, None, "torch") and not family.takes_dropout:
                raise UserError(f"--{name.replace('_', '-')}: the {family.name} family has no "
                                "dropout layers")
        if cfg.drop_path and not family.takes_drop_path:
            raise UserError(f"--drop-path: the {family.name} family has no stochastic depth")
        for name in ("seed", "proj_seed"):
            value = getattr(cfg, name)
            if value is not None and not 0 <= value <= MAX_SEED:
                raise UserError(f"--{name.replace('_', '-')} must be between 0 and {MAX_SEED}, "
                                f"got {value}")
        for name, allowed in (("augment", AUGMENTS), ("split_rng", SPLIT_RNGS), ("decay", DECAY),
                              ("optimizer", OPTIMIZERS), ("precision", PRECISIONS),
                              ("input_norm", INPUT_NORMS), ("dropout_masks", DROPOUT_MASKS),
                              ("lr_schedule", LR_SCHEDULES),
                              ("test_checkpoint", TEST_CHECKPOINTS)):
            if getattr(cfg, name) not in allowed:
                raise UserError(f"--{name.replace('_', '-')} {getattr(cfg, name)!r}: choose "
                                f"one of {', '.join(allowed)}")
        for name in ("train_limit", "eval_limit"):
            value = getattr(cfg, name)
            if value is not None and value < 2:
                raise UserError(f"--{name.replace('_', '-')} must be at least 2, got {value}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """A stored config.json. One written before recipe versions were recorded trained on
        recipe 2 if it names recipe 2's settings, else on recipe 1 (RECIPE_V1)."""
        if not isinstance(d, dict):
            raise UserError(f"a run config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**{"recipe": 2 if "split_rng" in d else 1, **RECIPE_V1, **d})


def build_task(cfg: TrainConfig, image_shape: tuple[int, int, int] | None, num_classes: int,
               tensors: bool = True, chars: str = "") -> TaskShape | LMShape:
    """The run's task (with its tensors), or with ``tensors`` False just its sizes; for a text
    ``num_classes`` is its vocabulary, ``chars`` it."""
    return make_task(cfg.task, cfg.dataset, image_shape, num_classes, context=cfg.context,
                     noise_std=cfg.noise_std, label_smoothing=cfg.label_smoothing or 0.0,
                     input_norm=cfg.input_norm or "none", mixup=cfg.mixup or 0.0,
                     cutmix=cfg.cutmix or 0.0,
                     tensors=tensors, chars=chars)


def model_config(cfg: TrainConfig, task: TaskShape):
    """The config of the model a run trains, in its family's terms (MLPConfig, ViTConfig)."""
    return get_family(cfg.family).make_config(cfg, task)


def count_run_params(cfg: TrainConfig) -> dict[str, int]:
    """`hourglass params`: trainable, frozen and embedding parameters and FLOPs, without
    loading data."""
    cfg = cfg.resolved()
    shape, classes = dataset_shape(cfg.dataset, cfg.data_dir, cfg.image_size, cfg.channels)
    family = get_family(cfg.family)
    return family.counts(family.make_config(cfg, build_task(cfg, shape, classes, False)))
