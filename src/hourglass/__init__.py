"""hourglass-mlp: build, train and compare Hourglass and conventional network shapes: residual
MLPs, Vision Transformers (model families), and the public ResidualFFN block.

The Python API mirrors the CLI:

    import hourglass
    cfg = hourglass.TrainConfig(task="denoise", dataset="mnist", skip_dim=785, inner_dim=115,
                                depth=4, input_proj="fixed", data_dir="data")
    hourglass.params(cfg)                       # hourglass params ...
    metrics = hourglass.train(cfg, "runs/a")    # hourglass train ... --out runs/a
    hourglass.evaluate("runs/a")                # hourglass eval runs/a
    hourglass.predict("runs/a", "noisy.png", "clean.png")  # hourglass predict ...

    from hourglass.search import search                 # hourglass search ...
    from hourglass.cli.compare import compare               # hourglass compare ...

The names load on first use (PEP 562), so importing the package, and starting the `hourglass`
command, does not import PyTorch.
"""

from hourglass.core.lazy import lazy
from hourglass.core.version import __version__ as __version__

__getattr__, __all__ = lazy(__name__, {  # public name -> (module, attribute)
    "download": ("hourglass.data", "download"),
    "list_datasets": ("hourglass.data", "list_datasets"),
    "load_dataset": ("hourglass.data", "load_dataset"),
    "DivergedError": ("hourglass.core.errors", "DivergedError"),
    "UserError": ("hourglass.core.errors", "UserError"),
    "MLPConfig": ("hourglass.models", "MLPConfig"),
    "ResidualMLP": ("hourglass.models", "ResidualMLP"),
    "count_params": ("hourglass.models", "count_params"),
    "ResidualFFN": ("hourglass.models", "ResidualFFN"),
    "VisionTransformer": ("hourglass.models", "VisionTransformer"),
    "ViTConfig": ("hourglass.models", "ViTConfig"),
    "get_family": ("hourglass.models", "get_family"),
    "write_report": ("hourglass.report", "write_report"),
    "SearchOptions": ("hourglass.search", "SearchOptions"),
    "load_space": ("hourglass.search", "load_space"),
    "Task": ("hourglass.tasks.image", "Task"),
    "TrainConfig": ("hourglass.training", "TrainConfig"),
    "load_run": ("hourglass.training", "load_run"),
    "train": ("hourglass.training", "train"),
    "params": ("hourglass.training", "count_run_params"),
    "evaluate": ("hourglass.training", "evaluate_run"),
    "predict": ("hourglass.training.predict", "predict"),
})
