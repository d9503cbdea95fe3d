"""Architecture search: spaces, strategies, Optuna-backed trials, frontiers.

Names load on first use (PEP 562): `hourglass spaces` reads the built-in spaces
(``hourglass.search.builtins``) without importing PyTorch."""

from importlib import import_module

_WHERE = {
    "SearchOptions": "hourglass.search.runner",
    "search": "hourglass.search.runner",
    "SearchSpace": "hourglass.search.space",
    "load_space": "hourglass.search.space",
    "BUILTINS": "hourglass.search.builtins",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'hourglass.search' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
