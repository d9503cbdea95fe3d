"""pareto-halving against the paper's grid on one space: hypervolume kept, compute spent.

    python bench/halving_vs_grid.py [--space quick-denoise] [--eta 3] [--out DIR] [--smoke]

Both searches run here, one after the other, on the same space with the same epochs at the top
rung; the figures are ratios of the two (compute = sum of epochs x trainable params).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import SMOKE_HELP

from hourglass.search import SearchOptions, load_space, search


def run(space_spec: str, out: Path, strategy: str, eta: int,
        max_trials: int | None = None) -> tuple[dict, float]:
    t0 = time.perf_counter()
    summary = search(space_spec, load_space(space_spec), out / strategy,
                     SearchOptions(strategy=strategy, eta=eta, progress=False,
                                   max_trials=max_trials))
    return summary, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="quick-denoise")
    ap.add_argument("--eta", type=int, default=3)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--smoke", action="store_true", help=SMOKE_HELP + " (4 units a search)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="halving-vs-grid-"))
    cap = 4 if args.smoke else None
    grid, grid_s = run(args.space, out, "grid", args.eta, cap)
    halving, halving_s = run(args.space, out, "pareto-halving", args.eta, cap)
    print(f"space {args.space}: {len(load_space(args.space).units())} units, eta {args.eta}, "
          f"results in {out}")
    print(f"{'':14}{'grid':>14}{'pareto-halving':>16}{'ratio':>9}")
    worst = 1.0
    for shape in grid["hypervolume"]:
        g, h = grid["hypervolume"][shape], halving["hypervolume"].get(shape, 0.0)
        worst = min(worst, h / g if g else 0.0)
        print(f"HV {shape:<11}{g:>14.5g}{h:>16.5g}{h / g if g else float('nan'):>9.3f}")
    ratio = halving["compute"] / grid["compute"]
    print(f"{'compute':<14}{grid['compute']:>14.4g}{halving['compute']:>16.4g}{ratio:>9.3f}")
    print(f"{'trials':<14}{grid['trials']:>14}{halving['trials']:>16}")
    print(f"{'wall seconds':<14}{grid_s:>14.1f}{halving_s:>16.1f}{halving_s / grid_s:>9.3f}")
    ok = worst >= 0.98 and ratio <= 0.40
    print(f"target (HV within 2% of the grid's, at most 40% of its compute): "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
