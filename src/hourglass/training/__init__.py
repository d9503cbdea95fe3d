"""Train and evaluate one model; predict with a trained one."""

from hourglass.training.config import TrainConfig, count_run_params
from hourglass.training.evaluate import evaluate_run, load_run
from hourglass.training.loop import train, train_many

__all__ = ["TrainConfig", "count_run_params", "evaluate_run", "load_run", "train", "train_many"]
