"""K models of one shape trained jointly (one batched population) versus one by one.

    python bench/population.py [--quick] [--data-dir ../shared/data]

MNIST denoising, batch 128, K = 8 runs per configuration: 4 learning rates x 2 seeds (init,
batch order and noise). A fixed W_in is shared by the population (proj_seed 0), so z_0 is
computed once per batch for the runs that share a data stream (here: once per seed), not once
per run. "One by one" is hourglass-mlp's own single-run training (its fast path), run here in
the same process. Prints wall-clock times, the speed-up, and the largest difference in final
test PSNR between a run trained jointly and the same run trained alone.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import mnist_bench_args

from hourglass.training import TrainConfig, train, train_many

CONFIGS = [("hourglass 785/4/40 learned", 785, 4, 40, "learned"),
           ("hourglass 785/115/4 fixed", 785, 115, 4, "fixed")]
LRS, SEEDS = (5e-4, 1e-3, 2e-3, 4e-3), (0, 1)


def main() -> int:
    args, data = mnist_bench_args(__doc__, "subsets and 2 epochs")
    n_train, n_eval, epochs = (5000, 1000, 2) if args.quick else (50000, 10000, 3)
    print(f"K = {len(LRS) * len(SEEDS)} runs each (lr {LRS} x seed {SEEDS}); {n_train} "
          f"training and {n_eval} eval images, {epochs} epochs, batch 128")
    print(f"{'configuration':28s} {'one by one s':>12s} {'joint s':>8s} {'speed-up':>8s} "
          f"{'max |dPSNR| dB':>15s}")
    for label, skip, inner, depth, proj in CONFIGS:
        cfgs = [TrainConfig(task="denoise", dataset="mnist", data_dir=args.data_dir,
                            skip_dim=skip, inner_dim=inner, depth=depth, input_proj=proj,
                            proj_seed=0, lr=lr, seed=seed, epochs=epochs, batch_size=128,
                            train_limit=n_train, eval_limit=n_eval)
                for lr in LRS for seed in SEEDS]
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            alone = [train(c, Path(tmp) / f"alone{i}", progress=False, data=data)
                     for i, c in enumerate(cfgs)]
            t_alone = time.perf_counter() - t0
            t0 = time.perf_counter()
            joint = train_many(cfgs, [Path(tmp) / f"joint{i}" for i in range(len(cfgs))],
                               progress=False, data=data)
            t_joint = time.perf_counter() - t0
        diff = max(abs(a["test_psnr"] - j["test_psnr"]) for a, j in zip(alone, joint,
                                                                           strict=True))
        print(f"{label:28s} {t_alone:12.1f} {t_joint:8.1f} {t_alone / t_joint:7.2f}x "
              f"{diff:15.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
