"""hourglass-mlp: build, train and compare Hourglass and conventional residual MLPs.

The Python API mirrors the CLI:

    import hourglass
    cfg = hourglass.TrainConfig(task="denoise", dataset="mnist", skip_dim=785, inner_dim=115,
                                depth=4, input_proj="fixed", data_dir="data")
    hourglass.params(cfg)                       # hourglass params ...
    metrics = hourglass.training(cfg, "runs/a")    # hourglass train ... --out runs/a
    hourglass.evaluate("runs/a")                # hourglass eval runs/a
    hourglass.predict("runs/a", "noisy.png", "clean.png")  # hourglass predict ...

    from hourglass.search import search                 # hourglass search ...
    from hourglass.compare import compare               # hourglass compare ...
"""

from hourglass.data import download, list_datasets, load_dataset
from hourglass.errors import DivergedError, UserError
from hourglass.models import MLPConfig, ResidualMLP, count_params
from hourglass.report import write_report
from hourglass.search import SearchOptions, load_space
from hourglass.tasks import Task
from hourglass.training import TrainConfig, load_run, train
from hourglass.training import count_run_params as params
from hourglass.training import evaluate_run as evaluate
from hourglass.training.predict import predict

__version__ = "0.1.0"
__all__ = ["DivergedError", "MLPConfig", "ResidualMLP", "SearchOptions", "Task", "TrainConfig",
           "UserError", "count_params", "download", "evaluate", "list_datasets", "load_dataset",
           "load_run", "load_space", "params", "predict", "train", "write_report"]
