"""The hand-written stacked forward/backward against ResidualMLP with autograd."""

import pytest
import torch

from hourglass.models import MLPConfig, ResidualMLP
from hourglass.models.stacked import StackedMLP, unstackable


def _models(k, proj, norm="batch", act="relu", seeds=None, **kw):
    out = []
    for i in range(k):
        torch.manual_seed(i)
        cfg = MLPConfig(in_dim=12, out_dim=6, skip_dim=12 if proj == "identity" else 10,
                        inner_dim=[3, 7], depth=2, input_proj=proj, norm=norm, act=act,
                        proj_seed=(seeds or [0] * k)[i], **kw)
        out.append(ResidualMLP(cfg))
    return out


@pytest.mark.parametrize("proj", ["learned", "fixed", "identity"])
@pytest.mark.parametrize("norm,act", [("batch", "relu"), ("layer", "gelu"), ("none", "relu")])
@pytest.mark.parametrize("k,per_model_x", [(1, False), (3, False), (3, True)])
def test_stacked_matches_autograd(proj, norm, act, k, per_model_x):
    models = _models(k, proj, norm, act, seeds=[0, 1, 2][:k] if per_model_x else None)
    stack = StackedMLP(models)
    x = torch.rand(k, 16, 12) if per_model_x else torch.rand(16, 12)
    y = torch.rand(16, 6)
    logits = stack.forward(x).requires_grad_()
    losses = ((stack.head(logits) - y) ** 2).mean((1, 2))
    losses.sum().backward()
    stack.backward(logits.grad)
    for i, m in enumerate(models):
        xi = x[i] if per_model_x else x
        loss = ((m(xi) - y) ** 2).mean()
        loss.backward()
        assert torch.allclose(loss, losses[i], atol=1e-6)
        grads = [p.grad for p in m.parameters() if p.requires_grad]
        flat = torch.cat([g.flatten() for g in grads])
        assert torch.allclose(stack.grad[i], flat, atol=1e-6, rtol=1e-4)
        fresh = stack.write_to(i, ResidualMLP(m.cfg))
        for a, b in zip(fresh.state_dict().values(), m.state_dict().values(), strict=True):
            assert torch.allclose(a.float(), b.float(), atol=1e-6)
        m.eval()
        fresh.eval()
        with torch.no_grad():
            stack_eval = stack.head(stack.forward(x, train=False))[i]
            assert torch.allclose(stack_eval, m(xi), atol=1e-5)


def test_unstackable_reasons():
    assert "rms" in unstackable(_models(1, "learned", norm="rms"))
    a = _models(1, "learned")[0]
    torch.manual_seed(0)
    b = ResidualMLP(MLPConfig(in_dim=12, out_dim=6, skip_dim=10, inner_dim=4, depth=2))
    assert unstackable([a, b]) == "models differ in shape"
    with pytest.raises(ValueError):
        StackedMLP([a, b])
