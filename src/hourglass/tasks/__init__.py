"""Tasks: what a model is trained to do with a dataset. base.py: a task's sizes, no PyTorch
(TaskShape, LMShape); image.py: the paper's image tasks (Task); text.py: next-character
prediction (LMTask). Names load on first use, so the sizes answer without PyTorch."""

from hourglass.core.lazy import lazy

__getattr__, __all__ = lazy(__name__, {
    "TaskShape": "hourglass.tasks.base",
    "LMShape": "hourglass.tasks.base",
    "Task": "hourglass.tasks.image",
    "to_float": "hourglass.tasks.image",
    "LMTask": "hourglass.tasks.text",
})
