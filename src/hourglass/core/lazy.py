"""Package names that load on first use (PEP 562), so that `hourglass --help` and
`hourglass params` answer without importing PyTorch: a package's ``__init__`` names where each
public name lives instead of importing it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module


def lazy(package: str, where: dict[str, str | tuple[str, str]]) -> tuple[Callable, list[str]]:
    """(``__getattr__``, ``__all__``) for ``package``. ``where`` maps each public name to its
    module, or to (module, attribute) when the attribute has another name there."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = (where[name], name) if isinstance(where[name], str) else where[name]
        value = getattr(import_module(module), attr)
        setattr(sys.modules[package], name, value)  # the next look-up is a plain attribute
        return value

    return __getattr__, sorted(where)
