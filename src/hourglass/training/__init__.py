"""Train and evaluate one model; predict with a trained one.

Names load on first use (PEP 562): a config and its parameter count (``config``) need no
PyTorch, so `hourglass params` answers without importing it."""

from importlib import import_module

_WHERE = {
    "TrainConfig": "hourglass.training.config",
    "count_run_params": "hourglass.training.config",
    "evaluate_run": "hourglass.training.evaluate",
    "load_run": "hourglass.training.evaluate",
    "train": "hourglass.training.loop",
    "train_many": "hourglass.training.loop",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'hourglass.training' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
