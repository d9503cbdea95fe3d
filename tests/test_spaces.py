"""Search spaces across families: committed spaces load as before, ViT spaces, explicit
config lists (matched pairs), and the frontier's direction."""

import tomllib
from pathlib import Path

import pytest
from conftest import SHARED_DATA, need

from hourglass.core.errors import UserError
from hourglass.search.builtins import toml
from hourglass.search.frontier import summarize
from hourglass.search.space import extends
from hourglass.search.space_file import load_space, space_from_dict
from hourglass.search.strategies import next_job

ROOT = Path(__file__).resolve().parents[1]
STUDY_SPACES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "studies").rglob("*.toml"))


@pytest.mark.parametrize("path", STUDY_SPACES)
def test_every_committed_space_file_still_loads(path):
    data_dir = None
    if tomllib.loads((ROOT / path).read_text())["dataset"] == "tinyshakespeare":
        # a text's vocabulary, hence its parameter counts, comes from the file itself
        data_dir = str(need(SHARED_DATA / "tinyshakespeare").parent)
    space = load_space(str(ROOT / path), data_dir)
    assert space.units()
    assert space_from_dict(tomllib.loads(toml(space.to_dict())), space.name,
                           data_dir).to_dict() == space.to_dict()
    # it names the recipe it ran on, and its trials resolve to that recipe's settings: a
    # study run before recipe 2 to v1's split, schedule and checkpoint
    version = space.recipe["recipe"]
    cfg = space.train_config(space.units()[0], space.seeds[0], space.epochs, None).resolved()
    assert cfg.recipe == version
    if version == 1:
        assert (cfg.split_rng, cfg.lr_schedule, cfg.test_checkpoint) == ("torch", "step", "best")
    if space.family in ("vit", "lm") and version < 3:  # nothing of recipe 3 leaks into it
        assert (cfg.label_smoothing, cfg.dropout) == (0.0, 0.0)
        assert cfg.decay == ("matrices" if space.family == "lm" else "all")


def test_an_mlp_space_reads_as_it_did_before_families():
    # what commit 667132f (before families) gave for this space: trial keys and the stored
    # space dict are how a journal recognises its own trials, so neither may move
    space = load_space("quick-denoise")
    assert space.to_dict() == {
        "augment": "none", "batch_size": 64, "dataset": "digits", "epochs": 9,
        "name": "quick-denoise", "seeds": [0, 1], "task": "denoise",
        "conventional": {"depth": [1, 2, 3], "inner_dim": [96, 192, 384, 768],
                         "input_proj": "learned", "lr": [0.002, 0.008, 0.032, 0.048],
                         "skip_dim": [64]},
        "hourglass": {"depth": [1, 2, 4], "inner_dim": [4, 16, 48], "input_proj": "learned",
                      "lr": [0.002, 0.008, 0.032, 0.048], "skip_dim": [96, 192, 384]}}
    keys = [u.key for u in space.units()]
    assert len(keys) == 156 and keys[:2] == ["hourglass-z96-h4-L1-lr0.002",
                                             "hourglass-z96-h4-L1-lr0.008"]


VIT = {"task": "classify", "dataset": "cifar10", "family": "vit", "epochs": 2,
       "conventional": {"configs": [{"skip_dim": 64, "inner_dim": 256, "depth": 4},
                                    {"skip_dim": 96, "inner_dim": 384, "depth": 4}],
                        "lr": [1e-3]},
       "hourglass": {"skip_dim": [96], "inner_dim": [24, 32], "depth": [4],
                     "sub_blocks": [1, 2, 4], "attn_dim": [64], "lr": [1e-3, 2e-3]}}


def test_a_vit_space_with_configs_and_products():
    space = space_from_dict(VIT, "v")
    units = space.units()
    assert len(units) == 2 * 3 * 2 + 2
    assert "hourglass-z96-h24-L4-K2-a64-nh4-p4-lr0.002" in [u.key for u in units]
    assert [u.arch.label for u in units if u.arch.shape == "conventional"] == [
        "64/256/4 K1 a0 nh4 p4", "96/384/4 K1 a0 nh4 p4"]
    again = space_from_dict(tomllib.loads(toml(space.to_dict())), "v")
    assert again.to_dict() == space.to_dict()
    wider = {**VIT, "conventional": {**VIT["conventional"], "configs": [
        *VIT["conventional"]["configs"], {"skip_dim": 128, "inner_dim": 512, "depth": 4}]}}
    assert extends(space_from_dict(wider, "v").to_dict(), space.to_dict())
    assert not extends(space.to_dict(), space_from_dict(wider, "v").to_dict())


@pytest.mark.parametrize("edit,match", [
    ({"family": "cnn"}, "unknown model family 'cnn'"),
    ({"task": "prototype", "family": "mlp"}, "unknown keys attn_dim, sub_blocks"),
    ({"hourglass": {"configs": [{"skip_dim": 32, "inner_dim": 64, "depth": 1}], "lr": [1e-3]}},
     "is not a hourglass architecture"),
    ({"hourglass": {"configs": [{"skip_dim": 96, "depth": 1}], "lr": [1e-3]}},
     r"configs\[0\]: missing inner_dim"),
    ({"hourglass": {"configs": [{"skip_dim": 96, "inner_dim": 8, "depth": 1}],
                    "skip_dim": [96], "lr": [1e-3]}}, "give configs or skip_dim, not both"),
    ({"hourglass": {**VIT["hourglass"], "heads": [3]}}, "not a multiple of 3 heads"),
    ({"lr_extend": 5}, "lr_extend must be 0 to 4"),
    ({"lr_extend": -1}, "lr_extend must be 0 to 4"),
    ({"lr_extend": "two"}, "lr_extend: must be a finite int"),
])
def test_bad_family_spaces_are_refused(edit, match):
    with pytest.raises(UserError, match=match):
        space_from_dict({**VIT, **edit}, "v")


def test_lr_extend_is_part_of_a_space_and_raising_it_only_widens_its_search():
    """A space without lr_extend keeps the identity it had before the setting (a study's
    folder still matches it); adding or raising it extends the space (its search trains only
    the new lrs), lowering it does not; only lr-then-seeds takes it."""
    from hourglass.search import SearchOptions, search

    plain, once, twice = (space_from_dict({**VIT, "lr_extend": n} if n else VIT, "v")
                          for n in (0, 1, 2))
    assert "lr_extend" not in plain.to_dict() and once.to_dict()["lr_extend"] == 1
    assert extends(once.to_dict(), plain.to_dict()) and extends(twice.to_dict(), once.to_dict())
    assert not extends(plain.to_dict(), once.to_dict())
    assert not extends(once.to_dict(), twice.to_dict())
    assert twice.lr_ladder("hourglass") == [2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3]
    with pytest.raises(UserError, match="run it with --strategy lr-then-seeds"):
        search("v", once, "unused", SearchOptions(strategy="grid", progress=False))


def row(shape, skip, value, params, lr=1e-3, seed=0):
    return {"shape": shape, "skip_dim": skip, "inner_dim": 1, "depth": 1, "lr": lr,
            "seed": seed, "epochs": 1, "status": "complete", "params": params,
            "test_bpc": value, "test_accuracy": value, "baseline": None}


def test_the_frontier_follows_the_metric_direction(monkeypatch):
    import hourglass.search.frontier as fr

    rows = [row("hourglass", 8, 2.0, 100), row("hourglass", 16, 1.5, 200),
            row("hourglass", 32, 1.8, 300), row("conventional", 4, 1.9, 150)]
    monkeypatch.setattr(fr, "metric_name", lambda task: "test_bpc")  # lower is better
    low = summarize(rows, "lm", 1, 300)
    assert not low["higher_is_better"]
    assert [c["skip_dim"] for c in low["frontiers"]["hourglass"]] == [8, 16]  # 1.8 dominated
    gain = {r["config"]: r["quality_gain"] for r in low["comparison"]}
    assert gain["4/1/1"] == pytest.approx(1.9 - 2.0)  # hourglass at 150 params: 2.0, worse
    monkeypatch.setattr(fr, "metric_name", lambda task: "test_accuracy")
    high = summarize(rows, "classify", 1, 300)
    assert [c["skip_dim"] for c in high["frontiers"]["hourglass"]] == [8]


def test_frontiers_are_drawn_against_non_embedding_parameters():
    # a wide embedding must not move a network along the axis the budgets were matched on
    rows = [{**row("hourglass", 8, 2.0, 1100), "embedding_params": "1000"},
            {**row("hourglass", 16, 1.5, 600), "embedding_params": "300"},
            {**row("conventional", 4, 1.9, 150), "embedding_params": ""}]  # the MLP's
    s = summarize(rows, "lm", 1, 300)
    assert {c["skip_dim"]: c["params"] for c in s["configurations"]} == {8: 100, 16: 300,
                                                                           4: 150}
    assert [c["skip_dim"] for c in s["frontiers"]["hourglass"]] == [8, 16]


def test_a_search_records_the_commit_and_command_that_produced_it(tmp_path):
    import json
    import subprocess

    from hourglass.core.provenance import code_version, describe, provenance

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")
    assert code_version()["commit"] == head
    p = provenance(["search", "s.toml", "--out", "o w"])
    assert p["command"] == "hourglass search s.toml --out 'o w'"
    assert describe(p).startswith("Produced by `hourglass search s.toml --out 'o w'` at "
                                  f"commit {head[:12]}")
    json.dumps(p)  # what the search writes


def test_a_resumed_search_keeps_what_first_produced_it():
    from hourglass.core.provenance import describe, resumed

    first = {"commit": "a" * 40, "dirty": False, "command": "hourglass search s.toml"}
    again = {**first, "commit": "b" * 40}
    assert resumed(None, first) == first
    assert resumed(first, dict(first)) == first  # the same code and command: nothing to add
    both = resumed(resumed(first, again), again)
    assert both == {**first, "resumed": [again]}
    assert describe(both) == ("Produced by `hourglass search s.toml` at commit aaaaaaaaaaaa. "
                              "Resumed by `hourglass search s.toml` at commit bbbbbbbbbbbb.")
    assert resumed(["not", "a", "record"], again) == again


def test_frontiers_against_flops_as_well_as_params():
    def r(skip, params, flops, value):
        return {**row("hourglass", skip, value, params), "test_psnr": value,
                "flops_per_sample": flops}

    # a frozen projection costs FLOPs but no parameters: the two axes order these differently
    rows = [r(8, 100, 500, 20.0), r(16, 200, 300, 21.0), r(32, 300, 900, 22.0)]
    s = summarize(rows, "denoise", 1, 300)
    assert [c["skip_dim"] for c in s["frontiers"]["hourglass"]] == [8, 16, 32]
    assert [c["skip_dim"] for c in s["frontiers_by_flops"]["hourglass"]] == [16, 32]
    old = summarize([{**x, "flops_per_sample": None} for x in rows], "denoise", 1, 300)
    assert old["frontiers_by_flops"] == {}  # trials that did not record FLOPs: no such axis


@pytest.mark.parametrize("family,task", [("mlp", "denoise"), ("vit", "classify"),
                                         ("vit", "superres"), ("mixer", "classify")])
def test_compare_has_a_space_for_each_family(family, task, tmp_path):
    from hourglass.cli.compare import compare_space

    name, space = compare_space(task, "digits", None, family)
    assert space.family == family and set(space.shapes) == {"hourglass", "conventional"}
    if family == "vit":  # beyond digits: a space scaled to the images, patch dividing them
        (tmp_path / "cifar10").mkdir()
        name, space = compare_space(task, "cifar10", str(tmp_path), family)
        assert space.family == "vit" and space.units()
        patch = space.shapes["hourglass"].dims["patch"][0]
        assert (16 if task == "superres" else 32) % patch == 0


def test_compare_has_a_language_model_space_for_any_text(tmp_path):
    from hourglass.cli.compare import compare_space

    name, space = compare_space("lm", "moby-dick", None, "lm")
    assert name == "quick-lm" and space.task == "lm" and space.recipe["context"] == 64
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 200)
    name, space = compare_space("lm", f"text:{text}", None, "lm")
    assert space.dataset == f"text:{text}" and space.units()


def test_a_text_space_is_checked_on_the_data_dir_it_is_given(tmp_path, monkeypatch):
    """`hourglass search SPACE --data-dir DIR` counts the space's networks on DIR's text,
    not on ./data: found when the full LM study would not start."""
    data_dir = str(need(SHARED_DATA / "tinyshakespeare").parent)
    space_file = ROOT / "studies" / "shakespeare-lm-full" / "space.toml"
    monkeypatch.chdir(tmp_path)  # no ./data here
    monkeypatch.delenv("HOURGLASS_DATA_DIR", raising=False)
    with pytest.raises(UserError, match="no text file"):
        load_space(str(space_file))
    space = load_space(str(space_file), data_dir)
    # the strategies count every network (lr-then-seeds: smallest first) on the same text
    first = next_job("lr-then-seeds", space, [])
    assert first.unit.arch == min(space.archs(), key=space.size)
    assert 250_000 < space.size(first.unit.arch) < 270_000  # the 0.26M budget's

    from hourglass.cli.main import main

    def reached_search(*args, **kwargs):
        raise UserError("the space loaded; search reached")

    monkeypatch.setattr("hourglass.search.search", reached_search)
    assert main(["search", str(space_file), "--data-dir", data_dir, "--out",
                 str(tmp_path / "s")]) == 2
    assert not (tmp_path / "data").exists()


def test_a_dim_added_later_keeps_earlier_keys_and_names_itself_when_set():
    """The ViT's conv (optional): at its default it is in no key, label or column, so searches
    run before it existed keep theirs; set, it names the architecture."""
    space = space_from_dict({**VIT, "hourglass": {**VIT["hourglass"], "conv": [0, 2]}}, "v")
    keys = [u.key for u in space.units()]
    assert "hourglass-z96-h24-L4-K2-a64-nh4-p4-lr0.002" in keys
    assert "hourglass-z96-h24-L4-K2-a64-nh4-p4-cv2-lr0.002" in keys
    assert all("cv" not in k for k in keys if k.startswith("conventional"))
    conv = next(u.arch for u in space.units() if "cv2" in u.key)
    plain = next(u.arch for u in space.units() if u.arch.shape == "conventional")
    assert (conv.conv, plain.conv, conv.label.endswith("cv2")) == (2, 0, True)


def test_a_space_pins_the_optimizer_and_precision_its_trials_train_with():
    from hourglass.search.builtins import BUILTINS

    d = BUILTINS["quick-lm"]()
    d.update(optimizer="muon", muon_lr=0.01, precision="bf16")
    pinned = {"optimizer": "muon", "muon_lr": 0.01, "precision": "bf16"}
    assert pinned.items() <= space_from_dict(d, "pinned").recipe.items()
    with pytest.raises(UserError, match="--precision 'fp8': choose one of fp32, bf16"):
        space_from_dict({**d, "precision": "fp8"}, "bad")


def test_a_space_without_a_batch_size_trains_at_its_recipes():
    """Recipe 4 classifies at batch 64; a space that names it and no batch trains at 64 (it
    trained at 128 before, silently unlike the recipe it named), and stores 64 in its dict.
    A space naming recipe 2 keeps 128, so a study run on it still finds its own trials."""
    new = space_from_dict({**VIT, "recipe": 4}, "v")
    assert new.batch_size == 64 == new.to_dict()["batch_size"]
    unit = new.units()[0]
    assert new.train_config(unit, 0, 2, None).resolved().batch_size == 64
    assert space_from_dict({**VIT, "recipe": 2}, "v").to_dict()["batch_size"] == 128
    assert space_from_dict({**VIT, "recipe": 4, "batch_size": 32}, "v").batch_size == 32


def test_each_listed_config_is_checked_for_its_shape_on_its_own():
    """A config list may hold a conventional 64/256 beside a 256/768 (one's inner width is
    the other's skip width); a config that is not its shape, and a product of dims that
    mixes them, are refused."""
    ok = {**VIT, "conventional": {"configs": [{"skip_dim": 64, "inner_dim": 256, "depth": 4},
                                              {"skip_dim": 256, "inner_dim": 768, "depth": 4}],
                                  "lr": [1e-3]}}
    assert len(space_from_dict(ok, "v").archs()) == 2 + 6
    bad = {**VIT, "conventional": {"configs": [{"skip_dim": 256, "inner_dim": 64, "depth": 4}],
                                   "lr": [1e-3]}}
    with pytest.raises(UserError, match="is not a conventional architecture"):
        space_from_dict(bad, "v")
    product = {**VIT, "conventional": {"skip_dim": [64, 256], "inner_dim": [256, 768],
                                       "depth": [4], "lr": [1e-3]}}
    with pytest.raises(UserError, match="every conventional inner_dim must be above"):
        space_from_dict(product, "v")
