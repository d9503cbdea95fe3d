"""Built-in search spaces: every family's (Family.spaces, in each family's spaces.py), as the
dicts a TOML file would hold (`hourglass spaces show NAME` prints one as TOML, ready to edit
and pass back to `hourglass search`). A plug-in family's spaces join them once it is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping

from hourglass.core.errors import UserError
from hourglass.models.registry import families


class _Builtins(Mapping[str, Callable[[], dict]]):
    """Name -> the function making that space, gathered from the families registered now."""

    def _all(self) -> dict[str, Callable[[], dict]]:
        found: dict[str, Callable[[], dict]] = {}
        for family in families().values():
            for name, make in family.spaces.items():
                if name in found:
                    raise UserError(f"family {family.name} ships a search space named "
                                    f"{name!r}, as another family does; rename one")
                found[name] = make
        return found

    def __getitem__(self, name: str) -> Callable[[], dict]:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


BUILTINS = _Builtins()


def describe(space: dict) -> str:
    """One line for `hourglass spaces`."""
    shapes = [k for k, v in space.items() if isinstance(v, dict)]
    sizes = []
    for shape in shapes:
        s = space[shape]
        archs = math.prod(len(v) for k, v in s.items() if isinstance(v, list) and k != "lr")
        sizes.append(f"{shape} {archs} architectures x {len(s['lr'])} lrs")
    family = f"{space['family']} " if "family" in space else ""
    return (f"{family}{space['task']} on {space['dataset']}, {space['epochs']} epochs, "
            f"{len(space['seeds'])} seeds; " + ", ".join(sizes))


def toml(space: dict) -> str:
    """A space dict as TOML: top-level keys, then one table per shape."""
    tables = [k for k, v in space.items() if isinstance(v, dict)]
    lines = [f"{k} = {_value(v)}" for k, v in space.items() if k not in tables]
    for shape in tables:
        lines += ["", f"[{shape}]"] + [f"{k} = {_value(v)}" for k, v in space[shape].items()]
    return "\n".join(lines) + "\n"


def _value(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an inline table: one of a shape's configs
        return "{" + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + "}"
    return repr(v)
