"""Time to quality: the default ViT and language model, the old recipe (2) against the latest
(or --new N), trained here in one run.

    python bench/time_to_quality.py [--quick | --smoke] [--data-dir DIR] [--family vit|lm]
                                    [--precision fp32|bf16] [--new N] [--recipe N]
                                    [--out DIR]

For each family the default network trains once on each recipe, with the same seed and one
thread: the conventional ViT of the recipe issue (patch 4, d_model 128, 6 layers, 4 heads, FFN
ratio 4) for 10 epochs of CIFAR-10, and `lm-char-conventional` (256/768/4) for 10 epochs of
Tiny Shakespeare. It prints every epoch's eval quality (accuracy, or nats per character)
against epochs and training seconds, then for each family the seconds and epochs each recipe
took to reach the old recipe's best, their ratio, and each recipe's test score (the
best-eval checkpoint's accuracy or nats); the curves go to
OUT/time_to_quality.png. Its first line names the CPU: seconds compare only on one machine.
--precision bf16 trains both recipes under bfloat16 autocast (about 1.5x faster on a CPU with
bfloat16 units, 12x slower on one without). --recipe N trains one recipe's runs, so that two
processes with the same --out, one per core, train both in half the time (their seconds then
both count a busy neighbour); a run finding the other's finished compares them. --quick
trains on subsets (minutes), --smoke a few steps (CI).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from common import SHARED_DATA, SMOKE_HELP, by_mode, machine  # noqa: E402

from hourglass.training import TrainConfig, train  # noqa: E402
from hourglass.training.config import LATEST_RECIPE, RECIPES  # noqa: E402

OLD_RECIPE = 2  # the paper's recipe, this tool's default before the fast recipes
NETWORKS = {
    "vit": {"family": "vit", "task": "classify", "dataset": "cifar10", "skip_dim": 128,
            "inner_dim": 512, "depth": 6, "arch": {"heads": 4, "patch": 4}},
    "lm": {"family": "lm", "task": "lm", "dataset": "tinyshakespeare", "skip_dim": 256,
           "inner_dim": 768, "depth": 4, "arch": {"heads": 4}},
}
METRIC = {"vit": ("eval_accuracy", 1), "lm": ("eval_loss", -1)}  # (column, +1 higher better)
TEST_METRIC = {"vit": "test_accuracy", "lm": "test_loss"}  # of the best-eval checkpoint


def sizes(args: argparse.Namespace, family: str) -> dict:
    """epochs, train_limit, eval_limit for the mode (limits: images, or 256-character
    windows of the text)."""
    if family == "vit":
        return by_mode(args, {"epochs": 1, "train_limit": 256, "eval_limit": 128},
                       {"epochs": 3, "train_limit": 5000, "eval_limit": 1000},
                       {"epochs": 10, "train_limit": None, "eval_limit": None})
    return by_mode(args, {"epochs": 1, "train_limit": 32, "eval_limit": 16},
                   {"epochs": 2, "train_limit": 600, "eval_limit": 100},
                   {"epochs": 10, "train_limit": None, "eval_limit": None})


def curve(run_dir: Path, family: str) -> list[tuple[int, float, float]]:
    """(epoch, training seconds, eval quality) per epoch, from the run's history.csv."""
    column, _ = METRIC[family]
    with open(run_dir / "history.csv") as f:
        return [(int(r["epoch"]), float(r["seconds"]), float(r[column]))
                for r in csv.DictReader(f)]


def first_reaching(points: list[tuple[int, float, float]], target: float,
                   sign: int) -> tuple[int, float] | None:
    for epoch, seconds, q in points:
        if sign * q >= sign * target - 1e-12:
            return epoch, seconds
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="subsets: minutes")
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP)
    ap.add_argument("--data-dir", default=str(SHARED_DATA))
    ap.add_argument("--family", choices=sorted(NETWORKS), action="append",
                    help="one family only (default: both)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="both recipes' training precision (default fp32)")
    ap.add_argument("--new", type=int, choices=RECIPES, default=LATEST_RECIPE,
                    help=f"the recipe compared with recipe {OLD_RECIPE} (default: the latest, "
                         f"{LATEST_RECIPE})")
    ap.add_argument("--recipe", type=int, choices=RECIPES, action="append",
                    help=f"train this one of the two recipes' runs only ({OLD_RECIPE} or "
                         "--new's; default: both); two processes, one per core, may share "
                         "--out, and a run finding both finished compares")
    ap.add_argument("--out", type=Path, help="where the runs and the plot go (default: a "
                                             "temporary folder)")
    args = ap.parse_args()
    pair = (OLD_RECIPE, args.new)
    if set(args.recipe or pair) - set(pair):
        ap.error(f"--recipe: one of the recipes compared, {pair[0]} or {pair[1]} (--new)")
    out = args.out or Path(tempfile.mkdtemp(prefix="time-to-quality-"))
    torch.set_num_threads(1)
    curves: dict[tuple[str, int], list] = {}
    print(f"machine: {machine()}")
    print(f"{'family':6s} {'recipe':>6s} {'epoch':>5s} {'seconds':>8s} {'eval':>8s}")
    families = args.family or sorted(NETWORKS)
    for family in families:
        for recipe in args.recipe or pair:
            cfg = TrainConfig(**NETWORKS[family], **sizes(args, family), recipe=recipe,
                              precision=args.precision, data_dir=args.data_dir)
            train(cfg, out / f"{family}-recipe{recipe}", resume=True, progress=False)
    for family in families:  # after training: another process may have finished its runs
        for recipe in pair:
            run = out / f"{family}-recipe{recipe}"
            if not (run / "metrics.json").is_file():
                continue  # another process trains it
            curves[family, recipe] = curve(run, family)
            for epoch, seconds, q in curves[family, recipe]:
                print(f"{family:6s} {recipe:6d} {epoch:5d} {seconds:8.0f} {q:8.4f}", flush=True)
    for family in families:
        _, sign = METRIC[family]
        missing = [str(r) for r in pair if (family, r) not in curves]
        if missing:
            print(f"{family}: recipe {', '.join(missing)} not finished in {out} yet: no "
                  "comparison")
            continue
        old, new = curves[family, pair[0]], curves[family, pair[1]]
        target = max((q for *_, q in old), key=lambda q: sign * q)
        reach = {r: first_reaching(curves[family, r], target, sign) for r in pair}
        best_new = max((q for *_, q in new), key=lambda q: sign * q)
        print(f"{family}: recipe {pair[0]} best {target:.4f}, recipe {pair[1]} best "
              f"{best_new:.4f}; to reach {target:.4f}: " + ", ".join(
                  f"recipe {r} " + (f"epoch {e} ({s:.0f} s)" if (e, s) != (None, None)
                                    else "not reached")
                  for r, (e, s) in ((r, reach[r] or (None, None)) for r in pair))
              + (f"; speed-up {reach[pair[0]][1] / reach[pair[1]][1]:.2f}x"
                 if reach[pair[1]] and reach[pair[1]][1] > 0 else ""))
        tests = {r: json.loads((out / f"{family}-recipe{r}" / "metrics.json").read_text())
                 for r in pair}
        print(f"{family}: {TEST_METRIC[family]} " + ", ".join(
            f"recipe {r} {m[TEST_METRIC[family]]:.4f} ({m['train_seconds']:.0f} s of training)"
            for r, m in tests.items()))
    plot(curves, pair, out / "time_to_quality.png")
    print(f"curves: {out / 'time_to_quality.png'}")
    return 0


def plot(curves: dict, pair: tuple[int, int], path: Path) -> None:
    families = sorted({f for f, _ in curves})
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        for recipe in (r for r in pair if (family, r) in curves):
            pts = curves[family, recipe]
            ax.plot([s for _, s, _ in pts], [q for *_, q in pts], marker="o",
                    label=f"recipe {recipe}")
        ax.set_xlabel("training seconds (one thread)")
        ax.set_ylabel("eval accuracy" if family == "vit" else "eval nats per character")
        ax.set_title(family)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
