"""An exponential moving average of the weights (--ema DECAY): a copy of the model whose
parameters follow the trained ones, e <- d e + (1 - d) w after every optimizer step, with
timm's warm-up of the decay, d_t = min(d, (1 + t) / (10 + t)), so that the first steps are not
averaged with the initialisation for thousands of steps. Buffers (BatchNorm's running
statistics) are copied. The average is what is evaluated, tested and saved as the model; its
tensors travel in the trainer checkpoint (EMA_PREFIX), so a resumed run continues it exactly.
"""

from __future__ import annotations

import copy

import torch

EMA_PREFIX = "ema."  # the average's tensors among the trainer checkpoint's optimizer state


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """After optimizer step ``step`` (counted from 0)."""
        d = min(self.decay, (1 + step) / (10 + step))
        ema = [p for p in self.model.parameters()]
        now = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema, now, 1.0 - d)
        for mine, theirs in zip(self.model.buffers(), model.buffers(), strict=True):
            mine.copy_(theirs)

    def state(self) -> dict[str, torch.Tensor]:
        return {EMA_PREFIX + k: v.detach().clone().contiguous()
                for k, v in self.model.state_dict().items()}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        """The average's tensors from a trainer checkpoint (none: a fresh run starts it from
        the model)."""
        mine = {k[len(EMA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
        if mine:
            self.model.load_state_dict(mine)


def split_state(tensors: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """(the optimizer's tensors, the average's) of a trainer checkpoint's optimizer state."""
    optim = {k: v for k, v in tensors.items() if not k.startswith(EMA_PREFIX)}
    return optim, {k: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
