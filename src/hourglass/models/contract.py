"""What the rest of the tool may ask of a family's module and config, beyond ``forward``.

Every module takes its family's config (``Family.build(cfg)``), keeps it as ``.cfg`` and maps
a batch of inputs to outputs. The capabilities below are optional: a module offers one by
having its methods, and the code that uses one checks for it with ``isinstance`` against the
Protocol here, so a plug-in author reads in this file all that training, evaluation and
sampling can call.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn


class ModelConfig(Protocol):
    """Every family's config: the residual stream's width and a JSON-able record (stored in
    checkpoints; ``Family.config_from_dict`` reads it back)."""

    skip_dim: int

    def to_dict(self) -> dict: ...


@runtime_checkable
class CachesInputs(Protocol):
    """A model whose first layer can be frozen (the MLP's fixed W_in): when
    ``lift_is_frozen``, z_0 = ``lift(x)`` of an input that does not change between epochs is
    computed once, and ``body(z_0)`` (``forward(z_0, lifted=True)``) continues from it."""

    lift_is_frozen: bool

    def lift(self, x: torch.Tensor) -> torch.Tensor: ...

    def body(self, z: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class ListsNoDecay(Protocol):
    """A model that names the parameters weight decay must leave alone (norm gains, biases,
    positions). Without the list, every parameter with fewer than 2 dimensions."""

    def no_decay(self) -> list[nn.Parameter]: ...


@runtime_checkable
class ListsHiddenMatrices(Protocol):
    """A model that names its hidden weight matrices: every 2-D weight between the input
    embedding and the output layer. ``--optimizer muon`` orthogonalises their updates."""

    def hidden_matrices(self) -> list[nn.Parameter]: ...


@runtime_checkable
class CutsPrefix(Protocol):
    """A model trained to work cut to a prefix of its widths (nested d_h, low rank):
    ``prefix_cuts()`` maps each kind of cut it takes to its largest value, and
    ``set_keep(n)`` evaluates it cut to n (None: whole)."""

    def prefix_cuts(self) -> dict[str, int]: ...

    def set_keep(self, keep: int | None) -> None: ...


@runtime_checkable
class Generates(Protocol):
    """A language model: ``ids`` (B, T0) continued by ``tokens`` sampled ids."""

    def generate(self, ids: torch.Tensor, tokens: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor: ...
