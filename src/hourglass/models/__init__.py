"""Residual MLPs: one class for the Hourglass and the conventional shape.

Names load on first use (PEP 562): the config and its counts (``mlp_config``) need no PyTorch,
so `hourglass params` answers without importing it."""

from importlib import import_module

_WHERE = {
    "INPUT_PROJS": "hourglass.options",
    "MLPConfig": "hourglass.models.mlp_config",
    "count_params": "hourglass.models.mlp_config",
    "Block": "hourglass.models.mlp",
    "ResidualMLP": "hourglass.models.mlp",
    "fixed_projection": "hourglass.models.mlp",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'hourglass.models' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
