"""Train and evaluate one model; predict with a trained one.

Names load on first use (PEP 562): a config and its parameter count (``config``) need no
PyTorch, so `hourglass params` answers without importing it."""

from hourglass.core.lazy import lazy

__getattr__, __all__ = lazy(__name__, {
    "TrainConfig": "hourglass.training.config",
    "count_run_params": "hourglass.training.config",
    "evaluate_run": "hourglass.training.evaluate",
    "load_run": "hourglass.training.evaluate",
    "train": "hourglass.training.loop",
})
