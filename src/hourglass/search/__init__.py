"""Architecture search: spaces, strategies, Optuna-backed trials, frontiers.

Names load on first use (PEP 562): `hourglass spaces` reads the built-in spaces
(``hourglass.search.builtins``) without importing PyTorch."""

from hourglass.core.lazy import lazy

__getattr__, __all__ = lazy(__name__, {
    "SearchOptions": "hourglass.search.runner",
    "search": "hourglass.search.runner",
    "SearchSpace": "hourglass.search.space",
    "load_space": "hourglass.search.space_file",
    "BUILTINS": "hourglass.search.builtins",
})
