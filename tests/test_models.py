import pytest
import torch

from hourglass.core.errors import UserError
from hourglass.models import MLPConfig, ResidualMLP, count_params, fixed_projection

# Configurations of the paper (PROTOCOL.md) and corner cases of ours, each with the count the
# formula P = d_x*d_z [learned] + sum 2*d_z*d_h + d_z*d_out gives by hand.
CASES = [
    (MLPConfig(784, 784, 784, 785, 1, "learned"), 2_460_192, 0),  # PROTOCOL.md's example
    (MLPConfig(768, 3072, 3546, 16, 5, "learned"), 14_184_000, 0),
    (MLPConfig(784, 784, 785, 115, 4, "fixed"), 1_337_640, 615_440),
    (MLPConfig(784, 784, 784, 1150, 2, "identity"), 2 * 2 * 784 * 1150 + 784 * 784, 0),
    (MLPConfig(196, 784, 785, 4, 40, "fixed"), 40 * 2 * 785 * 4 + 785 * 784, 196 * 785),
    (MLPConfig(64, 10, 100, [10, 20, 30], 3, "learned", head="none"),
     64 * 100 + 2 * 100 * 60 + 100 * 10, 0),
]


@pytest.mark.parametrize("cfg,params,frozen", CASES)
def test_param_counts_match_the_formula_and_the_module(cfg, params, frozen):
    counts = count_params(cfg)
    assert counts["params"] == params
    assert counts["frozen_params"] == frozen
    assert ResidualMLP(cfg).param_counts() == {"params": params, "frozen_params": frozen}


def test_flops_count_every_linear_once_forward():
    cfg = MLPConfig(784, 784, 785, 115, 4, "fixed")
    assert count_params(cfg)["flops_per_sample"] == 2 * (784 * 785 + 8 * 785 * 115 + 785 * 784)


@pytest.mark.parametrize("cfg,_p,_f", CASES)
def test_forward_shape_and_range(cfg, _p, _f):
    y = ResidualMLP(cfg)(torch.rand(3, cfg.in_dim))
    assert y.shape == (3, cfg.out_dim)
    if cfg.head == "sigmoid":
        assert y.min() >= 0 and y.max() <= 1


def test_shapes_are_named_by_their_dims():
    assert MLPConfig(784, 784, 785, 115, 4).shape == "hourglass"
    assert MLPConfig(784, 784, 784, 785, 1).shape == "conventional"
    assert MLPConfig(784, 784, 784, [700, 900], 2).shape == "mixed"
    with pytest.raises(UserError, match="every inner-dim < skip-dim"):
        MLPConfig(784, 784, 784, 785, 1).check_shape("hourglass")


@pytest.mark.parametrize("kwargs,match", [
    (dict(skip_dim=0), "skip-dim must be positive"),
    (dict(depth=-1), "depth must be positive"),
    (dict(inner_dim=0), "inner-dim must be positive"),
    (dict(inner_dim=[4, 4]), "inner-dim lists 2 values for depth 3"),
    (dict(input_proj="identity"), "identity needs skip-dim = input size"),
    (dict(norm="group"), "norm 'group'"),
    (dict(depth=100_000_000), "depth 100000000: at most 10,000 blocks"),
    (dict(skip_dim=100_000_000), "skip-dim 100000000: at most 1,000,000"),
    (dict(inner_dim=[4] * 20_000, depth=20_000), "depth 20000: at most"),
    (dict(skip_dim=500_000, inner_dim=300_000, depth=10), "would have 3,000,010,000,000 par"),
    (dict(depth="3"), "depth must be a positive integer"),
    (dict(inner_dim=2.5), "inner-dim must be a positive integer"),
])
def test_impossible_configs_are_refused(kwargs, match):
    base = dict(in_dim=10, out_dim=10, skip_dim=20, inner_dim=5, depth=3)
    with pytest.raises(UserError, match=match):
        MLPConfig(**{**base, **kwargs})


def test_fixed_projection_is_a_pure_function_of_its_seed():
    a, b = fixed_projection(784, 785, 7), fixed_projection(784, 785, 7)
    assert torch.equal(a, b)
    assert not torch.equal(a, fixed_projection(784, 785, 8))
    bound = 1 / 784 ** 0.5  # PyTorch's default Linear init, as the authors used
    assert a.abs().max() <= bound and a.abs().max() > 0.99 * bound
    torch.manual_seed(0)  # the global RNG does not touch it
    assert torch.equal(fixed_projection(784, 785, 7), a)


def test_fixed_projection_is_frozen_and_not_in_the_state_dict():
    model = ResidualMLP(MLPConfig(30, 30, 40, 8, 2, "fixed", proj_seed=3))
    assert not any(k.startswith("proj") for k in model.state_dict())
    assert all(p.requires_grad for p in model.parameters())
    assert model.proj_weight.requires_grad is False
    opt = torch.optim.AdamW(model.parameters())
    model(torch.rand(4, 30)).sum().backward()
    opt.step()
    assert not any(p is model.proj_weight for g in opt.param_groups for p in g["params"])
    assert torch.equal(model.proj_weight, fixed_projection(30, 40, 3))


@pytest.mark.parametrize("norm", ["batch", "layer", "rms", "none"])
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_norm_and_activation_options_add_no_parameters(norm, act):
    cfg = MLPConfig(16, 16, 32, 8, 2, "learned", norm=norm, act=act)
    assert ResidualMLP(cfg).param_counts()["params"] == count_params(cfg)["params"]
