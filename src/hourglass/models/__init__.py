"""Residual MLPs: one class for the Hourglass and the conventional shape."""

from hourglass.models.mlp import (
    INPUT_PROJS,
    Block,
    MLPConfig,
    ResidualMLP,
    count_params,
    fixed_projection,
)

__all__ = ["INPUT_PROJS", "Block", "MLPConfig", "ResidualMLP", "count_params",
           "fixed_projection"]
