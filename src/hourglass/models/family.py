"""Model families as plug-ins: what the tool needs to know of a family, and the registry.

A family declares its architecture hyperparameters (``dims``: the integers a search varies,
named for a reader; the paper's symbols in ``help``), how a run's settings become its config,
the exact parameter count (trainable, frozen and embedding apart) and forward FLOPs per sample
of a config, which tasks it serves, which shape a config is, and the module that builds it.
Everything here is arithmetic on configs and needs no PyTorch: `hourglass params`, search
spaces and matching answer without it; ``build`` imports the module when a model is made.

Families register themselves in their config module (mlp_config.py, vit_config.py,
mixer_config.py, lm_config.py); named variants (``VARIANTS``) are full settings a user can
start from by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hourglass.core.errors import UserError

SHAPES = ("hourglass", "conventional")
DEFAULT_FAMILY = "mlp"  # what a command, config or space without a family means (the paper's)
COUNT_KEYS = ("params", "frozen_params", "embedding_params", "flops_per_sample")
# a recipe default that is not a run setting: an unset muon_lr is this multiple of lr, so
# that a search over lr moves both optimizers' steps together (training/config.py)
MUON_LR_PER_LR = "muon_lr_per_lr"


@dataclass(frozen=True)
class Dim:
    """An integer architecture hyperparameter; ``short`` names it in trial keys."""

    name: str
    short: str
    help: str
    default: int | None = None  # None: a search space must list it
    # added after the family's first searches: at its default it stays out of trial keys,
    # labels, trials.csv and the search's parameters, so those searches keep theirs
    optional: bool = False

    def keyed(self, value: int) -> bool:
        """Whether ``value`` of this dim names an architecture (it always does, but an
        optional dim's default)."""
        return not (self.optional and value == self.default)


@dataclass(frozen=True)
class Family:
    name: str
    summary: str
    dims: tuple[Dim, ...]  # skip_dim, inner_dim and depth first: every family has them
    tasks: tuple[str, ...]
    # (run settings, task shape) -> the family's config; raises UserError on bad values
    make_config: Callable[[Any, Any], Any]
    config_from_dict: Callable[[dict], Any]  # a stored config (checkpoint metadata)
    counts: Callable[[Any], dict[str, int]]  # COUNT_KEYS of a config
    module: str  # "package.module:Class", built as Class(cfg)
    # options a shape table of a search space may set (strings, e.g. input_proj): their
    # allowed values (the first the default), or a function that checks one (raising
    # UserError) for an option whose default "plain" a space need not state (mlp: block)
    options: dict[str, tuple[str, ...] | Callable[[str], object]] = field(default_factory=dict)
    # (the task's TaskSpec, dataset, recipe version) -> defaults for the run settings left
    # unset (norm, act, augment, and where the family has its own recipe, epochs, schedule,
    # weight decay): the recipe a config states it reaches (training/config.py, RECIPES);
    # MUON_LR_PER_LR among them ties Muon's lr to lr
    recipe: Callable[[Any, str, int], dict] = lambda task, dataset, version: {}
    takes_dropout: bool = False  # whether the module has dropout (TrainConfig.dropout)
    takes_drop_path: bool = False  # whether it has stochastic depth (TrainConfig.drop_path)
    # whether some parameters are embeddings (tokens, patches, positions), counted apart:
    # frontiers are then drawn against non-embedding parameters, and trials.csv says so
    embeddings: bool = True
    default_task: str = "denoise"  # what `hourglass compare --family NAME` compares on
    default_dataset: str = "digits"  # what a command without --dataset reads
    # a small architecture of each shape (dims by name): what tests and examples build
    examples: dict[str, dict[str, int]] = field(default_factory=dict)
    # named search spaces the family ships (`hourglass spaces`): name -> a function making
    # the dict a TOML space file would hold
    spaces: dict[str, Callable[[], dict]] = field(default_factory=dict)
    # (task, dataset, the task's sizes: TaskShape or LMShape) -> the space dict, with its
    # "name", that `hourglass compare --family NAME` searches; None: compare refuses
    compare_space: Callable[[str, str, Any], dict] | None = None

    @property
    def dim_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    @property
    def extra_dims(self) -> tuple[Dim, ...]:
        """Dims beyond the three every family has (they live in TrainConfig.arch)."""
        return tuple(d for d in self.dims if d.name not in ("skip_dim", "inner_dim", "depth"))

    def module_class(self) -> type:
        """The family's module class, imported (a plug-in's failure: one line)."""
        module, cls = self.module.split(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except Exception as e:  # a plug-in's module: one line that names it
            raise UserError(f"family {self.name} ({ORIGINS.get(self.name, 'built-in')}): "
                            f"importing {self.module} failed: {type(e).__name__}: {e}") from e

    def build(self, cfg):
        """The module for ``cfg``, its trainable parameters checked against ``counts``: a
        family whose arithmetic and module disagree is refused before it trains."""
        cls = self.module_class()
        try:
            model = cls(cfg)
        except UserError:
            raise
        except Exception as e:  # a plug-in's module: one line that names it
            raise UserError(f"family {self.name} ({ORIGINS.get(self.name, 'built-in')}): "
                            f"building {self.module} failed: {type(e).__name__}: {e}") from e
        declared = self.counts(cfg)["params"]
        actual = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if declared != actual:
            raise UserError(f"family {self.name} ({ORIGINS.get(self.name, 'built-in')}): its "
                            f"counts declare {declared:,} trainable parameters for this "
                            f"config, its module {self.module} has {actual:,}; fix one")
        return model

    def check_task(self, task: str) -> None:
        if task not in self.tasks:
            raise UserError(f"family {self.name} serves the tasks {', '.join(self.tasks)}; "
                            f"not {task}")


FAMILIES: dict[str, Family] = {}
VARIANTS: dict[str, dict] = {}  # name -> TrainConfig settings (family, dims, recipe)
ORIGINS: dict[str, str] = {}  # family name -> "built-in" or the plug-in that registered it
LOADING: list[str] = []  # the plug-in being imported now (models/registry.py sets it)


def register(family: Family, variants: dict[str, dict] | None = None) -> Family:
    """Make ``family`` (and its named variants) known: a family's spec module calls it when
    imported, built-in or plug-in alike."""
    origin = f"plug-in {LOADING[-1]}" if LOADING else "built-in"
    if family.name in FAMILIES and ORIGINS.get(family.name) != origin:
        raise UserError(f"{origin} registers the family {family.name!r}, which "
                        f"{ORIGINS[family.name]} registered; give it another name")
    if tuple(family.dim_names[:3]) != ("skip_dim", "inner_dim", "depth"):
        raise UserError(f"family {family.name} ({origin}): its dims must begin with skip_dim, "
                        f"inner_dim and depth, got {', '.join(family.dim_names)}")
    ORIGINS[family.name] = origin
    FAMILIES[family.name] = family
    for name, settings in (variants or {}).items():
        VARIANTS[name] = {"family": family.name, **settings}
    return family


def non_embedding(counts: dict) -> int:
    """Trainable parameters less the embeddings (an LM's token embedding and output layer, a
    ViT's patch embedding and positions; the MLP has none): the size every frontier is drawn
    against and every budget is matched at. ``counts``: a count dict or a trials.csv row."""
    return int(counts["params"]) - int(counts.get("embedding_params") or 0)


def shape_of(skip_dim: int, inner_dims: list[int]) -> str:
    """'hourglass' (every inner width below the skip width), 'conventional' (every one above),
    or 'mixed': the one rule every family's shape follows."""
    if all(d < skip_dim for d in inner_dims):
        return "hourglass"
    if all(d > skip_dim for d in inner_dims):
        return "conventional"
    return "mixed"


def check_shape(expected: str | None, actual: str, skip_dim: int, inner) -> None:
    if expected is None or expected == actual:
        return
    rule = {"hourglass": "every inner-dim < skip-dim",
            "conventional": "every inner-dim > skip-dim"}.get(expected)
    if rule is None:
        raise UserError(f"--shape {expected!r}: choose hourglass or conventional")
    raise UserError(f"--shape {expected} needs {rule}; got skip-dim {skip_dim}, "
                    f"inner-dim {inner}")


def space_name(*parts: str) -> str:
    """A generated space's name from its parts (a dataset's path made a file-name word)."""
    return "-".join(parts).replace(":", "_").replace("/", "_")
