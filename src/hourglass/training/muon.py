"""Muon (Keller Jordan, 2024): SGD with Nesterov momentum whose update for each hidden weight
matrix is orthogonalised, its singular values pushed towards 1 by a few Newton-Schulz
iterations. It suits the matrices between the first and last layers only; the input embedding,
the output layer, norm gains and biases take AdamW's update, in the same optimizer (one state,
saved and resumed as AdamW's is).

``--optimizer muon`` selects it; the model names its hidden matrices (ListsHiddenMatrices).
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam

# the quintic iteration's coefficients, chosen for the steepest slope at 0 (so that 5 steps
# lift even the smallest singular values near 1; they end in about [0.7, 1.2], not at 1)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
MOMENTUM = 0.95


def orthogonalise(g: torch.Tensor, steps: int = NS_STEPS) -> torch.Tensor:
    """G = U S V^T -> about U V^T, by Newton-Schulz on G scaled to spectral norm <= 1. In
    float32: bfloat16 matmuls, the reference's choice on GPUs, are slower on most CPUs."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    tall = x.size(0) > x.size(1)
    if tall:  # iterate on the wide side: X X^T is the smaller square
        x = x.T
    x = x / (x.norm() + 1e-7)  # the Frobenius norm bounds the spectral norm
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return (x.T if tall else x).to(g.dtype)


class MuonAdamW(torch.optim.Optimizer):
    """Muon on the groups marked ``muon``, PyTorch's AdamW on the others. Every
    group's ``lr`` is set by the schedule each step; a Muon group's ``lr_scale`` scales it
    (Muon's lr is about 20x AdamW's)."""

    def __init__(self, groups: list[dict], betas: tuple[float, float], eps: float = 1e-8):
        super().__init__(groups, {"lr": 1e-3, "weight_decay": 0.0, "muon": False,
                                  "lr_scale": 1.0, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            live = [p for p in group["params"] if p.grad is not None]
            if group["muon"]:
                for p in live:
                    self._muon(p, self.state[p], lr, wd)
                continue
            for p in live:
                if not self.state[p]:  # AdamW's state, by AdamW's names
                    self.state[p].update(step=torch.tensor(0.0), exp_avg=torch.zeros_like(p),
                                         exp_avg_sq=torch.zeros_like(p))
            states = [self.state[p] for p in live]
            b1, b2 = group["betas"]
            adam(live, [p.grad for p in live], [s["exp_avg"] for s in states],
                 [s["exp_avg_sq"] for s in states], [], [s["step"] for s in states],
                 foreach=False, decoupled_weight_decay=True, amsgrad=False, beta1=b1, beta2=b2,
                 lr=lr, weight_decay=wd, eps=group["eps"], maximize=False)

    @staticmethod
    def _muon(p: torch.Tensor, state: dict, lr: float, wd: float) -> None:
        if not state:
            state["momentum_buffer"] = torch.zeros_like(p)
        buf = state["momentum_buffer"]
        buf.lerp_(p.grad, 1 - MOMENTUM)
        update = orthogonalise(p.grad.lerp(buf, MOMENTUM))  # Nesterov
        p.mul_(1 - lr * wd)
        # an orthogonal update of a tall matrix has smaller entries: scale it back
        p.add_(update, alpha=-lr * max(1.0, p.size(0) / p.size(1)) ** 0.5)
