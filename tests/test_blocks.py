"""The MLP's block variants (models/layers/blocks_config.py): counts
against the built module and the FLOP counter, training and bit-exact reloads, and what
each variant promises."""

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from hourglass.core.errors import UserError
from hourglass.models import get_family
from hourglass.models.layers.blocks_config import BLOCKS
from hourglass.tasks.base import TaskShape
from hourglass.training import TrainConfig, load_run, train
from hourglass.training.config import model_config

VARIANTS = ["plain", "frozen", "lowrank:4", "nested", "hash:4", "altup:2"]
assert {v.split(":")[0] for v in VARIANTS} == {b.split(":")[0] for b in BLOCKS}


def build(block: str, input_proj: str = "learned", **settings):
    cfg = TrainConfig(skip_dim=48, inner_dim=[16, 8], depth=2, block=block,
                      input_proj=input_proj, **settings).resolved()
    mcfg = model_config(cfg, TaskShape("denoise", (1, 8, 8), 10))
    torch.manual_seed(0)
    return mcfg, get_family("mlp").build(mcfg)


@pytest.mark.parametrize("input_proj", ["learned", "fixed"])
@pytest.mark.parametrize("block", VARIANTS)
def test_counts_match_the_module_and_what_one_sample_runs(block, input_proj):
    mcfg, model = build(block, input_proj)
    counts = get_family("mlp").counts(mcfg)
    assert {k: counts[k] for k in ("params", "frozen_params")} == model.param_counts()
    assert counts["params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    x = torch.rand(64, 64)
    model.eval()(x)  # BatchNorm's running statistics, so routing sees normalised inputs
    # FlopCounterMode counts matmuls; for hash:E that is the hash projections and the one
    # expert each sample runs (each expert's matmul over its own rows), not E experts
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == 64 * counts["flops_per_sample"]


@pytest.mark.parametrize("block", VARIANTS[1:])
def test_every_variant_trains_and_reloads_bit_exactly(block, tmp_path):
    cfg = TrainConfig(skip_dim=48, inner_dim=16, depth=2, block=block, epochs=8, batch_size=64,
                      lr=1e-2, train_limit=512, eval_limit=64)
    metrics = train(cfg, tmp_path / "run", progress=False)
    # 14.1-15.1 dB against the noisy input's 14.3 after 8 epochs (12.2-13.1 after 3; a
    # network that does not learn, lr 1e-12, stays at 7.4-7.5)
    assert metrics["test_psnr"] > metrics["baseline_psnr"] - 0.5
    _, model = load_run(tmp_path / "run")
    x = torch.rand(5, 64)
    assert torch.equal(model(x), load_run(tmp_path / "run")[1](x))
    if block in ("lowrank:4", "nested"):  # the draw counter is saved with the weights
        assert int(model.draws) in range(8, 65, 8)  # the best epoch's: 8 steps an epoch


def test_a_frozen_block_stores_no_w1_and_regenerates_it():
    _, model = build("frozen", "fixed")
    state = model.state_dict()
    assert not any("frozen_w1" in k or "fc1" in k for k in state)
    _, again = build("frozen", "fixed")
    assert torch.equal(model.blocks[1].frozen_w1, again.blocks[1].frozen_w1)
    assert not torch.equal(model.blocks[0].frozen_w1[:8], model.proj_weight[:8, :48])


@pytest.mark.parametrize("block,keep", [("nested", 4), ("lowrank:4", 2)])
def test_a_prefix_model_runs_cut_and_draws_a_new_prefix_each_step(block, keep):
    _, model = build(block)
    model.eval()
    x = torch.rand(16, 64)
    whole = model(x)
    model.set_keep(keep)
    cut = model(x)
    assert cut.shape == whole.shape and not torch.equal(cut, whole)
    model.set_keep(None)
    assert torch.equal(model(x), whole)
    model.train()
    for _ in range(3):
        model(x)
    assert int(model.draws) == 3 and "draws" in model.state_dict()


def test_hash_routing_is_per_sample_and_uses_every_expert():
    _, model = build("hash:4")
    model.eval()
    x = torch.rand(256, 64)
    whole = model(x)
    assert torch.allclose(model(x[:7]), whole[:7], atol=1e-6)  # a sample's route is its own
    block = model.blocks[0]
    routes = block.route(block.norm(model.lift(x)))
    assert set(routes.tolist()) == {0, 1, 2, 3}


def test_altup_starts_by_giving_every_sub_block_the_computed_change():
    _, model = build("altup:2")
    block = model.blocks[1]
    z = torch.randn(4, 48)
    change = block(z) - z
    assert torch.allclose(change[:, :24], change[:, 24:], atol=1e-6)


@pytest.mark.parametrize("block,message", [
    ("hash:3", "power of 2"), ("lowrank:0", "positive integer"), ("altup:5", "equal sub-blocks"),
    ("lowrank:99", "buys nothing"), ("moe:4", "choose one of"), ("nested:2", "choose one of"),
])
def test_bad_variants_are_refused(block, message):
    with pytest.raises(UserError, match=message):
        build(block)


def test_a_nested_run_is_evaluated_at_its_prefixes_from_one_checkpoint(tmp_path, capsys):
    from hourglass.cli.main import main
    from hourglass.training import evaluate_run

    cfg = TrainConfig(skip_dim=48, inner_dim=32, depth=2, block="nested", epochs=2,
                      batch_size=64, lr=1e-2, train_limit=512, eval_limit=64)
    metrics = train(cfg, tmp_path / "run", progress=False)
    full = evaluate_run(tmp_path / "run", inner_dim=32)
    assert full["test_psnr"] == metrics["test_psnr"] and full["inner_dim"] == 32
    cut = {n: evaluate_run(tmp_path / "run", inner_dim=n)["test_psnr"] for n in (4, 8, 16)}
    assert len({*cut.values(), full["test_psnr"]}) == 4
    for argv, message in ((["--inner-dim", "64"], "between 1 and 32"),
                          (["--rank", "2"], "cuts a --block lowrank model")):
        assert main(["eval", str(tmp_path / "run"), *argv]) == 2
        assert message in capsys.readouterr().err


def test_a_search_space_names_a_variant_per_shape_and_omits_the_plain_block():
    from hourglass.search.space import Unit
    from hourglass.search.space_file import space_from_dict

    d = {"task": "denoise", "dataset": "digits", "epochs": 2,
         "hourglass": {"skip_dim": [96], "inner_dim": [16], "depth": [2], "lr": [1e-2],
                       "block": "hash:4"},
         "conventional": {"skip_dim": [64], "inner_dim": [128], "depth": [1], "lr": [1e-2]}}
    space = space_from_dict(d, "variants")
    assert space.to_dict()["hourglass"]["block"] == "hash:4"
    assert "block" not in space.to_dict()["conventional"]
    arch = next(a for a in space.archs() if a.shape == "hourglass")
    assert space.train_config(Unit(arch, 1e-2), 0, 2, None).block == "hash:4"
    assert space.params(arch) == 2 * 4 * 2 * 96 * 16 + 64 * 96 + 96 * 64
    with pytest.raises(UserError, match="power of 2"):
        space_from_dict({**d, "hourglass": {**d["hourglass"], "block": "hash:6"}}, "bad")


def _variant_space(tmp_path, block: str, task: str = "denoise") -> str:
    hourglass = {"skip_dim": [64, 96], "inner_dim": [8], "depth": [2], "lr": [1e-2]}
    if block != "plain":
        hourglass["block"] = block
    lines = [f'name = "v-{block.replace(":", "")}"', f'task = "{task}"', 'dataset = "digits"',
             "epochs = 1", "batch_size = 64", "train_limit = 256", "eval_limit = 64",
             "[hourglass]", *(f"{k} = {v!r}".replace("'", '"') for k, v in hourglass.items()),
             "[conventional]", "skip_dim = [32]", "inner_dim = [64]", "depth = [1]",
             "lr = [1e-2]"]
    path = tmp_path / f"{block.replace(':', '')}-{task}.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.integration
def test_variant_searches_share_one_overlay_plot(tmp_path, capsys):
    from hourglass.cli.main import main

    dirs = []
    for block in ("plain", "hash:4"):
        out = tmp_path / block.replace(":", "")
        assert main(["search", _variant_space(tmp_path, block), "--out", str(out), "--quiet"]) == 0
        dirs.append(str(out))
    assert main(["report", dirs[0], "--with", dirs[1]]) == 0
    text = (tmp_path / "plain" / "overlay.md").read_text()
    for series in ("| hourglass |", "| hourglass hash:4 |", "| conventional |"):
        assert series in text
    assert text.count("| conventional |") == 1  # met in both searches, kept once
    assert (tmp_path / "plain" / "overlay.png").stat().st_size > 10_000
    other = tmp_path / "classify"
    assert main(["search", _variant_space(tmp_path, "plain", "classify"), "--out", str(other),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["report", dirs[0], "--with", str(other)]) == 2
    assert "an overlay needs the same task and data" in capsys.readouterr().err


def test_the_overlay_ranks_every_series_on_parameters_and_on_flops():
    """Hash-routed experts buy parameters at one expert's compute: the FLOPs hypervolume must
    rank them by their own FLOPs, not their parameters."""
    from hourglass.report.overlay import overlay_markdown

    dense = {"skip_dim": 8, "inner_dim": 2, "depth": 1, "lr": 1e-3, "params": 100,
             "flops": 1000, "mean": 20.0}
    experts = {**dense, "params": 300, "flops": 500}
    merged = {"metric": "test_psnr", "higher_is_better": True, "space": {"task": "denoise",
              "dataset": "mnist"}, "reference_point": {"quality": 10.0},
              "frontiers": {"hourglass": [dense], "hourglass hash:4": [experts]},
              "frontiers_by_flops": {"hourglass": [dense], "hourglass hash:4": [experts]},
              "configurations": [{**dense, "shape": "hourglass"},
                                 {**experts, "shape": "hourglass hash:4"}]}
    text = overlay_markdown(merged, [Path("a"), Path("b")])
    # reference point (300 params, 1000 FLOPs, 10 dB): (300 - 100) x 10 and (1000 - 500) x 10
    assert "| hourglass | 2000.00 | 0.00 |" in text
    assert "| hourglass hash:4 | 0.00 | 5000.00 |" in text
    assert "300 params, 1,000 flops" in text


def test_every_series_of_a_full_overlay_has_a_colour_far_from_the_others():
    """The study's overlay draws seven series; two near-identical oranges once made the nested
    frontier read as the plain one's."""
    from itertools import combinations

    from hourglass.report.plot import series_colors

    names = ["hourglass", "conventional", *(f"hourglass {b}" for b in
                                            ("frozen", "lowrank:32", "nested", "hash:4",
                                             "altup:2"))]
    rgb = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in series_colors(names).values()]
    assert min(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
               for a, b in combinations(rgb, 2)) > 60

