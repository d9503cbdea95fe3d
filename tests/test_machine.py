"""A run records each machine it trained on: its seconds and its fp32 numbers are theirs."""

import platform

import torch
from test_train import QUICK, kill_after_epoch_2

from hourglass.search.results import machine_of
from hourglass.training import TrainConfig, loop, machine, train

XEON = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R)  Xeon(R) Processor\n"
        "\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n")


def test_the_cpu_is_named_from_cpuinfo_or_else_the_platform(tmp_path, monkeypatch):
    (tmp_path / "cpuinfo").write_text(XEON)
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "cpuinfo")
    assert machine.cpu_name() == "Intel(R) Xeon(R) Processor"
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t:\n")  # ARM's has none
    assert machine.cpu_name() == (platform.processor() or platform.machine() or "unknown")
    monkeypatch.setattr(machine, "CPUINFO", tmp_path / "missing")
    assert machine.cpu_name() == (platform.processor() or platform.machine() or "unknown")


def test_a_run_resumed_elsewhere_lists_both_machines_and_once_when_it_stays(tmp_path,
                                                                            monkeypatch):
    cfg = TrainConfig(task="denoise", **QUICK)
    here = machine.this_machine()
    assert here["threads"] == torch.get_num_threads() and here["processes"] == 1
    kill_after_epoch_2(monkeypatch, cfg, tmp_path / "moved")
    other = {**here, "cpu": "Another CPU", "threads": 7}
    monkeypatch.setattr(loop, "this_machine", lambda: other)
    got = train(cfg, tmp_path / "moved", resume=True, progress=False)
    assert got["machines"] == [here, other]
    monkeypatch.undo()

    kill_after_epoch_2(monkeypatch, cfg, tmp_path / "stayed")
    monkeypatch.undo()
    assert train(cfg, tmp_path / "stayed", resume=True, progress=False)["machines"] == [here]


def test_trials_csv_says_the_machines_in_order():
    xeon = {"cpu": "Xeon", "threads": 1, "processes": 1, "torch": "2.13.0"}
    epyc = {"cpu": "EPYC", "threads": 2, "processes": 1, "torch": "2.13.0"}
    assert machine_of([]) == ""  # a run from before machines were recorded
    assert machine_of([xeon]) == "Xeon x1"
    assert machine_of([epyc, xeon]) == "EPYC x2 then Xeon x1"
    assert machine_of([xeon, {**xeon, "torch": "2.14.0"}]) == "Xeon x1"
    assert machine_of([{**epyc, "processes": 4}]) == "EPYC x2 x4 processes"
