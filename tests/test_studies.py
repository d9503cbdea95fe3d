"""The study scripts (studies/): each table of tables.py puts the right committed runs side by
side, and two copies of full_recipe.sh share one list of runs."""

import csv
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "tables", Path(__file__).parents[1] / "studies" / "tables.py")
tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tables)
_spec = importlib.util.spec_from_file_location(
    "curves", Path(__file__).parents[1] / "studies" / "curves.py")
curves = sys.modules["curves"] = importlib.util.module_from_spec(_spec)  # for its dataclass
_spec.loader.exec_module(curves)
_spec = importlib.util.spec_from_file_location(
    "attention", Path(__file__).parents[1] / "studies" / "attention.py")
attention = sys.modules["attention"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(attention)
_spec = importlib.util.spec_from_file_location(
    "progress", Path(__file__).parents[1] / "studies" / "progress.py")
progress = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(progress)


def test_the_variants_table_sets_each_variant_beside_the_plain_block_on_its_network(tmp_path):
    """studies/tables.py variants: the control is the plain block on the same network, and of
    two plain runs of it (a search that gained an lr) the one better on the eval split."""
    def run(name, block, lr, test, eval_, params, flops, depth=2):
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps(
            {"task": "denoise", "shape": "hourglass", "skip_dim": 64, "inner_dim": 8,
             "depth": depth, "lr": lr, "block": block}))
        (d / "metrics.json").write_text(json.dumps(
            {"test_psnr": test, "eval_psnr": eval_, "params": params,
             "flops_per_sample": flops}))

    run("a", "frozen", 3e-3, 24.0, 23.9, 800, 1000)
    run("b", "plain", 3e-3, 23.5, 23.4, 1000, 1000)
    run("c", "plain", 1e-3, 23.8, 23.7, 1000, 1000)  # better on eval: the control
    run("d", "hash:4", 3e-3, 22.0, 21.9, 3000, 1000, depth=3)  # no plain run of 64/8/3
    text = tables.variants(tmp_path)
    assert "| frozen | 64/8/2 | 0.003 | 24.00 | 23.80 (lr 0.001) | +0.20 | 800 / 1,000 | 0.80 |" \
        " 1.00 |" in text
    assert "| hash:4 | 64/8/3 | 0.003 | 22.00 | no plain run of this network |" in text


def test_the_seeds_table_averages_each_network_and_recipe_over_its_seeds(tmp_path):
    """studies/tables.py seeds: one row per network and recipe (augmentation, batch, lr); the
    eval column, which picks the lr, is the mean over seeds, and the test column the mean ±
    sample std."""
    runs = tmp_path / "runs.csv"
    cols = "shape,skip_dim,inner_dim,depth,lr,seed,test_psnr,eval_psnr,params,block,augment," \
        "batch_size"
    runs.write_text("\n".join([
        cols,
        "hourglass,785,115,2,0.0007,0,26.0,25.0,100,plain,flip4,128",
        "hourglass,785,115,2,0.0007,1,27.0,26.0,100,plain,flip4,128",
        "hourglass,785,115,2,0.0007,0,25.0,24.5,100,plain,none,128",  # another recipe
        "hourglass,785,115,2,0.001,0,25.5,24.0,100,plain,flip4,128",
        "conventional,784,785,2,0.001,0,24.0,23.0,200,,flip4,64"]))
    text = tables.seeds(runs)
    for row in ["hourglass | 785/115/2 | 100 | flip4 | 128 | 0.0007 | 2 | 25.50 | 26.50 ± 0.71 |"
                " 26.00 27.00",
                "hourglass | 785/115/2 | 100 | none | 128 | 0.0007 | 1 | 24.50 | 25.00 | 25.00",
                "hourglass | 785/115/2 | 100 | flip4 | 128 | 0.001 | 1 | 24.00 | 25.50 | 25.50",
                "conventional | 784/785/2 | 200 | flip4 | 64 | 0.001 | 1 | 23.00 | 24.00 | 24.00"]:
        assert f"| {row} |" in text


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("flock") is None, reason="flock(1) is Linux's")
def test_two_copies_of_full_recipe_share_a_list_and_train_each_run_once(tmp_path):
    """studies/full_recipe.sh: a run being trained holds its lock, so a second copy of the same
    command skips it and takes the next; every run is trained by exactly one of the two."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # stands in for `hourglass train --resume`: a finished run is left as it is (as the real one
    # does), another is trained: it records who trained it, then finishes
    fake = bin_dir / "hourglass"
    fake.write_text('#!/usr/bin/env bash\nwhile [ "$1" != --out ]; do shift; done\n'
                    '[ -f "$2/metrics.json" ] && exit 0\n'
                    'mkdir -p "$2"; echo "$WORKER" >> "$2/trained_by"; sleep 1\n'
                    'echo {} > "$2/metrics.json"\n')
    fake.chmod(0o755)
    script = Path(__file__).parents[1] / "studies" / "full_recipe.sh"
    nets = ["785/115/2", "785/115/4", "784/785/1", "784/785/2"]
    procs = [subprocess.Popen(
        ["bash", str(script), "--lr", "7e-4", "superres", "50", "data", str(tmp_path / "out"),
         *nets], env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "WORKER": w},
        stderr=subprocess.PIPE, text=True) for w in ("a", "b")]
    errs = [p.communicate(timeout=600)[1] for p in procs]  # a hang guard
    assert [p.returncode for p in procs] == [0, 0], errs
    trained = {d.name: d.joinpath("trained_by").read_text().split()
               for d in (tmp_path / "out").iterdir() if d.is_dir()}
    assert sorted(trained) == sorted(
        ["hourglass-785-115-2-lr7e-4-s0", "hourglass-785-115-4-lr7e-4-s0",
         "conventional-784-785-1-lr7e-4-s0", "conventional-784-785-2-lr7e-4-s0"])
    assert all(len(by) == 1 for by in trained.values()), trained
    assert {w for by in trained.values() for w in by} == {"a", "b"}  # both did some


_COMMITTED_RUNS = sorted((Path(__file__).parents[1] / "docs" / "results").glob("*/runs.csv"))


@pytest.mark.parametrize("path", _COMMITTED_RUNS, ids=lambda p: p.parent.name)
def test_each_committed_run_has_the_issue_columns_and_the_parameter_count_of_its_network(path):
    """A committed runs.csv row names its network (shape, widths, depth, block; the learned
    input projection, the default, since rows predate an input_proj column) and its params are
    what `hourglass params` counts for it today, so a table built on them cannot drift from
    the code."""
    from hourglass.training.config import TrainConfig, count_run_params

    rows = list(csv.DictReader(path.open()))
    assert rows and list(rows[0]) == tables.RUNS_COLUMNS
    for r in rows:
        cfg = TrainConfig(task=r["task"], dataset=r["dataset"], skip_dim=int(r["skip_dim"]),
                          inner_dim=int(r["inner_dim"]), depth=int(r["depth"]), block=r["block"])
        assert (r["shape"] == "hourglass") == (int(r["inner_dim"]) < int(r["skip_dim"]))
        assert count_run_params(cfg)["params"] == int(r["params"]), r
        assert 10 < float(r["test_psnr"]) < 60 and 10 < float(r["eval_psnr"]) < 60, r


def test_runs_csv_merges_run_folders_with_committed_rows_in_numeric_order(tmp_path):
    """studies/tables.py runs-csv: a run trained here joins the rows of a runs.csv written
    elsewhere; widths sort as numbers (1150 after 785), a run found twice with the same
    numbers is one row, and with other numbers an error."""
    run = tmp_path / "runs" / "hourglass-1150-270-4"
    run.mkdir(parents=True)
    cfg = {"task": "superres", "dataset": "mnist", "shape": "hourglass", "skip_dim": 1150,
           "inner_dim": 270, "depth": 4, "lr": 0.001, "seed": 0, "epochs": 50,
           "batch_size": 128, "augment": "flip4", "split_rng": "numpy",
           "lr_schedule": "epoch", "test_checkpoint": "last"}
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "metrics.json").write_text(json.dumps(
        {"test_psnr": 27.25, "eval_psnr": 27.0, "params": 3611000}))
    committed = tmp_path / "runs.csv"
    row = "superres,mnist,hourglass,785,115,2,0.0007,0,50,128,flip4,26.4,26.2,1130400,numpy," \
        "epoch,last,plain"
    committed.write_text(",".join(tables.RUNS_COLUMNS) + "\n" + row + "\n")
    merged = tables.runs_csv([tmp_path / "runs", committed, committed]).splitlines()
    assert merged == [",".join(tables.RUNS_COLUMNS), row,
                      "superres,mnist,hourglass,1150,270,4,0.001,0,50,128,flip4,27.25,27.0,"
                      "3611000,numpy,epoch,last,plain"]
    other = tmp_path / "other.csv"
    other.write_text(",".join(tables.RUNS_COLUMNS) + "\n" + row.replace("26.4,", "26.5,"))
    with pytest.raises(SystemExit, match="other numbers"):
        tables.runs_csv([committed, other])


def write_search(folder: Path, networks, task="classify", metric="test_accuracy") -> None:
    """A search folder's trials.csv and frontier.json: each network (shape, skip, inner,
    params, FLOPs, its score at seeds 0, 1, 2 at lr 1e-3), depth 2."""
    from hourglass.search.frontier import summarize

    rows = []
    for shape, skip, inner, params, flops, scores in networks:
        for seed, score in enumerate(scores):
            rows.append({"status": "complete", "epochs": 5, "shape": shape, "skip_dim": skip,
                         "inner_dim": inner, "depth": 2, "lr": 1e-3, "seed": seed,
                         "params": params, "flops_per_sample": flops, metric: score,
                         "key": f"{shape}-{skip}-{inner}-lr0.001-s{seed}"})
    summary = summarize(rows, task, 5, max(n[3] for n in networks))
    (folder / "frontier.json").write_text(json.dumps(summary))
    with open(folder / "trials.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_the_budgets_table_gives_each_network_its_gap_with_an_interval_over_seeds(tmp_path):
    """studies/tables.py budgets: each network beside the conventional one of its budget, at
    both ratios (parameters, FLOPs), and its gain at the best lrs paired by seed with a 95%
    interval; a gain whose interval holds 0 is a tie."""
    write_search(tmp_path, (
        ("conventional", 16, 64, 1000, 2000, (0.800, 0.810, 0.805)),
        ("hourglass", 24, 12, 1010, 1990, (0.820, 0.829, 0.826)),  # +0.020 each seed
        ("hourglass", 20, 8, 990, 2100, (0.790, 0.830, 0.800))))  # noisy: a tie
    text = tables.budgets(tmp_path)
    assert "| hourglass | 24/12/2 | 0.50 | 1,010 | 1.010 | 0.995 |" in text
    assert "| 2.00 pt [1.75 pt, 2.25 pt], paired, 3 seeds |" in text
    tie = next(line for line in text.splitlines() if "| 20/8/2 |" in line)
    assert "| 0.990 | 1.050 |" in tie and "tie" in tie


def test_the_budgets_table_of_a_study_without_a_conventional_network_yet_says_so(tmp_path):
    """A long study is read while it runs: before its first conventional network finishes
    there is no budget to compare against, said in one line (was a traceback)."""
    write_search(tmp_path, (("hourglass", 24, 12, 1010, 1990, (0.820, 0.829, 0.826)),))
    with pytest.raises(SystemExit, match="no finished conventional network"):
        tables.budgets(tmp_path)


def test_the_knobs_table_sets_every_two_networks_of_a_budget_against_each_other(tmp_path):
    """studies/tables.py knobs: within a budget every pair, naming what differs (the knob a
    control isolates) and the first's gain paired by seed; networks of another budget are
    never paired with them; on bits per character lower is better."""
    write_search(tmp_path, (
        ("conventional", 16, 64, 1000, 2000, (2.00, 2.10, 2.05)),
        ("hourglass", 24, 12, 1010, 1990, (1.98, 2.08, 2.03)),  # 0.02 lower at every seed
        ("hourglass", 24, 6, 1005, 2100, (1.99, 2.06, 2.06)),  # differs in inner only
        ("conventional", 32, 128, 4000, 8000, (1.80, 1.85, 1.82))), task="lm",
        metric="test_bpc")
    rows = [line for line in tables.knob_pairs(tmp_path).splitlines()[2:]]
    assert len(rows) == 3  # three networks in the first budget; the second has one
    row = next(r for r in rows if "hourglass 24/12/2" in r and "conventional" in r)
    assert ("| 16/64/2 | hourglass 24/12/2 (lr 0.001) | conventional 16/64/2 (lr 0.001) | "
            "shape conventional -> hourglass; inner_dim 64 -> 12; skip_dim 16 -> 24 | "
            "1.010 | 0.995 | 0.020 [0.020, 0.020], paired, 3 seeds |") in row
    inner = next(r for r in rows if "hourglass 24/6/2" in r and "hourglass 24/12/2" in r)
    assert "| hourglass 24/6/2 (lr 0.001) | hourglass 24/12/2 (lr 0.001) | inner_dim 12 -> 6 |" \
        in inner and inner.endswith("paired, 3 seeds; a tie |")


def test_the_ablation_table_gives_each_knob_its_gain_the_way_the_metric_improves(tmp_path):
    """studies/tables.py ablation: on bits per character (lower is better) a knob that lowers
    it by 0.02 on both seeds gains +0.020; a noisy one is a tie; a shape without the knob's
    runs shows dashes."""
    def run(name, bpc):
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps({"task": "lm"}))
        (d / "metrics.json").write_text(json.dumps({"eval_bpc": bpc, "test_bpc": 9.0}))

    for seed, base in ((0, 2.10), (1, 2.20)):
        run(f"conventional-base-s{seed}", base)
        run(f"conventional-muon-s{seed}", base - 0.02)
        run(f"conventional-noisy-s{seed}", base + (0.05, -0.04)[seed])
        run(f"hourglass-base-s{seed}", base)
    text = tables.ablation(tmp_path)
    assert "| conventional: eval bits per character (seeds) | conventional: gain over base |" \
        in text
    muon = next(line for line in text.splitlines() if line.startswith("| muon |"))
    assert "| 2.130 (2) | +0.020 [+0.020, +0.020], paired, 2 seeds | — | — |" in muon
    assert "tie" in next(line for line in text.splitlines() if line.startswith("| noisy |"))
    (tmp_path / "vit-base-s0").mkdir()
    (tmp_path / "vit-base-s0" / "config.json").write_text(json.dumps({"task": "classify"}))
    (tmp_path / "vit-base-s0" / "metrics.json").write_text(json.dumps({"eval_accuracy": 0.5}))
    with pytest.raises(SystemExit, match="one task"):
        tables.ablation(tmp_path)


def test_the_curves_table_says_which_networks_still_improve(tmp_path):
    """studies/curves.py: each network's best epoch per seed and its gain over the last
    epoch and the last quarter, signed so that a falling loss is a positive gain; only
    finished trials at the full length count; --csv holds every epoch of each."""
    trials = [("conventional-z64-h256-L4-lr0.001-s0-e8", 0.001, 0, 8, "complete",
               [3.0, 2.5, 2.3, 2.2, 2.15, 2.1, 2.05, 2.0]),  # still falling
              ("conventional-z64-h256-L4-lr0.001-s1-e8", 0.001, 1, 8, "complete",
               [3.0, 2.5, 2.3, 2.2, 2.15, 2.1, 2.05, 2.0]),
              ("hourglass-z96-h76-L4-K2-lr0.002-s0-e8", 0.002, 0, 8, "complete",
               [3.0, 2.4, 2.2, 2.1, 2.2, 2.3, 2.4, 2.5]),  # best at epoch 4, then overfits
              ("hourglass-z96-h76-L4-K2-lr0.001-s0-e2", 0.001, 0, 2, "complete", [3.0, 2.9]),
              ("hourglass-z96-h76-L4-K2-lr0.001-s0-e8", 0.001, 0, 8, "failed", [])]
    with open(tmp_path / "trials.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "lr", "seed", "epochs", "status", "params", "embedding_params"])
        for key, lr, seed, epochs, status, bpc in trials:
            w.writerow([key, lr, seed, epochs, status, 1100 if "conv" in key else 1090, 100])
            run = tmp_path / "runs" / key
            run.mkdir(parents=True)
            (run / "config.json").write_text(json.dumps({"task": "lm"}))
            (run / "history.csv").write_text("epoch,eval_loss,eval_bpc,seconds\n" + "".join(
                f"{i + 1},{b * 0.69:.4f},{b},{10 * (i + 1)}\n" for i, b in enumerate(bpc)))
    found, metric = curves.curves(tmp_path)
    assert [c.key for c in found] == [t[0] for t in trials[:3]]
    text = curves.plateau(found, metric)
    assert "| conventional-z64-h256-L4 | 0.001 | 2 | 8, 8 | +0.050 | +0.100 | 2.000 |" in text
    assert "| hourglass-z96-h76-L4-K2 | 0.002 | 1 | 4 | -0.100 | -0.200 | 2.500 |" in text
    curves.write_csv(found, metric, tmp_path / "curves.csv")
    rows = list(csv.DictReader((tmp_path / "curves.csv").open()))
    assert len(rows) == 24 and rows[-1]["eval_bpc"] == "2.5" and rows[-1]["epoch"] == "8"
    assert found[0].size == 1000 and found[2].size == 990
    curves.plot(found, metric, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_attention_stats_tell_uniform_from_collapsed_attention():
    """studies/attention.py: equal logits give the uniform entropy (log of the keys a query
    sees, fewer under the causal mask), one key far ahead of the rest an entropy near 0."""
    import torch
    zeros = torch.zeros(2, 4, 8, 16)
    flat = attention.stats_of(zeros, zeros)
    assert flat.entropy == pytest.approx(math.log(8)) == pytest.approx(flat.max_entropy)
    assert flat.top_weight == pytest.approx(1 / 8) and flat.logit_max == 0
    causal = attention.stats_of(zeros, zeros, is_causal=True)
    assert causal.max_entropy == pytest.approx(sum(math.log(i) for i in range(1, 9)) / 8)
    assert causal.entropy == pytest.approx(causal.max_entropy)
    k = torch.zeros(1, 1, 8, 16)
    k[..., 3, 0] = 100.0  # every query meets key 3 with a logit of 100 / 4, the others 0
    q = torch.zeros(1, 1, 8, 16)
    q[..., 0] = 1.0
    sharp = attention.stats_of(q, k)
    assert sharp.entropy < 1e-6 and sharp.top_weight == pytest.approx(1.0)
    assert sharp.logit_max == pytest.approx(25.0)


def test_attention_stats_read_every_layer_of_a_trained_run(tmp_path):
    """studies/attention.py on a real run: one row per attention layer, in range."""
    from hourglass.training import TrainConfig, train
    cfg = TrainConfig(family="lm", task="lm", dataset="moby-dick", skip_dim=32, inner_dim=64,
                      depth=3, arch={"heads": 2}, context=32, epochs=1, batch_size=16,
                      train_limit=64, eval_limit=16)
    train(cfg, tmp_path / "run", progress=False)
    found = attention.attention_stats(tmp_path / "run", rows=8)
    assert len(found) == 3
    for s in found:
        assert 0 < s.entropy <= s.max_entropy + 1e-6 and 0 < s.top_weight <= 1
        assert s.max_entropy == pytest.approx(sum(math.log(i) for i in range(1, 33)) / 32)


def test_a_saved_study_resumes_on_a_new_machine_without_training_its_finished_trials(tmp_path):
    """studies/progress.py: what `save` keeps (the journal and each finished run's records, no
    checkpoint) lets the same search, restored into an empty runs folder, find every trial
    finished: trials.csv comes back the same, with no training. A trial the journal shows
    running is failed on restore, so that it trains again; a torn last record is not saved."""
    import optuna
    from conftest import ROOT, tiny
    from optuna.storages.journal import JournalFileBackend

    from hourglass.search import SearchOptions, load_space, search

    space = tiny(tmp_path)
    out, kept = tmp_path / "machine-1" / "tiny", tmp_path / "progress"
    search(str(space), load_space(str(space)), out, SearchOptions(progress=False))
    before = (out / "trials.csv").read_text()
    with open(out / "journal.log", "ab") as f:
        f.write(b'{"op_code": 5, "worker_id"')  # a worker killed in mid-write
    assert progress.save(out, kept) == 10
    assert (kept / "journal.log").read_bytes().endswith(b"}\n")
    assert not list(kept.rglob("*.safetensors")) and len(list(kept.rglob("history.csv"))) == 10
    if shutil.which("git") and (ROOT / ".git").exists():  # kept in studies/NAME/progress:
        # every file is one git commits
        for f in (p for p in kept.rglob("*") if p.is_file()):
            path = ROOT / "studies" / "a-study" / "progress" / f.relative_to(kept)
            ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "--no-index",
                                      str(path)])
            assert ignored.returncode == 1, f"git ignores {path.relative_to(ROOT)}"

    again = tmp_path / "machine-2" / "tiny"
    assert progress.restore(kept, again) == (10, 0)
    search(str(space), load_space(str(space)), again, SearchOptions(progress=False))
    assert (again / "trials.csv").read_text() == before  # same numbers and seconds: none rerun
    assert not list(again.rglob("*.safetensors"))

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(kept / "journal.log")))
    optuna.load_study(study_name=storage.get_all_studies()[0].study_name,
                      storage=storage).ask()  # a trial whose worker died with machine 1
    third = tmp_path / "machine-3" / "tiny"
    assert progress.restore(kept, third) == (10, 1)
    assert progress.restore(kept, third) == (0, 0)  # its own journal is never touched again
    with pytest.raises(SystemExit, match="no saved progress"):
        progress.restore(tmp_path / "nothing", third)
    run = next(kept.rglob("history.csv")).parent  # interrupted here, finished on machine 1
    cut = tmp_path / "machine-4" / "tiny" / run.relative_to(kept)
    cut.mkdir(parents=True)
    (cut / "history.csv").write_text("epoch,train_loss\n1,0.5\n")
    for name in ("model.safetensors", "trainer.safetensors"):
        (cut / name).write_bytes(b"weights of epoch 1")
    progress.restore(kept, tmp_path / "machine-4" / "tiny")
    assert (cut / "history.csv").read_text() == (run / "history.csv").read_text()
    assert not list(cut.glob("*.safetensors"))  # eval must not score the unfinished weights
