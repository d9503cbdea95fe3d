"""Every registered model family, every shape: parameter and FLOP counts against the built
module, outputs, checkpoints; and the public feed-forward block."""

import math
import re
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from hourglass.core.errors import UserError
from hourglass.models import ResidualFFN, get_family
from hourglass.models.family import SHAPES
from hourglass.models.layers.patches import from_patches
from hourglass.models.registry import families, load_plugin
from hourglass.tasks.base import LMShape, TaskShape, task_spec
from hourglass.training import TrainConfig
from hourglass.training.config import model_config

ROOT = Path(__file__).resolve().parents[1]
# the worked plug-in example (README, Your own model) goes through every test a built-in
# family goes through
EXAMPLE_PLUGIN = ROOT / "examples" / "convnext-family" / "convnext_family"
load_plugin(str(EXAMPLE_PLUGIN))
CASES = [(f, s, t) for f in sorted(families()) for s in SHAPES
         for t in ("classify", "superres", "denoise", "lm") if t in families()[f].tasks]
VOCAB, CONTEXT = 11, 16  # a small text task


def run_config(family: str, shape: str, task: str, **settings) -> TrainConfig:
    fam = get_family(family)
    dims = dict(fam.examples[shape])
    core = {k: dims.pop(k) for k in ("skip_dim", "inner_dim", "depth")}
    return TrainConfig(task=task, family=family, shape=shape, arch=dims, **core,
                       **settings).resolved()


def task_shape(task: str, image=(3, 16, 16)):
    return LMShape(VOCAB, CONTEXT) if task == "lm" else TaskShape(task, image, 10)


def build(family: str, shape: str, task: str, image=(3, 16, 16), **settings):
    if task == "lm":
        settings.setdefault("context", CONTEXT)
    cfg = run_config(family, shape, task, **settings)
    mcfg = model_config(cfg, task_shape(task, image))
    return get_family(family), mcfg, get_family(family).build(mcfg)


def some_input(task: str, n: int) -> torch.Tensor:
    if task == "lm":
        return torch.randint(VOCAB, (n, CONTEXT), generator=torch.Generator().manual_seed(0))
    return torch.rand(n, task_shape(task).in_dim)


@pytest.mark.parametrize("family,shape,task", CASES)
def test_counts_match_the_module_and_the_flop_counter(family, shape, task):
    fam, mcfg, model = build(family, shape, task)
    counts = fam.counts(mcfg)
    assert mcfg.shape == shape
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(b.numel() for n, b in model.named_buffers() if n == "proj_weight")
    assert (counts["params"], counts["frozen_params"]) == (trainable, frozen)
    assert 0 <= counts["embedding_params"] < counts["params"]
    x = some_input(task, 3)
    # FlopCounterMode counts matmuls (mm, addmm, bmm); it leaves out what the family's count
    # leaves out too: norms, activations, softmax, bias adds, pooling, rotary positions, the
    # embedding lookup. It has no formula for the CPU's fused attention kernel, so attention
    # runs on the math backend here: its two matmuls are then counted as bmm, over the whole
    # context even when causal. A language model's count is per token.
    with FlopCounterMode(display=False) as counter, sdpa_kernel([SDPBackend.MATH]):
        y = model.eval()(x)
    per_sample = CONTEXT if task == "lm" else 1
    assert counter.get_total_flops() == 3 * per_sample * counts["flops_per_sample"]
    out = {"classify": (3, 10), "lm": (3, CONTEXT, VOCAB)}.get(task)
    assert y.shape == (out or (3, mcfg.out_dim))


@torch.no_grad()
def by_hand(model: torch.nn.Module, cfg: TrainConfig) -> float:
    """A run's test score from its model: PSNR as the authors pool it (mean squared error per
    batch of 128, then a weighted mean), accuracy, or bits per character; no evaluate.py
    code."""
    from hourglass.training.evaluate import prepare

    prep = prepare(cfg)
    x, y = prep.task.split_xy(prep.data.test, "test")
    model.eval()
    pred = model(x)
    if task_spec(cfg.task).classifies:
        return float((pred.argmax(1) == y).double().mean())
    if cfg.task == "lm":
        nats = -torch.log_softmax(pred.double(), -1).gather(-1, y.long()[..., None]).mean()
        return float(nats) / math.log(2)
    mse = (pred.double() - y.double()).pow(2).mean(1)
    return sum(len(c) * 10 * math.log10(1 / float(c.mean())) for c in mse.split(128)) / len(mse)


@pytest.mark.parametrize("family", sorted(families()))
def test_every_family_trains_and_reloads_bit_exactly(family, tmp_path):
    from hourglass.training import load_run, train

    fam = get_family(family)
    task = "denoise" if "denoise" in fam.tasks else fam.default_task
    text = {"context": CONTEXT} if task == "lm" else {}
    cfg = run_config(family, "hourglass", task, dataset=fam.default_dataset, epochs=1,
                     batch_size=64, train_limit=256, eval_limit=64, **text)
    if family == "vit":
        cfg.arch["patch"] = 2  # digits are 8x8
    metrics = train(cfg, tmp_path / "run", progress=False)
    spec = task_spec(task)
    metric = spec.metric.key
    assert math.isfinite(metrics[metric]) and math.isfinite(metrics[spec.baseline_key])
    _, model = load_run(tmp_path / "run")
    # the test score recomputed here, by hand, from the reloaded weights (a network that does
    # not learn still matches itself, but not a score computed before its weights were saved)
    assert by_hand(model, cfg.resolved()) == pytest.approx(metrics[metric], abs=1e-5)
    x = some_input(task, 2) if task == "lm" else torch.rand(2, 64)
    assert torch.equal(model(x), load_run(tmp_path / "run")[1](x))


def test_the_vit_image_head_puts_each_patch_back_in_place():
    _, mcfg, model = build("vit", "conventional", "superres", image=(3, 16, 16))
    tokens = torch.arange(mcfg.tokens * mcfg.out_patch, dtype=torch.float32)
    image = from_patches(tokens.view(1, mcfg.tokens, mcfg.out_patch), mcfg.image_shape,
                         mcfg.patch).view(3, 16, 16)
    # superres: 8x8 inputs, patch 4 -> a 2x2 grid; each token writes an 8x8 patch per channel
    q = 8
    for t, (gy, gx) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        block = tokens[t * mcfg.out_patch:(t + 1) * mcfg.out_patch].view(3, q, q)
        assert torch.equal(image[:, gy * q:(gy + 1) * q, gx * q:(gx + 1) * q], block)


def test_bad_family_settings_are_refused():
    with pytest.raises(UserError, match="unknown model family 'cnn'"):
        TrainConfig(family="cnn").resolved()
    with pytest.raises(UserError, match="family mlp has no sub_blocks"):
        TrainConfig(arch={"sub_blocks": 2}).resolved()
    with pytest.raises(UserError, match="patch 5 does not divide"):
        build("vit", "hourglass", "classify", image=(3, 32, 32))[1].__class__(
            image_shape=(3, 32, 32), out_dim=10, skip_dim=32, inner_dim=8, depth=1, patch=5)
    with pytest.raises(UserError, match="not a multiple of 3 heads"):
        run = run_config("vit", "hourglass", "classify")
        run.arch["heads"] = 3
        model_config(run, TaskShape("classify", (3, 32, 32), 10))
    with pytest.raises(UserError, match="--input-proj and --proj-seed are the MLP's"):
        model_config(run_config("vit", "hourglass", "classify", input_proj="fixed"),
                     TaskShape("classify", (3, 32, 32), 10))
    with pytest.raises(UserError, match="the ViT takes layer, rms"):
        model_config(run_config("vit", "hourglass", "classify", norm="batch"),
                     TaskShape("classify", (3, 32, 32), 10))


def test_the_readme_block_example_runs_as_written():
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"<!-- block example -->\n```python\n(.*?)```", readme, re.S)
    assert code, "README lost its block example"
    scope: dict = {}
    exec(code.group(1), scope)  # noqa: S102 - our own README
    assert isinstance(scope["ffn"], ResidualFFN)
    assert scope["y"].shape == scope["x"].shape
    assert "# 334656" in code.group(1)  # the count the example prints, as it says
    assert sum(p.numel() for p in scope["ffn"].parameters()) == 334656


@pytest.mark.parametrize("gated", [False, True])
def test_the_block_is_k_pre_norm_residual_sub_blocks(gated):
    ffn = ResidualFFN(16, 4, sub_blocks=3, norm_layer=torch.nn.RMSNorm,
                      act_layer=torch.nn.SiLU, gated=gated)
    x = torch.randn(2, 5, 16)
    z = x
    for norm, f in zip(ffn.norms, ffn.ffns, strict=True):
        h = f.fc1(norm(z))
        if gated:
            g, v = h.chunk(2, -1)
            h = torch.nn.functional.silu(g) * v
        else:
            h = torch.nn.functional.silu(h)
        z = z + f.fc2(h)
    assert torch.allclose(ffn(x), z, atol=1e-6)
    per_block = 16 + 16 * 4 * (2 if gated else 1) + 4 * (2 if gated else 1) + 4 * 16 + 16
    assert sum(p.numel() for p in ffn.parameters()) == 3 * per_block


@pytest.mark.parametrize("family,given", [
    ("mlp", {"skip_dim": 784, "inner_dim": 1470, "depth": 1}),
    ("vit", {"skip_dim": 192, "inner_dim": 768, "depth": 6, "arch": {"heads": 3}}),
    ("mixer", {"skip_dim": 128, "inner_dim": 512, "depth": 4})])
@pytest.mark.parametrize("by", ["params", "flops"])
def test_match_lists_the_other_shape_within_the_tolerance(family, given, by):
    from hourglass.search.match import budget_of, match
    from hourglass.training import count_run_params

    cfg = TrainConfig(family=family, task="classify", dataset="cifar10", **given)
    target = budget_of(count_run_params(cfg), by)
    found = match(cfg, by=by, tolerance=0.02)
    assert len(found) >= 3
    for m in found:  # recounted from scratch, not trusted from the solver
        counts = count_run_params(m.config)
        assert m.config.shape == "hourglass" == get_family(family).make_config(
            m.config.resolved(), TaskShape("classify", (3, 32, 32), 10)).shape
        assert abs(budget_of(counts, by) / target - 1) <= 0.02
    assert [abs(m.ratio - 1) for m in found] == sorted(abs(m.ratio - 1) for m in found)
    with pytest.raises(UserError, match="--tolerance"):
        match(cfg, tolerance=2)


def test_crop_flip_takes_a_window_of_the_padded_image_and_may_flip_it():
    from hourglass.data.augment import crop_flip

    images = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)  # no zeros: padding shows
    out = crop_flip(images, torch.Generator().manual_seed(5))
    assert out.shape == images.shape and out.dtype == torch.uint8
    g = torch.Generator().manual_seed(5)  # the same draws, in the same order
    offsets = torch.randint(0, 9, (2, 64), generator=g)
    flips = torch.rand(64, generator=g) < 0.5
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for i in range(64):
        dy, dx = offsets[:, i].tolist()
        want = padded[i, :, dy:dy + 8, dx:dx + 8]
        assert torch.equal(out[i], want.flip(-1) if flips[i] else want)
    assert 10 < int(flips.sum()) < 54 and len({tuple(o) for o in offsets.T.tolist()}) > 20


def test_patch_models_augment_only_natural_images_by_default():
    for family in ("vit", "mixer"):
        for dataset, want in (("cifar10", "crop-flip"), ("folder:/x", "crop-flip"),
                              ("digits", "none"), ("mnist", "none")):
            cfg = TrainConfig(family=family, task="classify", dataset=dataset).resolved()
            assert cfg.augment == want, (family, dataset)
        assert TrainConfig(family=family, task="denoise", dataset="cifar10").resolved() \
            .augment == "none"
    assert TrainConfig(task="classify", dataset="cifar10").resolved().augment == "none"  # mlp


def test_match_finds_the_conventional_partner_of_an_hourglass():
    from hourglass.search.match import match

    hourglass = TrainConfig(family="vit", task="classify", dataset="cifar10", skip_dim=192,
                            inner_dim=127, depth=4, arch={"sub_blocks": 2, "attn_dim": 128})
    found = match(hourglass, tolerance=0.01, depths=[4])
    assert all(m.config.shape == "conventional" and m.config.arch["sub_blocks"] == 1
               for m in found)
    assert (128, 4) in {(m.config.skip_dim, m.config.depth) for m in found}


@pytest.mark.parametrize("task,stages", [("classify", 1), ("classify", 2), ("superres", 1)])
def test_the_vit_conv_tokenizer_counts_match_its_module_and_the_flop_counter(task, stages):
    """CCT's tokenizer in place of the patch embedding: 64 channels out of every stage but the
    last (d_model), its parameters are embedding, its convolutions are in the FLOPs, and the
    token grid is the patch grid (patch = 2^stages)."""
    fam = get_family("vit")
    run = run_config("vit", "conventional", task)
    run.arch.update(conv=stages, patch=2 ** stages)
    mcfg = model_config(run, task_shape(task, (3, 16, 16)))
    model = fam.build(mcfg)
    counts = fam.counts(mcfg)
    embedding = sum(p.numel() for n, p in model.named_parameters()
                    if n.startswith(("tokenizer.", "pos")))
    assert counts["embedding_params"] == embedding
    assert counts["params"] == sum(p.numel() for p in model.parameters())
    convs = [m for m in model.tokenizer.layers if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64] * (stages - 1) + [mcfg.skip_dim]  # CCT's
    x = some_input(task, 3)
    with FlopCounterMode(display=False) as counter, sdpa_kernel([SDPBackend.MATH]):
        y = model.eval()(x)
    assert counter.get_total_flops() == 3 * counts["flops_per_sample"]
    assert y.shape == ((3, 10) if task == "classify" else (3, mcfg.out_dim))
    run.arch["patch"] = 2 ** (stages + 1)
    with pytest.raises(UserError, match=f"set patch {2 ** stages}, not {2 ** (stages + 1)}"):
        model_config(run, task_shape(task, (3, 16, 16)))


def test_stochastic_depth_drops_whole_samples_grows_with_depth_and_only_while_training():
    from hourglass.models.layers.ffn import DropPath

    torch.manual_seed(0)
    drop = DropPath(0.5).train()
    y = drop(torch.ones(4000, 3, 5))
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}  # all or nothing, scaled by 1/(1-p)
    assert (per_sample == per_sample[:, :1]).all()
    assert abs(float((per_sample[:, 0] == 0).double().mean()) - 0.5) < 0.05
    assert torch.equal(drop.eval()(torch.ones(4, 3)), torch.ones(4, 3))
    _, mcfg, model = build("vit", "hourglass", "classify", drop_path=0.2)
    rates = [getattr(layer.drop_path, "p", 0.0) for layer in model.layers]
    assert rates == pytest.approx([0.2 * i / (mcfg.depth - 1) for i in range(mcfg.depth)])
    x = some_input("classify", 3)
    assert torch.equal(model.eval()(x), model(x))  # eval: no drop
    with pytest.raises(UserError, match="--drop-path: the mlp family has no stochastic depth"):
        TrainConfig(drop_path=0.1).resolved()
