"""Search spaces as data: an architecture (Arch), one at a learning rate (Unit), a shape's
values (ShapeSpace) and the whole space (SearchSpace), with what a search asks of them. Reading
and checking a space from TOML or a built-in is space_file.py's."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from hourglass.models.family import DEFAULT_FAMILY, SHAPES, non_embedding
from hourglass.models.registry import get_family
from hourglass.training import TrainConfig, count_run_params

# As TrainConfig's, absent: the recipe's. recipe: its version (training/config.py, RECIPES;
# absent: the latest), which every committed study names; the studies run before recipe v2
# also name v1's split_rng, lr_schedule and test_checkpoint. context and warmup: the lm
# task's windows and lr warm-up; label_smoothing, dropout, attention_dropout, decay: the
# regularisers (dropout_masks: how dropout draws its masks); input_norm, test_flip: how a
# classifier's inputs are scaled, and whether it is scored on each image and its mirror
# image; ema: the weight average's decay; mixup, cutmix: their Beta alphas; drop_path:
# stochastic depth; optimizer, muon_lr: AdamW or Muon; precision: fp32 or bf16 autocast;
# patience: epochs without a lower eval loss before a run stops.
RECIPE_KEYS = ("split_rng", "lr_schedule", "test_checkpoint", "context", "warmup", "recipe",
               "label_smoothing", "dropout", "attention_dropout", "dropout_masks", "decay",
               "input_norm", "test_flip", "ema", "mixup", "cutmix", "drop_path", "optimizer",
               "muon_lr", "precision", "patience")
TOP_KEYS = {"task", "dataset", "family", "epochs", "batch_size", "seeds", "max_params",
            "train_limit", "eval_limit", "augment", "name", "lr_extend", *RECIPE_KEYS,
            *SHAPES}
CORE_DIMS = ("skip_dim", "inner_dim", "depth")


@dataclass(frozen=True, order=True)
class Arch:
    """One architecture: its shape and its family's dims, in the family's order."""

    shape: str
    dims: tuple[tuple[str, int], ...]
    family: str = DEFAULT_FAMILY

    @classmethod
    def of(cls, shape: str, family: str, values: dict) -> Arch:
        dims = get_family(family).dims
        picked = ((d, int(values.get(d.name, d.default))) for d in dims)
        return cls(shape, tuple((d.name, v) for d, v in picked if d.keyed(v)), family)

    def __getattr__(self, name: str) -> int:  # arch.skip_dim, arch.sub_blocks, ...
        for dim, value in self.__dict__.get("dims", ()):
            if dim == name:
                return value
        if "family" in self.__dict__:  # an optional dim at its default
            for dim in get_family(self.__dict__["family"]).dims:
                if dim.name == name:
                    return dim.default
        raise AttributeError(name)

    @property
    def values(self) -> dict[str, int]:
        return dict(self.dims)

    @property
    def label(self) -> str:
        """skip/inner/depth, then the family's other dims: '288/72/6 K2 a192 nh3 p4'."""
        fam = get_family(self.family)
        core = "/".join(str(self.values[d]) for d in CORE_DIMS)
        return " ".join([core] + [f"{d.short}{self.values[d.name]}" for d in fam.extra_dims
                                  if d.name in self.values])

    @property
    def slug(self) -> str:
        return "-".join(f"{d.short}{self.values[d.name]}" for d in get_family(self.family).dims
                        if d.name in self.values)


@dataclass(frozen=True, order=True)
class Unit:
    """One architecture at one learning rate: what the frontier ranks (seeds are averaged)."""

    arch: Arch
    lr: float

    @property
    def key(self) -> str:
        """'hourglass-z785-h115-L4-lr0.001' (the MLP), with the family's other dims added."""
        return f"{self.arch.shape}-{self.arch.slug}-lr{self.lr:g}"


@dataclass
class ShapeSpace:
    dims: dict[str, list[int]]  # every dim of the family, in its order
    lr: list[float]
    options: dict[str, str] = field(default_factory=dict)  # the family's (mlp: input_proj)
    # an explicit list of architectures (dims by name) instead of the product of ``dims``:
    # matched pairs (`hourglass match`) are not a product; ``dims`` then holds their values
    configs: list[dict[str, int]] | None = None

    def combinations(self) -> list[dict[str, int]]:
        if self.configs is not None:
            return self.configs
        return [dict(zip(self.dims, v, strict=True))
                for v in itertools.product(*self.dims.values())]

    def to_dict(self) -> dict:
        if self.configs is not None:
            return {"configs": self.configs, "lr": self.lr, **self.options}
        return {**self.dims, "lr": self.lr, **self.options}


@dataclass
class SearchSpace:
    name: str
    task: str
    dataset: str
    epochs: int
    shapes: dict[str, ShapeSpace]
    family: str = DEFAULT_FAMILY
    batch_size: int | None = None  # None: the recipe's (space_from_dict fills it in)
    seeds: list[int] = field(default_factory=lambda: [0])
    max_params: int | None = None
    train_limit: int | None = None
    eval_limit: int | None = None
    augment: str | None = None  # None: the family's recipe
    # lr-then-seeds: how many lrs beyond each end of a shape's grid a network may try when
    # its best lr sits at that end (lr_ladder); 0: the grid alone
    lr_extend: int = 0
    recipe: dict = field(default_factory=dict)  # RECIPE_KEYS given by the space
    # Where the data is read from (a text's vocabulary sizes its embedding, so counting a
    # network reads the text): not part of the space's identity, like the CLI's --data-dir
    data_dir: str | None = field(default=None, repr=False, compare=False)
    _params: dict = field(default_factory=dict, repr=False, compare=False)

    def train_config(self, unit: Unit, seed: int, epochs: int, data_dir: str | None) -> TrainConfig:
        a = unit.arch.values
        return TrainConfig(task=self.task, dataset=self.dataset, family=self.family,
                           **{k: a.pop(k) for k in CORE_DIMS}, arch=a,
                           **self.shapes[unit.arch.shape].options, shape=unit.arch.shape,
                           epochs=epochs, batch_size=self.batch_size, lr=unit.lr, seed=seed,
                           augment=self.augment, data_dir=data_dir,
                           train_limit=self.train_limit, eval_limit=self.eval_limit,
                           **self.recipe)

    @property
    def split_rng(self) -> str:
        """The split every trial trains on (one dataset load serves the whole search)."""
        arch = self.archs()[0]
        unit = Unit(arch, self.shapes[arch.shape].lr[0])
        return self.train_config(unit, self.seeds[0], self.epochs, None).resolved().split_rng

    def counts(self, arch: Arch) -> dict[str, int]:
        """An architecture's parameter and FLOP counts (cached: strategies ask often)."""
        if arch not in self._params:
            cfg = self.train_config(Unit(arch, 1e-3), 0, self.epochs, self.data_dir)
            self._params[arch] = count_run_params(cfg)
        return self._params[arch]

    def params(self, arch: Arch) -> int:
        """Trainable parameters: what training compute is counted in."""
        return self.counts(arch)["params"]

    def size(self, arch: Arch) -> int:
        """Trainable non-embedding parameters: the frontier's axis, and what max_params caps."""
        return non_embedding(self.counts(arch))

    def archs(self) -> list[Arch]:
        """Every architecture of the space under the parameter cap, in a fixed order."""
        out = []
        for shape, s in self.shapes.items():
            for values in s.combinations():
                arch = Arch.of(shape, self.family, values)
                if self.max_params is None or self.size(arch) <= self.max_params:
                    out.append(arch)
        return out

    def units(self) -> list[Unit]:
        return [Unit(a, lr) for a in self.archs() for lr in self.shapes[a.shape].lr]

    def lr_ladder(self, shape: str) -> list[float]:
        """The shape's lr grid with ``lr_extend`` more lrs beyond each end, each a step of the
        grid's ratio at that end (2e-3 after 1e-3 and 2e-3 gives 4e-3, 8e-3), to 6
        significant digits: every lr a network of the shape may train at."""
        grid = self.shapes[shape].lr
        if self.lr_extend == 0 or len(grid) < 2:
            return grid
        up, down = grid[-1] / grid[-2], grid[0] / grid[1]
        return ([float(f"{grid[0] * down ** i:.6g}") for i in range(self.lr_extend, 0, -1)]
                + grid + [float(f"{grid[-1] * up ** i:.6g}")
                          for i in range(1, self.lr_extend + 1)])

    def to_dict(self) -> dict:
        """The space as a dict (TOML's); an MLP space's is what it was before families."""
        d = {k: v for k, v in self.__dict__.items()
             if k not in ("shapes", "_params", "recipe", "family", "data_dir")
             and v is not None and not (k == "lr_extend" and v == 0)}
        if self.family != DEFAULT_FAMILY:
            d["family"] = self.family
        elif self.augment is None:
            d["augment"] = "none"  # the MLP's recipe, as MLP spaces always stored it
        d.update(self.recipe)
        for shape, s in self.shapes.items():
            d[shape] = s.to_dict()
        return d


def extends(new: dict, old: dict) -> bool:
    """Whether space ``new`` (``to_dict``) keeps every setting of ``old`` and every value of
    its lists, only adding values or shapes: every trial of ``old`` is then a trial of ``new``,
    so a search can widen its grid and train only what is missing. A larger lr_extend only
    adds lrs too."""
    for key, was in old.items():
        now = new.get(key)
        if key == "lr_extend":
            if not (isinstance(now, int) and now >= was):
                return False
        elif isinstance(was, dict):
            if not (isinstance(now, dict) and extends(now, was)):
                return False
        elif isinstance(was, list):  # of numbers, or of configs (dicts)
            if not (isinstance(now, list) and all(v in now for v in was)):
                return False
        elif now != was:
            return False
    return all(isinstance(v, dict) or k == "lr_extend" for k, v in new.items() if k not in old)


# Limits no real search meets, checked before any list is built: a typo such as
# high = 1000000000 must not make the tool allocate gigabytes before it says anything.
def rung_epochs(top: int, eta: int, min_epochs: int = 1) -> list[int]:
    """Epoch budgets of the halving rungs, lowest first, ending at ``top``."""
    rungs = [top]
    while rungs[0] / eta >= min_epochs and len(rungs) < 8:
        rungs.insert(0, max(min_epochs, math.floor(rungs[0] / eta)))
    return rungs
