"""Engines step K models of one shape in lockstep: the loop in loop.py does not care how.

``StackedEngine`` (the fast path) trains them as one ``StackedMLP``: batched matmuls, a
hand-written backward and one fused AdamW call per model. ``PlainEngine`` is ResidualMLP with
autograd and PyTorch's default AdamW, one model; it is the reference the fast path is tested
against, the fallback for what the stack does not support, and the engine of data-parallel
runs under torchrun (DistributedDataParallel, BatchNorm synced over the global batch). Both
keep AdamW state in the same per-parameter form, so a run started by one resumes under the
other.
"""

from __future__ import annotations

import torch
from torch.nn.parallel import DistributedDataParallel

from hourglass.models import ResidualMLP
from hourglass.models.stacked import StackedMLP, unstackable
from hourglass.models.sync_norm import sync_batchnorm
from hourglass.options import ENGINES
from hourglass.tasks import Task
from hourglass.training import parallel
from hourglass.training.evaluate import EVAL_CHUNK, forward_all

OPTIM_KEYS = ("exp_avg", "exp_avg_sq")


def _trainable(model: ResidualMLP) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


class PlainEngine:
    def __init__(self, models: list[ResidualMLP], task: Task, weight_decay: float) -> None:
        if len(models) != 1:
            raise ValueError("the plain engine trains one model")
        self.models, self.task, self.k = models, task, 1
        self.model = self.net = models[0]
        self.world = parallel.world()[1]
        if self.world > 1:
            sync_batchnorm(self.model)
            # running statistics stay equal on every rank: no buffer broadcast at each step
            self.net = DistributedDataParallel(self.model, forward_sync_buffers=False)
        self.optimizer = torch.optim.AdamW(_trainable(self.model), weight_decay=weight_decay)
        self.shared_lift = self.model.cfg.input_proj == "fixed"

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model.lift(x)

    def step(self, x: torch.Tensor, y: torch.Tensor, lifted: bool,
             lrs: list[float]) -> torch.Tensor:
        """One AdamW step on a batch shared by the (one) model: x (B, ...), y (B, ...). Under
        torchrun each process takes its rows of the global batch; returns the global loss."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = lrs[0]
        total = len(y)
        x, y = parallel.shard(x), parallel.shard(y)
        out = self.net(x, lifted=lifted)
        loss = self.task.loss(out, y) if len(y) else out.sum()  # a rank may get no rows
        share = len(y) / total
        self.optimizer.zero_grad(set_to_none=True)
        # DDP averages gradients over ranks; weighting each by its share of the batch makes
        # that average the gradient of the global batch's mean loss
        (loss * (share * self.world)).backward()
        self.optimizer.step()
        return parallel.all_sum(loss.detach() * share)[None]

    def predict(self, x: torch.Tensor, lifted: bool) -> torch.Tensor:
        return forward_all(self.model, x, lifted)[None]

    def sync(self) -> None:
        pass

    def optimizer_state(self, k: int) -> dict[str, torch.Tensor]:
        return {f"{i}.{name}": torch.as_tensor(v).detach().clone()
                for i, st in self.optimizer.state_dict()["state"].items() for name, v in st.items()}

    def load_optimizer_state(self, k: int, tensors: dict[str, torch.Tensor]) -> None:
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            i, name = key.split(".", 1)
            state.setdefault(int(i), {})[name] = value
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": state, "param_groups": groups})


class StackedEngine:
    def __init__(self, models: list[ResidualMLP], task: Task, weight_decay: float) -> None:
        self.models, self.task, self.k = models, task, len(models)
        self.stack = StackedMLP(models)
        self.params = []
        for k in range(self.k):
            p = torch.nn.Parameter(self.stack.theta[k])  # shares the stack's storage
            p.grad = self.stack.grad[k]
            self.params.append(p)
        # one group per model: each has its own learning rate
        self.optimizer = torch.optim.AdamW([{"params": [p]} for p in self.params],
                                           weight_decay=weight_decay, fused=True)
        self.shared_lift = self.stack.shared_lift

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        return self.stack.lift(x)

    def step(self, x: torch.Tensor, y: torch.Tensor, lifted: bool,
             lrs: list[float]) -> torch.Tensor:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        logits = self.stack.forward(x, lifted=lifted).requires_grad_()
        losses = self.task.losses(self.stack.head(logits), y)
        losses.sum().backward()
        self.stack.backward(logits.grad)
        self.optimizer.step()
        return losses.detach()

    @torch.no_grad()
    def predict(self, x: torch.Tensor, lifted: bool) -> torch.Tensor:
        return torch.cat([self.stack.head(self.stack.forward(c, lifted, train=False))
                          for c in x.split(EVAL_CHUNK)], dim=1)

    def sync(self) -> None:
        for k, model in enumerate(self.models):
            self.stack.write_to(k, model)

    def optimizer_state(self, k: int) -> dict[str, torch.Tensor]:
        state = self.optimizer.state.get(self.params[k])
        if not state:
            return {}
        out = {}
        for i, piece in enumerate(self._split(k, state)):
            out[f"{i}.step"] = state["step"].detach().clone()
            out.update({f"{i}.{name}": piece[name] for name in OPTIM_KEYS})
        return out

    def _split(self, k: int, state: dict) -> list[dict[str, torch.Tensor]]:
        sizes = [s[0] * s[1] for s in self.stack.shapes]
        pieces = {name: state[name].split(sizes) for name in OPTIM_KEYS}
        return [{name: pieces[name][i].view(shape).clone() for name in OPTIM_KEYS}
                for i, shape in enumerate(self.stack.shapes)]

    def load_optimizer_state(self, k: int, tensors: dict[str, torch.Tensor]) -> None:
        if not tensors:
            return
        n = len(self.stack.shapes)
        device = self.stack.theta.device
        state = {name: torch.cat([tensors[f"{i}.{name}"].flatten() for i in range(n)]).to(device)
                 for name in OPTIM_KEYS}
        state["step"] = tensors["0.step"].clone().float().to(device)
        self.optimizer.state[self.params[k]] = state


def make_engine(name: str, models: list[ResidualMLP], task: Task, weight_decay: float):
    if name not in ENGINES:
        raise ValueError(f"engine {name!r}: choose one of {', '.join(ENGINES)}")
    why = unstackable(models)
    if name == "plain" or (name == "auto" and why and len(models) == 1):
        return PlainEngine(models, task, weight_decay)
    if why:
        raise ValueError(f"cannot train these models as one stack: {why}")
    return StackedEngine(models, task, weight_decay)
