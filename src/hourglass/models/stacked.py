"""K residual MLPs of one shape as one: the fast path for training.

The K models' trainable weights live in one (K, P) buffer and their gradients in another, in
the order of ``ResidualMLP.parameters()``, so one fused AdamW call per model updates
everything. Every layer runs for all K models in one batched matmul, and the backward pass
is written by hand: weight gradients go straight into the gradient buffer, the residual add
is fused into the matmul (``baddbmm``), and nothing is kept that the backward does not read.
K = 1 is the single-model fast path; ``ResidualMLP`` with autograd stays the plain path, and
tests check the two give the same numbers.

Activations are laid out (K, B, d), what the batched matmuls read; BatchNorm normalises
over dim 1, each model over its own batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hourglass.models.mlp import ResidualMLP

STACKABLE_NORMS = ("batch", "layer", "none")
BN_MOMENTUM, EPS = 0.1, 1e-5  # nn.BatchNorm1d / nn.LayerNorm defaults
aten = torch.ops.aten


def unstackable(models: list[ResidualMLP]) -> str | None:
    """Why these models cannot train as one stack (None when they can)."""
    c = models[0].cfg
    if c.norm not in STACKABLE_NORMS:
        return f"norm {c.norm!r} has no hand-written backward"
    key = (c.in_dim, c.out_dim, c.skip_dim, c.inner_dims, c.input_proj, c.norm, c.act, c.head)
    for m in models[1:]:
        o = m.cfg
        if (o.in_dim, o.out_dim, o.skip_dim, o.inner_dims, o.input_proj, o.norm, o.act,
                o.head) != key:
            return "models differ in shape"
    return None


class StackedMLP:
    """Weights, forward and backward of K same-shape ``ResidualMLP``s."""

    def __init__(self, models: list[ResidualMLP]) -> None:
        why = unstackable(models)
        if why:
            raise ValueError(why)
        self.cfg, self.k = models[0].cfg, len(models)
        named = [(n, p) for n, p in models[0].named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.theta = torch.stack([torch.cat([p.detach().flatten() for p in m.parameters()
                                             if p.requires_grad]) for m in models])
        self.grad = torch.zeros_like(self.theta)
        self.w = dict(zip(self.names, self._views(self.theta), strict=True))
        self.g = dict(zip(self.names, self._views(self.grad), strict=True))
        self.fixed: torch.Tensor | None = None  # (1 or K, d_z, d_x) frozen W_in
        if self.cfg.input_proj == "fixed":
            seeds = {m.cfg.proj_seed for m in models}
            self.fixed = torch.stack([m.proj_weight for m in (models[:1] if len(seeds) == 1
                                                               else models)])
        self.running = []  # per block: (mean, var), each (K, d_z), for BatchNorm
        if self.cfg.norm == "batch":
            for i in range(self.cfg.depth):
                self.running.append(tuple(torch.stack([getattr(m.blocks[i].norm, b).clone()
                                                       for m in models])
                                          for b in ("running_mean", "running_var")))
        self.steps = int(models[0].blocks[0].norm.num_batches_tracked) \
            if self.cfg.norm == "batch" else 0
        self._saved: list = []

    def _views(self, buf: torch.Tensor) -> list[torch.Tensor]:
        out, offset = [], 0
        for shape in self.shapes:
            n = shape[0] * shape[1]
            out.append(buf[:, offset:offset + n].view(self.k, *shape))
            offset += n
        return out

    def write_to(self, k: int, model: ResidualMLP) -> ResidualMLP:
        """Copy model k's weights and norm statistics into ``model`` (a ResidualMLP)."""
        with torch.no_grad():
            params = dict(model.named_parameters())
            for name in self.names:
                params[name].copy_(self.w[name][k])
            for i, (mean, var) in enumerate(self.running):
                norm = model.blocks[i].norm
                norm.running_mean.copy_(mean[k])
                norm.running_var.copy_(var[k])
                norm.num_batches_tracked.fill_(self.steps)
        return model

    @property
    def shared_lift(self) -> bool:
        """True when every model sees the same z_0 for the same x (one frozen W_in)."""
        return self.fixed is not None and len(self.fixed) == 1

    def lift(self, x: torch.Tensor) -> torch.Tensor:
        """z_0 for inputs x of shape (B, d_x), shared by all models, or (K, B, d_x).
        Returns (B, d_z) when x is shared and so is W_in, else (K, B, d_z)."""
        if self.cfg.input_proj == "identity":
            return x
        w = self.fixed if self.fixed is not None else self.w["proj.weight"]
        if len(w) == 1:
            return x @ w[0].t()
        xs = x if x.dim() == 3 else x.expand(self.k, -1, -1)
        return torch.bmm(xs, w.transpose(1, 2))

    # ---- forward and backward -------------------------------------------------------------
    def forward(self, x: torch.Tensor, lifted: bool = False, train: bool = True) -> torch.Tensor:
        """Logits (K, B, d_out), before the head, from x: (B, d_x) shared by all models or
        (K, B, d_x); or from z_0 when ``lifted``. In training mode BatchNorm uses batch
        statistics and updates the running ones, and what ``backward`` needs is kept."""
        z = x if lifted else self.lift(x)
        z = z.expand(self.k, -1, -1) if z.dim() == 2 else z
        saved = [x if not lifted and self.cfg.input_proj == "learned" else None]
        for i in range(self.cfg.depth):
            n, stats = self._norm(z, i, train)
            a = torch.bmm(n, self.w[f"blocks.{i}.fc1.weight"].transpose(1, 2))
            h = F.relu(a) if self.cfg.act == "relu" else F.gelu(a)
            if train:
                saved.append((n, stats, a, h))
            z = torch.baddbmm(z, h, self.w[f"blocks.{i}.fc2.weight"].transpose(1, 2))
        if train:
            saved.append(z)
            self._saved = saved
            if self.running:
                self.steps += 1
        return torch.bmm(z, self.w["out.weight"].transpose(1, 2))

    def _norm(self, z: torch.Tensor, i: int, train: bool):
        """Normalised z (K, B, d_z) and what the backward needs."""
        if self.cfg.norm == "none":
            return z, None
        if self.cfg.norm == "layer":
            n, mean, rstd = aten.native_layer_norm(z, [z.shape[-1]], None, None, EPS)
            return n, (z, mean, rstd)
        # BatchNorm over each model's batch (dim 1); written out because the native kernel
        # wants channels in dim 1, which would cost a transpose of every activation
        running_mean, running_var = self.running[i]
        if not train:
            return (z - running_mean[:, None]) * torch.rsqrt(running_var[:, None] + EPS), None
        if self.k == 1:  # one model: (1, B, d) is (B, d), the native kernel's layout
            n, mean, inv = aten.native_batch_norm(z[0], None, None, running_mean[0],
                                                  running_var[0], True, BN_MOMENTUM, EPS)
            return n[None], (z, mean, inv)
        n, inv, mean, var = bn_forward(z)
        b = z.shape[1]
        running_mean.lerp_(mean[:, 0], BN_MOMENTUM)
        running_var.lerp_(var[:, 0] * (b / (b - 1)), BN_MOMENTUM)
        return n, inv

    def head(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits) if self.cfg.head == "sigmoid" else logits

    def backward(self, grad_logits: torch.Tensor) -> None:
        """Gradients of the last training forward into ``self.grad`` (overwritten, not added),
        from the loss gradient w.r.t. the logits, (K, B, d_out)."""
        saved = self._saved
        torch.bmm(grad_logits.transpose(1, 2), saved[-1], out=self.g["out.weight"])
        gz = torch.bmm(grad_logits, self.w["out.weight"])  # (K, B, d_z)
        for i in reversed(range(self.cfg.depth)):
            n, stats, a, h = saved[1 + i]
            torch.bmm(gz.transpose(1, 2), h, out=self.g[f"blocks.{i}.fc2.weight"])
            gh = torch.bmm(gz, self.w[f"blocks.{i}.fc2.weight"])
            ga = aten.threshold_backward(gh, h, 0) if self.cfg.act == "relu" else \
                aten.gelu_backward(gh, a)
            torch.bmm(ga.transpose(1, 2), n, out=self.g[f"blocks.{i}.fc1.weight"])
            if i == 0 and saved[0] is None:
                break  # z_0 is constant (frozen or no W_in): nothing needs its gradient
            gn = torch.bmm(ga, self.w[f"blocks.{i}.fc1.weight"])
            gz = self._norm_backward(gz, gn, n, stats)
        if saved[0] is not None:  # learned W_in
            x = saved[0]
            torch.bmm(gz.transpose(1, 2), x if x.dim() == 3 else x.expand(self.k, -1, -1),
                      out=self.g["proj.weight"])
        self._saved = []

    def _norm_backward(self, gz: torch.Tensor, gn: torch.Tensor, n: torch.Tensor,
                       stats) -> torch.Tensor:
        """gz plus the gradient reaching z through norm(z), given gn = d loss / d norm(z)."""
        if self.cfg.norm == "none":
            return gz + gn
        if self.cfg.norm == "layer":
            z, mean, rstd = stats
            return gz + aten.native_layer_norm_backward(gn, z, [z.shape[-1]], mean, rstd, None,
                                                        None, [True, False, False])[0]
        if self.k == 1:
            z, mean, inv = stats
            return gz + aten.native_batch_norm_backward(gn[0], z[0], None, None, None, mean,
                                                        inv, True, EPS,
                                                        [True, False, False])[0][None]
        return bn_backward(gz, gn, n, stats)

def bn_forward(z: torch.Tensor):
    """Batch statistics over dim 1 of (K, B, d): normalised z, 1/std, mean, biased var."""
    mean = z.mean(1, keepdim=True)
    centred = z - mean
    var = centred.square().mean(1, keepdim=True)
    inv = torch.rsqrt(var + EPS)
    return centred * inv, inv, mean, var


def bn_backward(gz: torch.Tensor, gn: torch.Tensor, n: torch.Tensor,
                inv: torch.Tensor) -> torch.Tensor:
    """gz + d loss / d z through n = (z - mean) * inv with batch statistics, given gn."""
    proj = (gn * n).mean(1, keepdim=True)
    return gz + (gn - gn.mean(1, keepdim=True) - n * proj) * inv

