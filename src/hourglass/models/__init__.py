"""Residual MLPs: one class for the Hourglass and the conventional shape.

Names load on first use (PEP 562): the config and its counts (``mlp_config``) need no PyTorch,
so `hourglass params` answers without importing it."""

from hourglass.lazy import lazy

__getattr__, __all__ = lazy(__name__, {
    "INPUT_PROJS": "hourglass.options",
    "MLPConfig": "hourglass.models.mlp_config",
    "count_params": "hourglass.models.mlp_config",
    "Block": "hourglass.models.mlp",
    "ResidualMLP": "hourglass.models.mlp",
    "fixed_projection": "hourglass.models.mlp",
})
