"""Reading and checking a search space: per shape, the values of skip_dim, inner_dim, depth
and learning rate, plus task, dataset, epochs, batch size, seeds and an optional parameter
cap.

A space is a TOML file or a built-in name. ``family`` names the model family (default
``mlp``); each shape table lists that family's dims (models/family.py: skip_dim, inner_dim,
depth, and for the ViT sub_blocks, attn_dim, heads, patch, which default to one value) and
the learning rates. Every dimension is a finite list; a table
``{low, high, step}`` (integers) or ``{low, high, num, log = true}`` (floats) is shorthand for
one. Example::

    task = "denoise"
    dataset = "digits"
    epochs = 9
    seeds = [0, 1]
    max_params = 500_000          # optional
    lr_extend = 1                 # optional: lr-then-seeds tries 1 lr past a best grid end
    [hourglass]
    skip_dim = [96, 192, 384]
    inner_dim = [8, 16, 32]
    depth = {low = 2, high = 6, step = 2}
    lr = [1e-3, 3e-3]
    input_proj = "learned"        # optional
    [conventional]
    skip_dim = [64]
    inner_dim = [96, 192, 384]
    depth = [1, 2]
    lr = [1e-3, 3e-3]
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from hourglass.core.choices import TASKS
from hourglass.core.errors import UserError
from hourglass.models.family import DEFAULT_FAMILY, SHAPES, Family
from hourglass.models.registry import get_family
from hourglass.search.builtins import BUILTINS
from hourglass.search.space import RECIPE_KEYS, TOP_KEYS, Arch, SearchSpace, ShapeSpace, Unit
from hourglass.training import count_run_params

MAX_VALUES = 10_000  # values of one dimension
MAX_TRIALS = 100_000  # architectures x learning rates x seeds of a whole space
MAX_LR_EXTEND = 4  # lrs beyond each end of a grid: 2^4 = 16x past it at a grid of doublings


def _number(where: str, key: str, value, kind: type):
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (kind is int and not float(value).is_integer()):
        raise UserError(f"{where}.{key}: must be a finite {kind.__name__}, got {value!r}")
    return kind(value)


def _values(where: str, key: str, value, kind: type, zero_ok: bool = False) -> list:
    """A list of values (or a range of them); positive, or with ``zero_ok`` at least 0 (a
    dim whose 0 means its default: attn_dim, token_dim, conv)."""
    if isinstance(value, dict):
        extra = set(value) - {"low", "high", "step", "num", "log"}
        if extra or "low" not in value or "high" not in value:
            raise UserError(f"{where}.{key}: a range needs low and high (and step, or num with "
                            f"log), got {sorted(value)}")
        low, high = (_number(where, key, value[k], kind) for k in ("low", "high"))
        if kind is int:
            step = _number(where, f"{key}.step", value.get("step", 1), int)
            if step <= 0:
                raise UserError(f"{where}.{key}: step must be a positive integer")
            count = max(0, (high - low) // step + 1)
        else:
            count = _number(where, f"{key}.num", value.get("num", 0), int)
            if count < 1 or low <= 0 or high < low:
                raise UserError(f"{where}.{key}: a float range needs 0 < low <= high and num >= 1")
        if count > MAX_VALUES:
            raise UserError(f"{where}.{key}: the range holds {count:,} values; at most "
                            f"{MAX_VALUES:,}")
        if kind is int:
            value = list(range(low, high + 1, step))
        elif value.get("log", True) and count > 1:
            value = [low * (high / low) ** (i / (count - 1)) for i in range(count)]
        else:
            value = [low + (high - low) * i / max(1, count - 1) for i in range(count)]
    if not isinstance(value, list):
        value = [value]
    if not value:
        raise UserError(f"{where}.{key}: empty; give at least one value")
    if len(value) > MAX_VALUES:
        raise UserError(f"{where}.{key}: {len(value):,} values; at most {MAX_VALUES:,}")
    out = [_number(where, key, v, kind) for v in value]
    if any(v < 0 or (v == 0 and not zero_ok) for v in out):
        raise UserError(f"{where}.{key}: values must be positive, got {value}")
    return sorted(set(out))


def _optional_int(name: str, d: dict, key: str) -> int | None:
    return None if key not in d else _number(name, key, d[key], int)


def _shape_space(name: str, shape: str, d: dict, family: Family) -> ShapeSpace:
    where = f"{name}: [{shape}]"
    dims = family.dim_names
    if not isinstance(d, dict):
        raise UserError(f"{where}: must be a table of {', '.join(dims)} and lr, got {d!r}")
    allowed = {*dims, "lr", "configs", *family.options}
    unknown = set(d) - allowed
    if unknown:
        raise UserError(f"{where}: unknown keys {', '.join(sorted(unknown))}; the {family.name} "
                        f"family takes {', '.join(sorted(allowed))}")
    configs = _configs(where, d, family) if "configs" in d else None
    missing = {dim.name for dim in family.dims if dim.default is None} | {"lr"}
    missing -= set(d) | (set(dims) if configs else set())
    if missing:
        raise UserError(f"{where}: missing {', '.join(sorted(missing))}")
    if configs:
        values = {dim.name: sorted({c.get(dim.name, dim.default) for c in configs})
                  for dim in family.dims}
    else:
        values = {dim.name: _values(where, dim.name, d[dim.name], int, dim.default == 0)
                  if dim.name in d else [dim.default] for dim in family.dims}
    # an optional dim only at its default is no parameter of the search (Dim.optional)
    values = {dim.name: values[dim.name] for dim in family.dims
              if values[dim.name] != [dim.default] or not dim.optional}
    options = {}
    for key, choices in family.options.items():
        if callable(choices):  # open-ended (mlp: block = "hash:8"); left out when not given
            if key in d:
                choices(d[key])
                options[key] = str(d[key])
            continue
        value = d.get(key, choices[0])
        if value not in choices:
            raise UserError(f"{where}: {key} {value!r}: choose one of {', '.join(choices)}")
        options[key] = value
    s = ShapeSpace(values, _values(where, "lr", d["lr"], float), options, configs)
    skip, inner = s.dims["skip_dim"], s.dims["inner_dim"]
    if configs:
        wrong = [c for c in configs if (c["inner_dim"] < c["skip_dim"]) != (shape == "hourglass")
                 or c["inner_dim"] == c["skip_dim"]]
        if wrong:
            raise UserError(f"{where}: {wrong[0]} is not a {shape} architecture")
    elif shape == "hourglass" and max(inner) >= min(skip):
        raise UserError(f"{where}: inner_dim {max(inner)} >= skip_dim {min(skip)}; "
                        "every hourglass inner_dim must be below every skip_dim")
    elif shape == "conventional" and min(inner) <= max(skip):
        raise UserError(f"{where}: inner_dim {min(inner)} <= skip_dim {max(skip)}; "
                        "every conventional inner_dim must be above every skip_dim")
    return s


def _configs(where: str, d: dict, family: Family) -> list[dict[str, int]]:
    """``configs = [{skip_dim = .., inner_dim = .., depth = .., ...}, ...]``: each with the
    family's dims (those with a default may be left out); none of them listed beside it."""
    raw = d["configs"]
    clash = set(d) & set(family.dim_names)
    if clash:
        raise UserError(f"{where}: give configs or {', '.join(sorted(clash))}, not both")
    if not isinstance(raw, list) or not raw or len(raw) > MAX_VALUES:
        raise UserError(f"{where}.configs: a list of 1 to {MAX_VALUES:,} tables of dims")
    out = []
    for i, c in enumerate(raw):
        if not isinstance(c, dict) or set(c) - set(family.dim_names):
            raise UserError(f"{where}.configs[{i}]: a table of {', '.join(family.dim_names)}; "
                            f"got {c!r}")
        missing = [dim.name for dim in family.dims if dim.default is None and dim.name not in c]
        if missing:
            raise UserError(f"{where}.configs[{i}]: missing {', '.join(missing)}")
        full = {dim.name: _number(f"{where}.configs[{i}]", dim.name, c.get(dim.name, dim.default),
                                  int) for dim in family.dims}
        zero_ok = {dim.name for dim in family.dims if dim.default == 0}  # 0 means "its default"
        if any(v < 0 or (v == 0 and k not in zero_ok) for k, v in full.items()):
            raise UserError(f"{where}.configs[{i}]: dims must be positive, got {c!r}")
        full = {d.name: full[d.name] for d in family.dims if d.keyed(full[d.name])}
        if full not in out:
            out.append(full)
    return out


def space_from_dict(d: dict, name: str, data_dir: str | None = None) -> SearchSpace:
    """The space ``d`` describes, checked: each shape's largest network is counted on the
    data under ``data_dir`` (a text's vocabulary sets its embedding)."""
    unknown = set(d) - TOP_KEYS
    if unknown:
        raise UserError(f"{name}: unknown keys {', '.join(sorted(unknown))}; allowed: "
                        f"{', '.join(sorted(TOP_KEYS))}")
    family = get_family(str(d.get("family", DEFAULT_FAMILY)))
    shapes = {s: _shape_space(name, s, d[s], family) for s in SHAPES if s in d}
    if not shapes:
        raise UserError(f"{name}: no [hourglass] or [conventional] table")
    for key in ("task", "dataset", "epochs"):
        if key not in d:
            raise UserError(f"{name}: missing {key}")
    if d["task"] not in TASKS:
        raise UserError(f"{name}: unknown task {d['task']!r}; choose one of {', '.join(TASKS)}")
    if d["task"] not in family.tasks:
        raise UserError(f"{name}: the {family.name} family serves {', '.join(family.tasks)}, "
                        f"not {d['task']}")
    seeds = d.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or len(seeds) > MAX_VALUES:
        raise UserError(f"{name}: seeds must be a list of 1 to {MAX_VALUES:,} integers, e.g. "
                        f"[0, 1, 2]; got {seeds!r}")
    seeds = sorted({_number(name, "seeds", v, int) for v in seeds})
    trials = len(seeds) * sum(
        (len(s.configs) if s.configs else math.prod(len(v) for v in s.dims.values())) * len(s.lr)
        for s in shapes.values())
    if trials > MAX_TRIALS:
        raise UserError(f"{name}: the space holds {trials:,} trials; at most {MAX_TRIALS:,}")
    space = SearchSpace(
        name=str(d.get("name", name)), task=d["task"], dataset=str(d["dataset"]),
        epochs=_values(name, "epochs", d["epochs"], int)[0], shapes=shapes,
        family=family.name,
        batch_size=(_values(name, "batch_size", d["batch_size"], int)[0]
                    if "batch_size" in d else None),
        seeds=seeds, max_params=_optional_int(name, d, "max_params"),
        train_limit=_optional_int(name, d, "train_limit"),
        eval_limit=_optional_int(name, d, "eval_limit"),
        augment=d.get("augment"), recipe={k: d[k] for k in RECIPE_KEYS if k in d},
        lr_extend=_lr_extend(name, d),
        data_dir=None if data_dir is None else str(data_dir))
    if space.batch_size is None:  # the recipe's, stored as a number: the space's dict (a
        # search folder's identity) names it
        shape, first = next(iter(shapes.items()))
        values = first.configs[0] if first.configs else {k: v[0] for k, v in first.dims.items()}
        unit = Unit(Arch.of(shape, family.name, values), first.lr[0])
        space.batch_size = space.train_config(unit, seeds[0], space.epochs,
                                              data_dir).resolved().batch_size
    for shape, s in shapes.items():  # the largest network of each shape (or every listed
        # one) built as a config, no weights, now: bad settings and absurd sizes fail before
        # the search starts
        for values in s.configs or [{k: max(v) for k, v in s.dims.items()}]:
            arch = Arch.of(shape, family.name, values)
            count_run_params(space.train_config(Unit(arch, s.lr[0]), seeds[0], space.epochs,
                                                data_dir).resolved())
    if not space.archs():
        raise UserError(f"{name}: no architecture fits under max_params {space.max_params}")
    return space


def _lr_extend(name: str, d: dict) -> int:
    n = _number(name, "lr_extend", d.get("lr_extend", 0), int)
    if not 0 <= n <= MAX_LR_EXTEND:
        raise UserError(f"{name}: lr_extend must be 0 to {MAX_LR_EXTEND} (lrs beyond each end "
                        f"of the grid), got {n}")
    return n


def load_space(spec: str, data_dir: str | None = None) -> SearchSpace:
    """A built-in name or a TOML file path, checked against the data under ``data_dir``."""
    if spec in BUILTINS:
        return space_from_dict(BUILTINS[spec](), spec, data_dir)
    path = Path(spec)
    if not path.is_file():
        raise UserError(f"search space {spec!r}: no such file or built-in; built-ins: "
                        f"{', '.join(BUILTINS)}")
    try:
        d = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid TOML ({e})") from e
    return space_from_dict(d, path.stem, data_dir)
