"""Architecture search: spaces, strategies, Optuna-backed trials, frontiers."""

from hourglass.search.runner import SearchOptions, search
from hourglass.search.space import BUILTINS, SearchSpace, load_space
from hourglass.search.strategies import STRATEGIES

__all__ = ["BUILTINS", "STRATEGIES", "SearchOptions", "SearchSpace", "load_space", "search"]
