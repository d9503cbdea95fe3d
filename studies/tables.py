"""Markdown tables for docs/results that one search report cannot give.

    python studies/tables.py full-recipe SEARCH_DIR FULL_DIR
        each full-recipe run (studies/full_recipe.sh) next to the same
        configuration in the shortened search
    python studies/tables.py projection LEARNED_SEARCH_DIR FROZEN_SEARCH_DIR
        the same Hourglass architectures with a learned and a frozen W_in: quality, trained
        parameters, training time, checkpoint size
    python studies/tables.py runs-csv RUNS_DIR|RUNS_CSV [...]
        every finished run directly below the folders, one CSV row each (docs/results/*/runs.csv),
        with the rows of any runs.csv named: runs trained in several places make one file
    python studies/tables.py seeds RUNS_CSV
        mean +- std over seeds per network and recipe (augmentation, batch, lr), from a runs.csv
    python studies/tables.py budgets SEARCH_DIR
        a search over matched budgets: every network beside the conventional network whose
        parameters it matches, with both ratios (parameters and FLOPs), mean +- std over seeds
        at each lr, and the difference at the best lrs with its 95% interval over seeds
    python studies/tables.py knobs SEARCH_DIR
        within each budget of such a search, every two networks against each other: what
        differs between them and the difference with its 95% interval paired by seed
    python studies/tables.py variants FULL_DIR
        each block variant's full-recipe run beside the plain block on the same network
        (studies/mnist-variants/run.sh): the difference, and what each costs in trainable
        parameters and FLOPs per sample
    python studies/tables.py nested RUNS_DIR
        a nested run (RUNS_DIR/nested-eE) at each prefix width beside the network of that
        width trained apart (RUNS_DIR/plain-hN-eE): studies/mnist-nested/run.sh
    python studies/tables.py ablation RUNS_DIR
        each recipe knob's runs (RUNS_DIR/SHAPE-KNOB-sSEED, studies/*-recipe-ablation/run.sh)
        beside the base: the eval metric over seeds, the gain paired by seed with its 95%
        interval (positive: the knob does better), ties written as such
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
from collections import defaultdict
from operator import itemgetter
from pathlib import Path

from hourglass.report.stats import difference, gain
from hourglass.report.tables import quality
from hourglass.search.frontier import DIRECTIONS, configurations, frontier
from hourglass.tasks.base import task_spec


def _trials(search: Path) -> tuple[list[dict], int]:
    rows = list(csv.DictReader((search / "trials.csv").open()))
    epochs = json.loads((search / "frontier.json").read_text())["epochs"]
    return rows, epochs


def _row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list]) -> str:
    return "\n".join([_row(header), "|" + "---|" * len(header), *map(_row, rows)])


def full_recipe(search: Path, full: Path) -> str:
    rows, epochs = _trials(search)
    done = [r for r in rows if r["status"] == "complete"]
    first = json.loads((search / "runs" / done[0]["key"] / "config.json").read_text())
    searched = (first["task"], first["dataset"])
    out = []
    for run in sorted(p for p in full.iterdir() if (p / "metrics.json").is_file()):
        cfg = json.loads((run / "config.json").read_text())
        if (cfg["task"], cfg["dataset"]) != searched:
            print(f"error: {run} trained {cfg['task']}/{cfg['dataset']} but {search} searched "
                  f"{'/'.join(searched)}; pair each full-recipe folder with its search",
                  file=sys.stderr)
            sys.exit(2)
        m = json.loads((run / "metrics.json").read_text())
        arch = (str(cfg["skip_dim"]), str(cfg["inner_dim"]), str(cfg["depth"]))
        same = [r for r in done if (r["skip_dim"], r["inner_dim"], r["depth"]) == arch]
        at_lr = [float(r["test_psnr"]) for r in same if float(r["lr"]) == cfg["lr"]]
        best = max(same, key=lambda r: float(r["test_psnr"]), default=None)
        out.append([m["shape"], "/".join(arch), f"{m['params']:,}",
                    f"{m['test_psnr']:.2f}", m["best_epoch"], f"{m['train_seconds']:.0f}",
                    f"{at_lr[0]:.2f}" if at_lr else "—",
                    f"{float(best['test_psnr']):.2f} (lr {float(best['lr']):g})" if best
                    else "—",
                    f"{m['test_psnr'] - at_lr[0]:+.2f}" if at_lr else "—"])
    return _table(["shape", "skip/inner/depth", "params", f"test PSNR, {cfg['epochs']} epochs",
                   "best epoch", "train s", f"{epochs} epochs, same lr",
                   f"{epochs} epochs, best lr", "full - short (dB)"], out)


def _size(search: Path, r: dict) -> int:
    key = (f"{r['shape']}-z{r['skip_dim']}-h{r['inner_dim']}-L{r['depth']}-"
           f"lr{float(r['lr']):g}-s{r['seed']}-e{r['epochs']}")
    return (search / "runs" / key / "model.safetensors").stat().st_size


def _trial(rows: list[dict], arch: tuple[int, int, int], lr: float) -> dict:
    return next(r for r in rows if r["status"] == "complete" and r["shape"] == "hourglass"
                and (int(r["skip_dim"]), int(r["inner_dim"]), int(r["depth"])) == arch
                and float(r["lr"]) == lr)


def projection(learned: Path, frozen: Path) -> str:
    out = []
    (lrows, epochs), (frows, _) = _trials(learned), _trials(frozen)
    best_l = {(c["skip_dim"], c["inner_dim"], c["depth"]): c for c in
              configurations(lrows, "test_psnr", epochs) if c["shape"] == "hourglass"}
    fconfigs = configurations(frows, "test_psnr", epochs)
    on_front = {(c["skip_dim"], c["inner_dim"], c["depth"]) for c in
                frontier(fconfigs, "hourglass") + frontier(list(best_l.values()), "hourglass")}
    for c in fconfigs:
        arch = (c["skip_dim"], c["inner_dim"], c["depth"])
        if arch not in best_l or arch not in on_front:
            continue
        lc = best_l[arch]
        lr_, fr_ = _trial(lrows, arch, lc["lr"]), _trial(frows, arch, c["lr"])
        out.append(["/".join(map(str, arch)), f"{lc['params']:,}", f"{c['params']:,}",
                    f"{lc['mean']:.2f}", f"{c['mean']:.2f}", f"{c['mean'] - lc['mean']:+.2f}",
                    f"{float(fr_['seconds']) / float(lr_['seconds']):.2f}",
                    f"{_size(learned, lr_) / 1e6:.1f}", f"{_size(frozen, fr_) / 1e6:.1f}"])
    return _table(["skip/inner/depth", "trained params, learned W_in", "frozen W_in",
                   "PSNR learned", "PSNR frozen", "frozen - learned (dB)",
                   "train time frozen / learned", "checkpoint MB learned", "frozen"], out)


RUNS_COLUMNS = ["task", "dataset", "shape", "skip_dim", "inner_dim", "depth", "lr", "seed",
                "epochs", "batch_size", "augment", "test_psnr", "eval_psnr", "params",
                "split_rng", "lr_schedule", "test_checkpoint", "block"]


def _finished(folder: Path) -> list[dict]:
    return [{**json.loads((p / "config.json").read_text()),
             **json.loads((p / "metrics.json").read_text())}
            for p in sorted(folder.iterdir()) if (p / "metrics.json").is_file()]


def _run_key(r: dict) -> tuple:
    """What identifies a run: every column but its results."""
    return tuple(r[k] for k in RUNS_COLUMNS if k not in ("test_psnr", "eval_psnr", "params"))


def _cells(run: dict) -> dict[str, str]:
    """A finished run's RUNS_COLUMNS as the strings a runs.csv row holds; runs from before the
    block option were all plain."""
    run = {"block": "plain", **run}
    return {k: "" if run.get(k) is None else str(run[k]) for k in RUNS_COLUMNS}


def runs_csv(paths: list[Path]) -> str:
    """One row per finished run below each folder and per row of each runs.csv; a run found
    twice must have the same numbers both times."""
    rows: dict[tuple, dict] = {}
    for path in paths:
        if path.is_file():
            found = list(csv.DictReader(path.open()))
        else:
            found = [_cells(run) for run in _finished(path)]
        for r in found:
            if rows.setdefault(_run_key(r), r) != r:
                sys.exit(f"runs-csv: {path} holds a run with other numbers than before: {r}")
    ordered = sorted(rows.values(), key=lambda r: (
        r["task"], r["shape"], int(r["skip_dim"]), int(r["inner_dim"]), int(r["depth"]),
        float(r["lr"]), int(r["seed"]), r["augment"], int(r["batch_size"]), r["block"]))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RUNS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(ordered)
    return buf.getvalue().rstrip("\n")


def seeds(path: Path) -> str:
    """Mean ± std over seeds per network and training recipe (lr, augmentation, batch)."""
    groups: dict[tuple, list[tuple[float, float]]] = {}
    for r in csv.DictReader(path.open()):
        key = (r["shape"], int(r["skip_dim"]), int(r["inner_dim"]), int(r["depth"]),
               r.get("block") or "plain", int(r["params"]), r["augment"],
               int(r["batch_size"]), float(r["lr"]))
        groups.setdefault(key, []).append((float(r["test_psnr"]), float(r["eval_psnr"])))
    out = []
    for (shape, z, h, d, block, params, augment, batch, lr), runs in sorted(groups.items()):
        test = [t for t, _ in runs]
        spread = f" ± {statistics.stdev(test):.2f}" if len(test) > 1 else ""
        out.append([shape, f"{z}/{h}/{d}" + ("" if block == "plain" else f" {block}"),
                    f"{params:,}", augment, batch, f"{lr:g}", len(runs),
                    f"{statistics.mean(e for _, e in runs):.2f}",
                    f"{statistics.mean(test):.2f}{spread}", " ".join(f"{x:.2f}" for x in test)])
    # The eval column is what picks an lr (the paper's protocol); the test column is reported.
    return _table(["shape", "skip/inner/depth", "params", "augment", "batch", "lr", "seeds",
                   "eval PSNR", "test PSNR", "each seed"], out)


def budgets(search: Path) -> str:
    rows, epochs = _trials(search)
    summary = json.loads((search / "frontier.json").read_text())
    metric = summary["metric"]
    scores: dict[tuple[str, float], list[float]] = defaultdict(list)
    for r in rows:
        if r["status"] == "complete" and int(r["epochs"]) == epochs:
            scores[(r["key"].rsplit("-lr", 1)[0], float(r["lr"]))].append(float(r[metric]))
    configs = summary["configurations"]
    base = [c for c in configs if c["shape"] == "conventional"]
    if not base:
        sys.exit(f"budgets: {search} has no finished conventional network to set budgets")
    lrs = sorted({lr for _, lr in scores})
    out = []
    for c in sorted(configs, key=lambda c: (c["params"], c["shape"] != "conventional")):
        b = _budget_of(c, base)
        arch = c["unit"].rsplit("-lr", 1)[0]
        at = [scores.get((arch, lr), []) for lr in lrs]
        out.append([
            c["shape"], c["label"], f"{c['inner_dim'] / c['skip_dim']:.2f}", f"{c['params']:,}",
            f"{c['params'] / b['params']:.3f}", f"{c['flops'] / b['flops']:.3f}",
            *(f"{quality(summary, statistics.mean(v))}"
              + (f" ± {quality(summary, statistics.stdev(v))}" if len(v) > 1 else "")
              if v else "—" for v in at),
            "—" if c is b else _gap(summary, c, b)])
    heads = [f"lr {lr:g}" for lr in lrs]
    return _table(["shape", "network", "inner/skip", "params", "params / baseline's",
                   "FLOPs / baseline's", *heads,
                   "better than the baseline by (best lrs; 95% interval over seeds)"], out)


def _budget_of(c: dict, base: list[dict]) -> dict:
    """The conventional network whose parameters ``c`` matches: its budget."""
    return min(base, key=lambda b: abs(c["params"] / b["params"] - 1))


# a frontier.json configuration's keys that are not the network's dims
NOT_DIMS = {"shape", "label", "unit", "lr", "lrs", "params", "flops", "mean", "std", "seeds",
            "seed_scores"}


def knob_pairs(search: Path) -> str:
    """Within each budget, every two networks against each other, each at its chosen lr over
    its seeds: what differs between them (the knobs) and how much the first beats the second,
    with its 95% interval paired by seed. A study whose networks differ in one knob at a time
    (a control) reads off these rows which knob carries a difference. The conventional
    network comes second in its pairs, so a gain is the other network's over it."""
    summary = json.loads((search / "frontier.json").read_text())
    sign = DIRECTIONS[summary["metric"]]
    configs = [c for c in summary["configurations"] if c.get("seed_scores")]
    base = [c for c in configs if c["shape"] == "conventional"]
    if not base:
        sys.exit(f"knobs: {search} has no conventional network with seed scores to set budgets")
    name = lambda c: f"{c['shape']} {c['label']} (lr {c['lr']:g})"  # noqa: E731
    out = []
    for b in sorted(base, key=itemgetter("params")):
        group = sorted((c for c in configs if _budget_of(c, base) is b),
                       key=lambda c: (c["shape"] == "conventional", c["params"], c["label"]))
        for i, first in enumerate(group):
            for second in group[i + 1:]:
                knobs = [f"{k} {second.get(k)} -> {first.get(k)}"
                         for k in ("shape", *sorted((set(first) | set(second)) - NOT_DIMS), "lr")
                         if first.get(k) != second.get(k)]
                out.append([b["label"], name(first), name(second), "; ".join(knobs),
                            f"{first['params'] / second['params']:.3f}",
                            _flops_ratio(first, second),
                            gain(first, second, sign).words(lambda v: quality(summary, v, True))])
    return _table(["budget (conventional)", "first", "second", "what changes (second -> first)",
                   "params, first / second", "FLOPs, first / second",
                   "first better by (95% interval over seeds)"], out)


def _flops_ratio(a: dict, b: dict) -> str:
    return f"{a['flops'] / b['flops']:.3f}" if a.get("flops") and b.get("flops") else "—"


def _gap(summary: dict, c: dict, base: dict) -> str:
    """How much better ``c`` is than ``base``, each at its best lr, over seeds: paired by seed
    where both ran the same seeds; a tie where the interval holds 0."""
    sign = DIRECTIONS[summary["metric"]]
    if "seed_scores" not in c:  # frontier.json written before seed scores were kept
        return quality(summary, sign * (c["mean"] - base["mean"]), True)
    return gain(c, base, sign).words(lambda v: quality(summary, v, True))


def variants(full: Path) -> str:
    runs = _finished(full)
    arch = itemgetter("skip_dim", "inner_dim", "depth")
    plain = [p for p in runs if p.get("block", "plain") == "plain"]
    out = []
    for r in runs:
        if r.get("block", "plain") == "plain":
            continue
        head = [r["block"], "/".join(map(str, arch(r))), f"{r['lr']:g}", f"{r['test_psnr']:.2f}"]
        twins = [p for p in plain if p["shape"] == r["shape"] and arch(p) == arch(r)]
        if not twins:
            out.append([*head, "no plain run of this network", *["—"] * 4])
            continue
        # a network trained at two lrs (a search that gained an lr): the better on eval
        p = max(twins, key=lambda t: t["eval_psnr"])
        out.append([*head, f"{p['test_psnr']:.2f} (lr {p['lr']:g})",
                    f"{r['test_psnr'] - p['test_psnr']:+.2f}",
                    f"{r['params']:,} / {p['params']:,}", f"{r['params'] / p['params']:.2f}",
                    f"{r['flops_per_sample'] / p['flops_per_sample']:.2f}"])
    return _table(["variant", "network", "lr", "test PSNR", "plain block, same network",
                   "variant - plain (dB)", "trainable params (variant / plain)", "params ratio",
                   "FLOPs ratio"], out)


def nested(runs: Path) -> str:
    from hourglass.training import evaluate_run

    out = []
    for whole in sorted(runs.glob("nested-e*")):
        epochs = whole.name.split("-e")[1]
        plain = {json.loads((p / "config.json").read_text())["inner_dim"]: p
                 for p in runs.glob(f"plain-h*-e{epochs}") if (p / "metrics.json").is_file()}
        for h, run in sorted(plain.items()):
            m = json.loads((run / "metrics.json").read_text())
            cut = evaluate_run(whole, inner_dim=h)["test_psnr"]
            out.append([epochs, f"785/{h}/4", f"{m['params']:,}", f"{m['test_psnr']:.2f}",
                        f"{cut:.2f}", f"{cut - m['test_psnr']:+.2f}"])
    return _table(["epochs", "network", "params", "trained apart: test PSNR",
                   "nested checkpoint cut to it", "nested - apart (dB)"], out)


def ablation(runs: Path) -> str:
    """Each knob beside the base on every shape, on the eval split of the runs' task (eval
    accuracy, or eval bits per character): the gain is positive where the knob does better."""
    found: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    knobs: list[str] = []
    tasks = set()
    # base first, then the knobs by name: a run's files may come from a checkout
    # (studies/progress.py), whose times say nothing of the order they ran in
    for m in sorted(runs.glob("*/metrics.json"),
                    key=lambda m: (m.parent.name.split("-", 1)[1].rsplit("-s", 1)[0] != "base",
                                   m.parent.name)):
        shape, rest = m.parent.name.split("-", 1)
        knob, seed = rest.rsplit("-s", 1)
        task = json.loads((m.parent / "config.json").read_text())["task"]
        tasks.add(task)
        metric = task_spec(task).metric
        found[(shape, knob)][int(seed)] = json.loads(m.read_text())[metric.eval_key]
        if knob not in knobs:
            knobs.append(knob)
    if len(tasks) != 1:
        raise SystemExit(f"{runs}: an ablation is on one task, found {sorted(tasks) or 'none'}")
    sign, scale = metric.sign, 100 if metric.percent else 1

    def show(v: float) -> str:
        return f"{scale * v:.{metric.decimals}f}"

    shapes = sorted({s for s, _ in found})
    rows = []
    for knob in knobs:
        row: list = [knob]
        for shape in shapes:
            scores, base = found.get((shape, knob), {}), found.get((shape, "base"), {})
            if not scores:
                row += ["—", "—"]
                continue
            row.append(f"{show(statistics.fmean(scores.values()))} ({len(scores)})")
            common = {s: v for s, v in scores.items() if s in base}
            if knob == "base" or not common:
                row.append("—")
                continue
            d = difference({s: sign * v for s, v in common.items()},
                           {s: sign * base[s] for s in common})
            row.append(d.words(lambda v: f"{scale * v:+.{metric.decimals}f}"))
        rows.append(row)
    unit = ", points" if metric.percent else ""
    header = ["knob"] + [h for s in shapes for h in (f"{s}: {metric.eval_label} (seeds)",
                                                        f"{s}: gain over base{unit}")]
    return _table(header, rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", choices=("full-recipe", "projection", "runs-csv", "seeds",
                                      "nested", "budgets", "knobs", "variants", "ablation"))
    p.add_argument("paths", type=Path, nargs="+")
    a = p.parse_args()
    if a.table == "runs-csv":
        print(runs_csv(a.paths))
    elif a.table == "seeds":
        print(seeds(a.paths[0]))
    elif a.table in ("nested", "budgets", "knobs", "variants", "ablation"):
        print({"nested": nested, "budgets": budgets, "knobs": knob_pairs, "variants": variants,
               "ablation": ablation}[a.table](a.paths[0]))
    else:
        if len(a.paths) != 2:
            p.error(f"{a.table} takes two folders")
        print((full_recipe if a.table == "full-recipe" else projection)(*a.paths))


if __name__ == "__main__":
    main()
