"""BatchNorm over the global batch of a data-parallel group, on any device.

``torch.nn.SyncBatchNorm`` runs on GPUs only; this one works with gloo on the CPU too. The
batch statistics are summed over ranks by an all-reduce whose backward is an all-reduce too, so
autograd sends every rank's share of the gradient through them: N processes on N slices of
a batch compute the same normalisation, running statistics and gradients as one process on
the whole batch. Outside a process group it is plain BatchNorm.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class _AllSum(torch.autograd.Function):
    """Sum over ranks; each rank's input feeds every rank's output, so the gradient is the
    sum over ranks of the output gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SyncedBatchNorm1d(nn.BatchNorm1d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        # one all-reduce of (sum, sum of squares, count) per layer, in float64 so that
        # E[x^2] - E[x]^2 keeps fp32 precision even where the mean is large against the spread;
        # each collective is a round trip between processes, which dominates a small step
        d = x.shape[1]
        x64 = x.double()
        stats = _AllSum.apply(torch.cat([x64.sum(0), x64.square().sum(0),
                                         x64.new_tensor([x.shape[0]])]))
        n = stats[-1]
        mean64 = stats[:d] / n
        var = (stats[d:2 * d] / n - mean64.square()).clamp_min(0).float()
        mean = mean64.float()
        centred = x - mean
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None \
                else 1.0 / float(self.num_batches_tracked)  # cumulative average, as BatchNorm
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        out = centred * torch.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        return out


def sync_batchnorm(model: nn.Module) -> nn.Module:
    """Swap every BatchNorm1d of ``model`` for a SyncedBatchNorm1d with the same state (the
    state-dict keys do not change, so checkpoints are the same)."""
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm1d:
            synced = SyncedBatchNorm1d(child.num_features, child.eps, child.momentum,
                                       child.affine, child.track_running_stats)
            state = child.state_dict()
            synced.load_state_dict(state)
            device = next(iter(state.values())).device if state else torch.device("cpu")
            setattr(model, name, synced.to(device))
        else:
            sync_batchnorm(child)
    return model
