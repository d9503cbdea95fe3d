#!/usr/bin/env bash
# One nested network against separately trained networks of its prefix widths (issue 15):
#   studies/mnist-nested/run.sh DATA_DIR RUNS_DIR [EPOCHS]
# MNIST denoising, the paper's Hourglass 785/115/4 (learned W_in), lr 1e-3, seed 0, one
# thread per run. The nested run (--block nested: every step trains one prefix, h/8 .. h, of
# every bottleneck) is evaluated at its prefixes 14, 28, 57 and 115 from its one checkpoint;
# the plain networks 785/N/4 are trained apart. Re-running skips finished runs and resumes an
# interrupted one. Then: python studies/tables.py nested RUNS_DIR/mnist-nested
set -euo pipefail
data=${1:?data directory}; runs=${2:?runs folder}/mnist-nested; epochs=${3:-5}
common=(--task denoise --dataset mnist --data-dir "$data" --skip-dim 785 --depth 4 --lr 1e-3
        --epochs "$epochs" --threads 1 --quiet --resume)
hourglass train "${common[@]}" --inner-dim 115 --block nested --out "$runs/nested-e$epochs"
for h in 14 28 57 115; do
  hourglass train "${common[@]}" --inner-dim "$h" --out "$runs/plain-h$h-e$epochs"
done
