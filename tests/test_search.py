import csv
import json
import os
import re
import signal
import time

import pytest
from conftest import rows, run_search, tiny

from hourglass.cli.main import main
from hourglass.core.errors import UserError
from hourglass.search import SearchOptions, load_space, search
from hourglass.search.builtins import BUILTINS
from hourglass.search.space import Unit, rung_epochs
from hourglass.training.machine import cpu_name


# ---- spaces ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_space_is_valid(name):
    space = load_space(name)
    assert space.units() and set(space.shapes) == {"hourglass", "conventional"}
    for a in space.archs():
        assert (a.inner_dim < a.skip_dim) == (a.shape == "hourglass")


@pytest.mark.parametrize("edit,match", [
    (("inner_dim = [8]", "inner_dim = [8, 48]"), "every hourglass inner_dim must be below"),
    (("depth = [1, 2]", "depth = []"), "empty"),
    (("seeds = [0, 1]", "seeds = [0, 1]\nwidth = 3"), "unknown keys width"),
    (('task = "denoise"', 'task = "inpaint"'), "unknown task"),
    (("epochs = 2", "epochs = 0"), "must be positive"),
    (("[conventional]", "[conventional"), "not valid TOML"),
])
def test_invalid_spaces_are_refused_before_training(tmp_path, capsys, edit, match):
    path = tiny(tmp_path)
    path.write_text(path.read_text().replace(*edit))
    assert main(["search", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_rungs():
    assert rung_epochs(9, 3) == [1, 3, 9]
    assert rung_epochs(30, 3) == [1, 3, 10, 30]
    assert rung_epochs(2, 3) == [2]


# ---- searches -------------------------------------------------------------------------------
@pytest.mark.integration
def test_grid_search_runs_every_configuration_once_and_resumes(tmp_path):
    space = tiny(tmp_path)
    out = tmp_path / "out"
    summary = search(str(space), load_space(str(space)), out, SearchOptions(progress=False))
    got = rows(out)
    assert len(got) == 10 and len({r["key"] for r in got}) == 10
    assert all(r["status"] == "complete" for r in got)
    assert all(re.fullmatch(rf"{re.escape(cpu_name())} x\d+", r["machine"]) for r in got)
    assert set(summary["frontiers"]) == {"hourglass", "conventional"}
    assert summary["compute"] == summary["grid_compute"]
    again = search(str(space), load_space(str(space)), out, SearchOptions(progress=False))
    assert rows(out) == got and again["compute"] == summary["compute"]


@pytest.mark.integration
def test_an_lr_then_seeds_search_runs_the_second_seed_at_one_lr_per_network(tmp_path):
    space = tiny(tmp_path, lr="3e-3, 1e-3")  # 4 hourglass networks x 2 lrs, 1 conventional
    out = tmp_path / "out"
    summary = search(str(space), load_space(str(space)), out,
                     SearchOptions(strategy="lr-then-seeds", progress=False))
    got = rows(out)
    assert len(got) == 9 + 5 and all(r["status"] == "complete" for r in got)
    def net(r):
        return r["shape"], int(r["skip_dim"]), int(r["inner_dim"]), int(r["depth"])

    second = [net(r) for r in got if r["seed"] == "1"]
    assert len(second) == len(set(second)) == 5  # one lr per network
    # the report's network is the one its second seed ran at
    at = {(*net(r), float(r["lr"])) for r in got if r["seed"] == "1"}
    for c in summary["configurations"]:
        assert c["seeds"] == 2 and (*net(c), c["lr"]) in at


@pytest.mark.integration
def test_lr_extend_added_to_a_finished_search_tries_past_each_best_grid_end(tmp_path):
    """A finished lr-then-seeds search run again with lr_extend = 1 keeps every trial and
    trains, for each network whose best lr is an end of its grid (with 2 lrs: each), the next
    lr past that end at the first seed, then its other seeds where that lr won."""
    space = tiny(tmp_path, epochs=1, lr="3e-3, 1e-3")
    out = tmp_path / "out"
    search(str(space), load_space(str(space)), out, SearchOptions(strategy="lr-then-seeds",
                                                                  progress=False))
    before = {r["key"]: r for r in rows(out)}
    space.write_text("lr_extend = 1\n" + space.read_text())
    summary = search(str(space), load_space(str(space)), out,
                     SearchOptions(strategy="lr-then-seeds", progress=False))
    after = {r["key"]: r for r in rows(out)}
    assert {k: after[k] for k in before} == before
    new = [after[k] for k in set(after) - set(before)]
    def net(r):
        return r["shape"], int(r["skip_dim"]), int(r["depth"])

    def eval_psnr(r):
        return json.loads((out / "runs" / r["key"] / "metrics.json").read_text())["eval_psnr"]

    best = {}  # each network's best grid lr on the eval split
    for r in sorted(before.values(), key=eval_psnr):
        if r["seed"] == "0":
            best[net(r)] = float(r["lr"])
    past = {net(r): float(r["lr"]) for r in new if r["seed"] == "0"}
    assert len(past) == 4  # the hourglasses; the conventional network has one lr
    assert all(lr == (9e-3 if best[n] == 3e-3 else 3.33333e-4) for n, lr in past.items())
    chosen = {(c["shape"], c["skip_dim"], c["depth"]): c["lr"] for c in summary["configurations"]}
    for r in new:
        if r["seed"] == "1":  # the lr past the end won: its seeds train there
            assert chosen[net(r)] == float(r["lr"]) == past[net(r)]


@pytest.mark.integration
def test_a_search_widens_its_grid_and_trains_only_what_it_adds(tmp_path):
    out = tmp_path / "out"
    space = tiny(tmp_path)
    search(str(space), load_space(str(space)), out, SearchOptions(progress=False))
    before = {r["key"]: r for r in rows(out)}
    wider = tiny(tmp_path, lr="3e-3, 1e-3")
    summary = search(str(wider), load_space(str(wider)), out, SearchOptions(progress=False))
    after = {r["key"]: r for r in rows(out)}
    assert len(before) == 10 and len(after) == 18  # 4 architectures x 2 seeds at the new lr
    assert {k: after[k] for k in before} == before  # finished trials kept, not retrained
    assert {float(after[k]["lr"]) for k in set(after) - set(before)} == {1e-3}
    assert len({(r["shape"], r["number"]) for r in after.values()}) == 18
    assert summary["compute"] == summary["grid_compute"]
    again = search(str(wider), load_space(str(wider)), out, SearchOptions(progress=False))
    assert {r["key"]: r for r in rows(out)} == after and again["compute"] == summary["compute"]
    for changed in (tiny(tmp_path, epochs=3), tiny(tmp_path, lr="3e-3")):  # narrower: refused
        with pytest.raises(UserError, match="only adds values to its lists"):
            search(str(changed), load_space(str(changed)), out, SearchOptions(progress=False))


@pytest.mark.integration
def test_a_widened_nsga2_search_samples_with_the_earlier_results_known(tmp_path):
    from hourglass.search.store import Store

    out = tmp_path / "out"
    space = tiny(tmp_path)
    search(str(space), load_space(str(space)), out, SearchOptions(progress=False))
    before = rows(out)
    store = Store(load_space(str(tiny(tmp_path, lr="3e-3, 1e-3"))), out, None)
    new = store.studies["hourglass"].get_trials()
    assert len(new) == sum(r["shape"] == "hourglass" for r in before) == 8
    assert all(t.user_attrs["repeat"] for t in new)
    assert sorted(t.values[1] for t in new) == sorted(
        float(r["test_psnr"]) for r in before if r["shape"] == "hourglass")
    summary = search(str(tiny(tmp_path, lr="3e-3, 1e-3")), store.space, out,
                     SearchOptions(strategy="nsga2", max_trials=7, progress=False))
    after = rows(out)  # the copies are no rows; 2 new units (x 2 seeds), at the new lr
    assert [r for r in after if r["key"] in {b["key"] for b in before}] == before
    assert len(after) == len(before) + 4 and summary["finished"] == len(after)
    assert {float(r["lr"]) for r in after[len(before):]} == {1e-3}
    reopened = Store(store.space, out, None).studies["hourglass"].get_trials()
    assert sum(t.user_attrs.get("repeat", False) and "metrics" in t.user_attrs
               for t in reopened) == 8  # copied once, not again on each reopening


@pytest.mark.integration
def test_a_diverging_configuration_fails_with_its_reason_and_the_search_goes_on(tmp_path):
    space = tiny(tmp_path, lr="1e4")
    out = tmp_path / "out"
    search(str(space), load_space(str(space)), out, SearchOptions(progress=False))
    got = rows(out)
    failed = [r for r in got if r["status"] == "failed"]
    assert len(failed) == 8 and all("diverged" in r["failure"] for r in failed)
    assert [r["status"] for r in got if r["shape"] == "conventional"] == ["complete"] * 2


@pytest.mark.integration
@pytest.mark.parametrize("strategy", ["random", "nsga2", "pareto-halving"])
def test_other_strategies_finish(tmp_path, strategy):
    space = tiny(tmp_path, epochs=3)
    out = tmp_path / "out"
    summary = search(str(space), load_space(str(space)), out,
                     SearchOptions(strategy=strategy, max_trials=4, progress=False))
    keys = [r["key"] for r in rows(out)]
    assert len(keys) == len(set(keys)) and summary["finished"] >= 2


@pytest.mark.integration
def test_a_killed_search_resumes_without_repeating_finished_trials(tmp_path):
    space = tiny(tmp_path, epochs=12)
    out = tmp_path / "out"
    proc = run_search(space, "--out", out, wait=False)
    deadline = time.time() + 600  # a hang guard: the kill waits for progress, not a time
    while not ((out / "trials.csv").exists() and len(rows(out)) >= 3):
        assert time.time() < deadline and proc.poll() is None, "no three trials started"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {r["key"]: r for r in rows(out) if r["status"] == "complete"}
    assert before, "the search was killed before any trial finished"
    assert len(before) < 10, "the search ended before the kill"
    r = run_search(space, "--out", out)
    assert r.returncode == 0, r.stderr
    after = rows(out)
    assert len(after) == 10 and len({x["key"] for x in after}) == 10
    assert all(x["status"] == "complete" for x in after)
    for x in after:  # finished trials were kept as they were, not rerun
        if x["key"] in before:
            assert x["number"] == before[x["key"]]["number"]
            assert x["seconds"] == before[x["key"]]["seconds"]


def test_bad_search_options_are_refused(tmp_path, capsys):
    space = tiny(tmp_path)
    assert main(["search", str(space), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    with pytest.raises(UserError, match="postgresql://"):
        search(str(space), load_space(str(space)), tmp_path / "o",
               SearchOptions(storage="mysql://x", progress=False))


def test_search_workers_take_fewer_threads_when_omp_num_threads_says_so(monkeypatch):
    from hourglass.search.runner import threads_per_worker

    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert (threads_per_worker(1), threads_per_worker(2)) == (4, 2)
    for env, expected in (("1", 1), ("8", 2), ("x", 2), ("0", 2)):
        monkeypatch.setenv("OMP_NUM_THREADS", env)
        assert threads_per_worker(2) == expected, env


def test_a_trial_whose_worker_died_before_labelling_it_is_run_again(tmp_path, monkeypatch):
    # a kill between ask() and the worker's labels left a running trial nobody reaped, and
    # every later search waited for it forever
    from hourglass.search import store as store_mod
    from hourglass.search.store import Store, distributions

    store = Store(load_space(str(tiny(tmp_path))), tmp_path / "out", None)
    study = store.studies["hourglass"]
    arch = next(a for a in store.space.archs() if a.shape == "hourglass")
    study.enqueue_trial({**arch.values, "lr": 3e-3}, user_attrs={"key": "k", "seed": 0,
                                                                  "epochs": 2})
    orphan = study.ask(distributions(store.space, "hourglass"))  # ... and its worker died
    live = store.claim(Unit(arch, 3e-3), 1, 2)  # labelled by this live process
    assert store.reap_dead_workers() == 0  # just popped: its worker may still label it
    monkeypatch.setattr(store_mod, "ORPHAN_S", -1)
    assert store.reap_dead_workers() == 1
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states[orphan.number] == "FAIL" and states[live.number] == "RUNNING"


def test_a_claimed_trial_trains_what_it_is_even_if_another_was_enqueued_first(tmp_path,
                                                                               monkeypatch):
    """A worker killed between enqueueing its trial and asking for it leaves a waiting trial;
    the next claim receives that one, and must train it under its own key (the killed search
    once trained seed 0 into seed 1's folder)."""
    from hourglass.search import runner
    from hourglass.search.store import Store, trial_key
    from hourglass.search.strategies import Job

    space = load_space(str(tiny(tmp_path)))
    store = Store(space, tmp_path / "out", None)
    a, b = [u for u in space.units() if u.arch.shape == "hourglass"][:2]
    study = store.studies["hourglass"]
    study.enqueue_trial({**a.arch.values, "lr": a.lr},  # left by a killed worker
                        user_attrs={"key": trial_key(a, 1, 2), "seed": 1, "epochs": 2})
    trained = []
    monkeypatch.setattr(runner, "run_trial", lambda s, job, trial, *rest: trained.append(
        (job, trial.user_attrs["key"])))
    runner._claim_and_run(store, Job(b, 0, 2), tmp_path / "out", None,
                          SearchOptions(progress=False))
    (job, key), = trained
    assert key == trial_key(a, 1, 2) == trial_key(job.unit, job.seed, job.epochs)


def test_a_vit_search_records_its_trials_though_a_later_dim_is_in_none_of_them(tmp_path):
    """The ViT's conv dim is optional (Dim.optional): at its default it is no parameter of
    the search, and the store must still read those trials back (it once skipped them all,
    so a ViT search recorded nothing)."""
    space = tmp_path / "vit.toml"
    space.write_text('name = "vit-one"\ntask = "classify"\ndataset = "digits"\nfamily = "vit"\n'
                     'epochs = 1\nbatch_size = 64\nseeds = [0]\n'
                     '[hourglass]\nskip_dim = [32]\ninner_dim = [8]\ndepth = [1]\nheads = [2]\n'
                     'patch = [2]\nlr = [3e-3]\n')
    search(str(space), load_space(str(space)), tmp_path / "s",
           SearchOptions(progress=False, max_trials=1, time_budget_min=0.5))
    rows = list(csv.DictReader((tmp_path / "s" / "trials.csv").open()))
    assert [(r["status"], r["key"]) for r in rows] == [
        ("complete", "hourglass-z32-h8-L1-K1-a0-nh2-p2-lr0.003-s0-e1")]
