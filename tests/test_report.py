"""The main job end to end, and its report as a real browser shows it."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require
from PIL import Image

from hourglass.cli.main import main
from hourglass.report.tables import metric_label, quality

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module", params=["mlp", "vit", "lm"])
def compared(request, tmp_path_factory):
    """`hourglass compare` on each family's default space. The MLP's budget is an hour, so
    its search always runs to its end (its halving grid takes about 100 s here); the ViT's
    and LM's is one minute, which ends their searches early on any machine: compare then
    trains each shape's best unit so far to full length, so both reports hold both shapes
    however fast the machine is (test_search.py holds the budget's own promise)."""
    out = tmp_path_factory.mktemp("compare") / "out"
    minutes = "60" if request.param == "mlp" else "1"
    family = [] if request.param == "mlp" else ["--family", request.param]
    family += ["--budget-minutes", minutes, "--workers", "2"]  # CI has 2 cores
    r = subprocess.run([sys.executable, "-m", "hourglass", "compare", *family, "--out", str(out),
                        "--quiet"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.integration
def test_compare_with_defaults_writes_every_result(compared, request):
    out = compared
    text = (out / "summary.md").read_text()
    if request.node.callspec.params["compared"] == "mlp":  # the MLP's grid, run to its end,
        # holds each frontier's learning rates inside it: no warning about itself (cut after a
        # minute, the ViT's and LM's frontiers come from short rungs, where the largest lr leads)
        assert "learning rate tried" not in text and "after it" not in text
    for name in ("trials.csv", "frontier.json", "frontier.png", "report.html", "summary.md"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "frontier.json").read_text())
    assert set(summary["frontiers"]) == {"hourglass", "conventional"}
    assert all(summary["frontiers"][s] for s in ("hourglass", "conventional"))
    assert summary["compute"] < 0.4 * summary["grid_compute"]


@pytest.mark.integration
def test_markdown_summary_holds_each_frontier_point(compared):
    out = compared
    summary = json.loads((out / "frontier.json").read_text())
    text = (out / "summary.md").read_text()
    assert "![frontier](frontier.png)" in text
    for shape, front in summary["frontiers"].items():
        section = text.split(f"## {shape} frontier\n")[1].split("\n## ")[0]
        rows = [r for r in section.splitlines() if r.startswith("| ") and "---" not in r][1:]
        assert len(rows) == len(front)
        for row, c in zip(rows, front, strict=True):
            cells = [v.strip() for v in row.strip("|").split("|")]
            assert cells[0] == c["label"]
            assert cells[1] == f"{c['params']:,}" and cells[2] == quality(summary, c["mean"])
            assert float(cells[6]) > 0 and float(cells[7]) > 0  # latency, batch 1 and 128


def chromium(args, tmp_path, timeout=120):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.integration
def test_report_renders_in_a_real_browser(compared, tmp_path):
    require(CHROMIUM is not None, "no chromium (CI installs Debian's chromium)")
    out = compared
    page = (out / "report.html").as_uri()
    dom = chromium(["--virtual-time-budget=3000", "--dump-dom", page], tmp_path).stdout
    loaded = re.search(r'data-images-ok="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load script did not run"
    ok, total = map(int, loaded.groups())
    summary = json.loads((out / "frontier.json").read_text())
    # the frontier plot, and for image tasks one sample grid per shape, all decoded
    assert ok == total >= (3 if summary["metric"] == "test_psnr" else 1)
    if summary["metric"] == "test_bpc":
        assert not summary["higher_is_better"] and "(lower is better)" in dom
    for text in ("hourglass frontier", "conventional frontier", "Hypervolume", "Scaling",
                 f"{metric_label(summary)}, mean"):  # labelled in the family's metric
        assert text in dom
    shot = tmp_path / "shot.png"
    chromium(["--window-size=1200,1600", f"--screenshot={shot}", page], tmp_path)
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels.std() > 20  # not a blank page
    orange = ((pixels[..., 0] > 180) & (pixels[..., 1] < 120) & (pixels[..., 2] < 60)).sum()
    blue = ((pixels[..., 2] > 180) & (pixels[..., 0] < 80)).sum()
    assert orange > 500 and blue > 500  # both shapes' frontiers are drawn


def test_report_of_a_folder_that_is_not_a_search(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a search directory" in capsys.readouterr().err


def test_a_one_shape_search_reports_no_comparison_with_an_absent_shape():
    from hourglass.report.markdown import render_markdown
    from hourglass.search.frontier import summarize

    rows = [{"status": "complete", "epochs": 2, "shape": "hourglass", "skip_dim": z,
             "inner_dim": 8, "depth": 1, "lr": 1e-3, "params": p, "test_psnr": q,
             "baseline": 10.0} for z, p, q in ((32, 1000, 20.0), (64, 2000, 21.0))]
    summary = summarize(rows, "denoise", 2, 4000)
    summary.update({"space": {"name": "one", "task": "denoise", "dataset": "digits",
                              "epochs": 2, "seeds": [0], "hourglass": {"lr": [1e-4, 1e-3]}},
                    "finished": 2, "failed": 0, "compute": 6000, "grid_compute": 6000})
    text = render_markdown(summary)
    assert text.startswith("# one: hourglass only, denoise on digits")
    assert "At equal quality" not in text and "| 64/8/1 | 2,000 | 21.00 | — |" in text
    assert "2 of 2 points took the largest learning rate tried for them (0.001)" in text
    # an lr past the grid's end that did worse (lr-then-seeds' lr_extend) takes the warning off
    rows += [{**rows[1], "lr": 2e-3, "test_psnr": 20.5}]
    summary = {**summary, **summarize(rows, "denoise", 2, 4000)}
    text = render_markdown(summary)
    assert "1 of 2 points took the largest" not in text and "2 of 2" not in text


def test_the_report_names_finished_trials_that_ended_below_the_baseline():
    from hourglass.report.markdown import render_markdown
    from hourglass.search.frontier import summarize

    rows = [{"status": "complete", "epochs": 2, "shape": "hourglass", "skip_dim": 32,
             "inner_dim": 8, "depth": 1, "lr": lr, "seed": 0, "params": 1000, "test_psnr": q,
             "baseline": 10.0} for lr, q in ((1e-3, 20.0), (1e-2, 9.5), (3e-2, 9.0))]
    summary = summarize(rows, "denoise", 2, 4000)
    assert [(t["lr"], t["value"]) for t in summary["below_baseline"]] == [(1e-2, 9.5),
                                                                          (3e-2, 9.0)]
    summary.update({"space": {"name": "low", "task": "denoise", "dataset": "digits",
                              "epochs": 2, "seeds": [0]},
                    "finished": 3, "failed": 0, "compute": 6000, "grid_compute": 6000})
    assert ("2 finished trials ended below the do-nothing baseline (10.00): 1 at lr 0.01, "
            "1 at lr 0.03.") in render_markdown(summary)
    rows[1]["test_psnr"] = rows[2]["test_psnr"] = 10.5
    summary.update(summarize(rows, "denoise", 2, 4000))
    assert summary["below_baseline"] == [] and "below" not in render_markdown(summary)


def test_the_below_baseline_note_counts_only_the_top_rung():
    from hourglass.report.markdown import render_markdown
    from hourglass.search.frontier import summarize

    rows = [{"status": "complete", "epochs": e, "shape": "hourglass", "skip_dim": 32,
             "inner_dim": 8, "depth": 1, "lr": 1e-3, "seed": 0, "params": 1000,
             "test_psnr": q, "baseline": 10.0} for e, q in ((1, 9.0), (3, 9.5), (9, 20.0))]
    summary = summarize(rows, "denoise", 9, 4000)
    summary.update({"space": {"name": "halving", "task": "denoise", "dataset": "digits",
                              "epochs": 9, "seeds": [0]},
                    "finished": 3, "failed": 0, "compute": 13000, "grid_compute": 27000})
    assert summary["below_baseline"] == [] and summary["below_baseline_low_rungs"] == 2
    assert "below" not in render_markdown(summary)
    rows[2]["test_psnr"] = 9.9
    summary.update(summarize(rows, "denoise", 9, 4000))
    text = render_markdown(summary)
    assert "1 finished trial ended below the do-nothing baseline (10.00): 1 at lr 0.001." in text


def test_frontier_labels_of_crowded_crossing_frontiers_do_not_overlap():
    import matplotlib.pyplot as plt

    from hourglass.report.plot import _place_labels

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    # two shapes' points a few percent apart in params and 0.02 dB apart in quality
    pts = [(4.0e6 * 1.03 ** i, 27.0 + 0.02 * (i % 3), "hourglass" if i % 2 else "conventional")
           for i in range(8)]
    ax.scatter([p for p, _, _ in pts], [q for _, q, _ in pts], label="points")
    ax.set_xscale("log")
    ax.set_ylim(25, 28)
    ax.legend(loc="lower right")
    _place_labels(fig, ax, [(f"{s}-{i}", p, q, "k") for i, (p, q, s) in enumerate(pts)])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    frame = ax.get_window_extent(renderer)
    plt.close(fig)
    assert len(boxes) == 8
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 for b in boxes)


def test_an_overlay_names_each_search_s_series_and_drops_none(tmp_path):
    from hourglass.report.overlay import merge, overlay_markdown

    def search(name: str, fronts: dict) -> Path:
        d = tmp_path / name
        d.mkdir()
        configs = [{**c, "shape": s} for s, f in fronts.items() for c in f]
        (d / "frontier.json").write_text(json.dumps({
            "space": {"name": name, "task": "classify", "dataset": "digits"},
            "metric": "test_accuracy", "higher_is_better": True,
            "reference_point": {"quality": 0.1}, "frontiers": fronts,
            "frontiers_by_flops": {}, "configurations": configs}))
        return d

    def point(params: int, mean: float) -> dict:
        return {"skip_dim": 8, "inner_dim": 2, "depth": 1, "lr": 1e-3, "params": params,
                "flops": 10 * params, "mean": mean}

    conv = [point(100, 0.8)]
    mlp = search("mlp", {"hourglass": [point(50, 0.7)], "conventional": conv})
    vit = search("vit", {"hourglass": [point(60, 0.9)], "conventional": [point(90, 0.85)]})
    same = search("same-conv", {"hourglass": [point(70, 0.75)], "conventional": conv})
    empty = search("empty", {})
    merged = merge([mlp, vit, same, empty])
    assert list(merged["frontiers"]) == ["hourglass", "conventional", "hourglass (vit)",
                                         "conventional (vit)", "hourglass (same-conv)"]
    text = overlay_markdown(merged, [mlp, vit, same, empty])
    assert "# Frontiers of 4 searches" in text and "| conventional (vit) |" in text
    assert f"Not shown: {empty}: no trial has finished at full epochs yet." in text
