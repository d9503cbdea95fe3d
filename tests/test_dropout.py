"""Dropout with masks from random 16-bit integers (models/layers/dropout.py) and the attention
that drops its weights with them (layers/attention.py): the rate, the scale, the gradients, and
recipe 6, which turns them on for the language model."""

from __future__ import annotations

import math

import pytest
import torch

from hourglass.core.errors import UserError
from hourglass.models.families.lm.net import CausalAttention, LanguageModel
from hourglass.models.families.lm.spec import LMConfig
from hourglass.models.layers.attention import attend
from hourglass.models.layers.dropout import Int16Dropout, keep_mask, keep_threshold
from hourglass.training import TrainConfig

LM_DIMS = {"vocab": 20, "context": 16, "skip_dim": 32, "inner_dim": 48, "depth": 2,
           "dropout": 0.3}


def test_p_rounds_to_a_multiple_of_one_65536th_and_the_scale_undoes_the_keep_rate():
    threshold, scale = keep_threshold(0.1)
    assert threshold == 6554 - 32768  # round(0.1 x 65,536) of the 65,536 int16s dropped
    assert scale == 65536 / (65536 - 6554)
    assert keep_threshold(0.5) == (0, 2.0)
    assert keep_threshold(0.0) == (-32768, 1.0)  # every int16 kept
    assert keep_threshold(1 - 1e-9) == (32767, 65536.0)  # one int16 of 65,536 kept
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        keep_threshold(1.0)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_masks_keep_at_the_rate_in_every_lane_of_a_64_bit_draw_independently(p):
    torch.manual_seed(0)
    threshold, scale = keep_threshold(p)
    keep = keep_mask(torch.empty(2**22), threshold)
    rate = 1 - round(p * 65536) / 65536
    # four int16s come from each 64-bit draw: each lane keeps at the rate, and neighbours
    # (in one draw and across two) are kept together at rate^2
    lanes = keep.view(-1, 4).mean(0)
    sigma = math.sqrt(rate * (1 - rate) / 2**20)
    assert (lanes - rate).abs().max() < 5 * sigma, lanes
    pairs = keep.view(-1, 4)
    for a, b in ((pairs[:, 0], pairs[:, 1]), (pairs[:, 3], pairs[:, 0].roll(-1))):
        assert float((a * b).mean()) == pytest.approx(rate**2, abs=5 * sigma)
    assert float((keep * scale).mean()) == pytest.approx(1.0, abs=5 * sigma * scale)
    assert set(keep.unique().tolist()) == {0.0, 1.0}


def test_int16_dropout_acts_in_training_only_is_seeded_and_passes_gradients_through_the_mask():
    x = torch.randn(64, 33, requires_grad=True)
    drop = Int16Dropout(0.25)
    assert torch.equal(drop.eval()(x), x)
    drop.train()
    torch.manual_seed(3)
    y = drop(x)
    torch.manual_seed(3)
    assert torch.equal(drop(x), y)
    assert not torch.equal(drop(x), y)  # the generator moved on
    _, scale = keep_threshold(0.25)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] * scale)
    assert 0.6 < float(kept.float().mean()) < 0.9
    y.sum().backward()
    assert torch.equal(x.grad, kept.float() * scale)


@pytest.mark.parametrize("causal", [True, False])
def test_the_int16_attention_is_softmax_attention_on_the_same_masks_forward_and_backward(
        causal):
    b, h, t, d, p = 2, 3, 7, 4, 0.3
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(b, h, t, d, dtype=torch.float64, generator=gen, requires_grad=True)
               for _ in range(3))

    def ours(q, k, v):
        torch.manual_seed(5)  # the same masks at every call
        return attend(q, k, v, is_causal=causal, dropout_p=p, masks="int16")

    torch.manual_seed(5)
    threshold, scale = keep_threshold(p)
    keep = keep_mask(torch.empty(b, h, t, t, dtype=torch.float64), threshold)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    if causal:
        scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), -math.inf)
    expected = (torch.softmax(scores, -1) * keep * scale) @ v
    out = ours(q, k, v)
    assert torch.allclose(out, expected, atol=1e-12)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    want = torch.autograd.grad(expected.square().sum(), (q, k, v))
    for got, ref in zip(grads, want, strict=True):
        assert torch.allclose(got, ref, atol=1e-12)
    assert torch.autograd.gradcheck(ours, (q, k, v))
    # without dropout it is PyTorch's attention, masks or not
    assert torch.equal(attend(q, k, v, is_causal=causal, masks="int16"),
                       attend(q, k, v, is_causal=causal))


def test_the_int16_attention_under_bf16_autocast_runs_in_fp32_and_returns_bf16():
    q, k, v = (torch.randn(2, 2, 8, 4, requires_grad=True) for _ in range(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attend(q.bfloat16(), k.bfloat16(), v.bfloat16(), is_causal=True, dropout_p=0.1,
                     masks="int16")
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert all(x.grad is not None and x.grad.isfinite().all() for x in (q, k, v))


def test_recipe_6_gives_the_lm_int16_masks_and_older_recipes_and_stored_runs_torch_s():
    lm = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=32, inner_dim=48,
                     depth=2)
    assert lm.resolved().dropout_masks == "int16"
    assert TrainConfig(**{**lm.to_dict(), "recipe": 5}).resolved().dropout_masks == "torch"
    stored = lm.resolved().to_dict()
    del stored["dropout_masks"]  # a config.json written before the setting existed
    assert TrainConfig.from_dict({**stored, "recipe": 3}).resolved().dropout_masks == "torch"
    with pytest.raises(UserError, match="--dropout-masks 'bits'"):
        TrainConfig(**{**lm.to_dict(), "dropout_masks": "bits"}).resolved()
    with pytest.raises(UserError, match="dropout masks 'bits'"):
        LMConfig(**LM_DIMS, dropout_masks="bits")


def test_an_lm_with_int16_masks_drops_with_them_everywhere_and_evaluates_as_torch_s_does():
    torch.manual_seed(0)
    torch_masks = LanguageModel(LMConfig(**LM_DIMS))
    torch.manual_seed(0)
    int16 = LanguageModel(LMConfig(**LM_DIMS, dropout_masks="int16"))
    assert {type(m) for m in int16.modules() if isinstance(m, Int16Dropout | torch.nn.Dropout)} \
        == {Int16Dropout}
    assert {m.masks for m in int16.modules() if isinstance(m, CausalAttention)} == {"int16"}
    ids = torch.randint(20, (3, 16), generator=torch.Generator().manual_seed(1))
    torch_masks.eval(), int16.eval()
    assert torch.equal(torch_masks(ids), int16(ids))
    int16.train()
    torch.manual_seed(2)
    first = int16(ids)
    torch.manual_seed(2)
    assert torch.equal(int16(ids), first)
    assert not torch.allclose(int16(ids), first)
