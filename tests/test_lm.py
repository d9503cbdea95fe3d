"""The language-model family: texts and their splits, the lm task, the recipe, sampling, and
bad input."""

import math
from pathlib import Path

import pytest
import torch
from conftest import SHARED_DATA, need

from hourglass.cli.main import main
from hourglass.core.errors import UserError
from hourglass.data import load_dataset
from hourglass.data.text import TextSplit
from hourglass.models.registry import get_family
from hourglass.tasks.text import LMTask
from hourglass.training import TrainConfig, train
from hourglass.training.config import model_config
from hourglass.training.fit import learning_rate, param_groups
from hourglass.training.sample import sample

SMALL = dict(family="lm", task="lm", skip_dim=32, inner_dim=64, depth=1, context=32,
             batch_size=16, epochs=1, warmup=5)


def test_the_embedded_text_needs_no_files_and_splits_90_5_5(tmp_path):
    corpus = load_dataset("moby-dick", tmp_path)  # an empty data directory
    n = len(corpus.train) + len(corpus.eval) + len(corpus.test)
    assert (n, len(corpus.chars)) == (1_188_139, 81)
    assert len(corpus.train) == int(0.9 * n) and abs(len(corpus.eval) - len(corpus.test)) <= 1
    assert corpus.decode(corpus.train[:18].tolist()) == "Loomings.\n\nCall me"
    assert corpus.decode(corpus.encode("whale—")) == "whale—"


def test_tinyshakespeare_is_split_as_nanogpt_does():
    root = need(SHARED_DATA / "tinyshakespeare").parent
    corpus = load_dataset("tinyshakespeare", root)
    assert len(corpus.chars) == 65 and corpus.chars[:2] == "\n "
    # nanoGPT's shakespeare_char: train = the first 90% (1,003,854 characters), val = the rest;
    # our eval and test are val's two halves
    assert len(corpus.train) == 1_003_854
    assert (len(corpus.eval), len(corpus.test)) == (55_770, 55_770)
    text = (root / "tinyshakespeare" / "input.txt").read_text()
    assert corpus.decode(corpus.eval[:40].tolist()) == text[1_003_854:1_003_894]


def test_windows_are_the_text_and_its_next_characters():
    ids = torch.arange(100, dtype=torch.int32)
    split = TextSplit.of(ids, 8)
    assert len(split) == 12  # (100 - 1) // 8
    task = LMTask(100, 8)
    x, y = task.split_xy(split)
    assert torch.equal(x[1], torch.arange(8, 16)) and torch.equal(y[1], torch.arange(9, 17))
    x, y = task.train_batch(split, torch.tensor([11]), torch.Generator().manual_seed(3))
    assert torch.equal(y[0], x[0] + 1) and int(y[0, -1]) <= 99  # a shift never runs off
    assert torch.equal(split.sample(3).starts, split.sample(3).starts)
    with pytest.raises(UserError, match="holds no window"):
        TextSplit.of(ids[:5], 8)


def test_the_unigram_baseline_is_the_entropy_of_the_training_frequencies():
    train_ids = torch.tensor([0, 0, 0, 1] * 25, dtype=torch.int32)
    task = LMTask(2, 4)
    got = task.baseline(TextSplit.of(train_ids, 4), TextSplit.of(train_ids, 4), "test")["bpc"]
    p0, p1 = 76 / 102, 26 / 102  # add-one smoothed
    targets = TextSplit.of(train_ids, 4).windows()[:, 1:].flatten()
    share1 = float((targets == 1).double().mean())
    assert got == pytest.approx(-(1 - share1) * math.log2(p0) - share1 * math.log2(p1))


def test_the_recipe_warms_up_over_100_steps_unless_told_otherwise():
    # the defaults once lacked it: the recipe said warm-up, the runs had none
    base = {k: v for k, v in SMALL.items() if k != "warmup"}
    cfg = TrainConfig(**base, lr=1e-3).resolved()
    assert cfg.warmup == 100 and learning_rate(cfg, 0, 1000) == pytest.approx(1e-5)
    assert TrainConfig(**base, warmup=0).resolved().warmup == 0
    assert TrainConfig(task="denoise", dataset="digits").resolved().warmup == 0  # the MLP's


def test_the_cosine_schedule_warms_up_then_ends_at_a_tenth():
    cfg = TrainConfig(**{**SMALL, "epochs": 2, "warmup": 10, "lr": 1e-3}).resolved()
    assert cfg.lr_schedule == "cosine" and cfg.adam_beta2 == 0.95 and cfg.weight_decay == 0.1
    lrs = [learning_rate(cfg, s, 50) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert lrs[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[9:-1], lrs[10:], strict=True))


def test_norm_gains_do_not_decay_but_qk_norms_and_matrices_do():
    cfg = TrainConfig(**SMALL).resolved()
    model = get_family("lm").build(model_config(cfg, LMTask(10, 32)))
    decay, keep = param_groups(model, 0.1, "matrices")
    kept = {id(p) for p in keep["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in kept}
    assert names and all("norm" in n and "q_norm" not in n and "k_norm" not in n
                         for n in names)
    assert keep["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1
    assert len(decay["params"]) + len(keep["params"]) == len(list(model.parameters()))


def test_tied_and_untied_counts_differ_by_the_output_matrix():
    lm = get_family("lm")
    tied, untied = (lm.counts(model_config(TrainConfig(**SMALL, arch={"tied": t}).resolved(),
                                           LMTask(81, 32))) for t in (1, 0))
    assert untied["params"] - tied["params"] == 81 * 32
    assert untied["embedding_params"] == 2 * tied["embedding_params"] == 2 * 81 * 32
    for t, counts in ((1, tied), (0, untied)):  # against the built modules
        mcfg = model_config(TrainConfig(**SMALL, arch={"tied": t}).resolved(), LMTask(81, 32))
        model = lm.build(mcfg)
        emb = {id(p): p.numel() for m in (model.embed, model.head) for p in m.parameters()}
        assert counts["embedding_params"] == sum(emb.values())
        rest = sum(p.numel() for p in model.parameters() if id(p) not in emb)
        assert counts["params"] - counts["embedding_params"] == rest  # non-embedding


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lm") / "run"
    train(TrainConfig(**SMALL, dataset="moby-dick", train_limit=64, eval_limit=16), out,
          progress=False)
    return out


def test_sampling_is_seeded_and_reads_the_stored_vocabulary(lm_run):
    a = sample(lm_run, "Call me", 40, 1.0, seed=1)
    assert a == sample(lm_run, "Call me", 40, 1.0, seed=1) and a.startswith("Call me")
    assert len(a) == 47 and a != sample(lm_run, "Call me", 40, 1.0, seed=2)
    assert sample(lm_run, "x" * 100, 5, 0.0) == sample(lm_run, "x" * 100, 5, 0.0)


@pytest.mark.parametrize("argv,message", [
    (["--prompt", "Ω"], "characters the model never saw"),
    (["--tokens", "0"], "--tokens must be between 1"),
    (["--temperature", "-1"], "--temperature must be a number >= 0"),
    (["--prompt", ""], "--prompt is empty"),
])
def test_sample_refuses_bad_input_in_one_line(lm_run, argv, message, capsys):
    assert main(["sample", str(lm_run), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_sample_and_predict_refuse_each_others_runs(lm_run, tmp_path, capsys):
    assert main(["predict", str(lm_run), str(tmp_path / "x.png")]) == 2
    assert "`hourglass sample`" in capsys.readouterr().err
    assert main(["sample", str(tmp_path)]) == 2
    assert "not a finished training run" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--dataset", "text:{bad}"], "not UTF-8 text"),
    (["--dataset", "text:{short}"], "a text dataset needs at least"),
    (["--dataset", "text:{missing}"], "no text file at"),
    (["--dataset", "digits"], "the lm task reads a text"),
    (["--dataset", "moby-dick", "--task", "denoise", "--family", "mlp"], "is a text"),
    (["--dataset", "digits", "--task", "denoise", "--family", "mlp", "--context", "8"],
     "--context is the window of a task that reads text"),
    (["--dataset", "moby-dick", "--context", "0"], "--context must be positive"),
    (["--dataset", "moby-dick", "--attn-dim", "30", "--heads", "2"], "even head dim"),
])
def test_bad_text_runs_are_refused_in_one_line(argv, message, tmp_path, capsys):
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 " * 40)
    (tmp_path / "short.txt").write_text("too short")
    paths = {k: tmp_path / f"{k}.txt" for k in ("bad", "short", "missing")}
    argv = [a.format(**paths) for a in argv]
    family = [] if "--family" in argv else ["--family", "lm"]
    code = main(["train", *family, "--skip-dim", "32", "--inner-dim", "64", "--depth", "1",
                 "--epochs", "1", "--out", str(tmp_path / "run"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


@pytest.mark.integration
def test_a_short_run_beats_the_unigram_baseline(tmp_path):
    # 100 steps of a 0.1M-parameter model on 200k characters of Moby-Dick (about 10 s); no
    # dropout: recipe 3's 0.1 slows a run this short (4.43 bits against the baseline's 4.48)
    metrics = train(TrainConfig(**{**SMALL, "skip_dim": 64, "inner_dim": 128, "depth": 2,
                                   "context": 64, "batch_size": 32, "lr": 3e-3, "warmup": 10,
                                   "dropout": 0.0},
                                dataset="moby-dick", train_limit=3200, eval_limit=64),
                    tmp_path / "run", progress=False)
    assert metrics["test_bpc"] < metrics["baseline_bpc"] - 0.3


def test_an_lm_search_minimizes_bits_per_character(tmp_path):
    from optuna.study import StudyDirection

    from hourglass.search import load_space
    from hourglass.search.results import columns
    from hourglass.search.store import Store

    space = load_space("quick-lm")
    store = Store(space, tmp_path, None)
    assert {tuple(s.directions) for s in store.studies.values()} == {
        (StudyDirection.MINIMIZE, StudyDirection.MINIMIZE)}
    cols = columns(space)
    assert "test_bpc" in cols and "test_psnr" not in cols and "embedding_params" in cols


def test_altup_in_the_language_model_is_counted_exactly():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    cfg = TrainConfig(**{**SMALL, "skip_dim": 64, "arch": {"heads": 2}}, block="altup:2")
    mcfg = model_config(cfg.resolved(), LMTask(11, 32))
    model = get_family("lm").build(mcfg)
    counts = get_family("lm").counts(mcfg)
    assert counts["params"] == sum(p.numel() for p in model.parameters())
    assert model.layers[0].block.attn.qkv.in_features == 32  # one sub-block of the stream
    x = torch.randint(11, (2, 32))
    with FlopCounterMode(display=False) as counter, sdpa_kernel([SDPBackend.MATH]):
        model(x)
    assert counter.get_total_flops() == 2 * 32 * counts["flops_per_sample"]
    mixes = {id(layer.mix) for layer in model.layers}
    assert mixes <= {id(p) for p in model.no_decay()}
    with pytest.raises(UserError, match="takes plain or altup"):
        model_config(TrainConfig(**SMALL, block="hash:2").resolved(), LMTask(11, 32))


def test_match_solves_the_stream_width_at_the_authors_ratios():
    from hourglass.search.match import budget_of, match
    from hourglass.training import count_run_params

    base = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=128, inner_dim=512,
                       depth=4, arch={"heads": 4})
    target = budget_of(count_run_params(base), "params")
    found = match(base, tolerance=0.05, depths=[4], ratios=[0.5, 0.8])
    got = {(m.config.arch["sub_blocks"], round(m.config.inner_dim / m.config.skip_dim, 1))
           for m in found}
    assert got == {(k, r) for k in (1, 2, 4) for r in (0.5, 0.8)}
    for m in found:  # recounted: within 5% of the baseline, attention kept at its width
        assert abs(budget_of(count_run_params(m.config), "params") / target - 1) <= 0.05
        assert m.config.arch["attn_dim"] == 128 and m.config.skip_dim % 8 == 0
    with pytest.raises(UserError, match="must be below 1"):
        match(base, ratios=[1.5])
