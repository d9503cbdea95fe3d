#!/usr/bin/env bash
# The paper's full MNIST recipe (batch 128, lr 1e-3, seed 0, best-eval checkpoint) for a few
# configurations on any MNIST-sized task, to set next to that task's shortened frontier
# (studies/tables.py full-recipe). The paper trains denoising for 30 epochs, prototype and
# super-resolution for 50.
#   full_recipe.sh [--dataset NAME] TASK EPOCHS DATA_DIR OUT_DIR [SKIP/INNER/DEPTH ...]
# NAME: mnist (the default) or fashion-mnist.
# Without configurations: the same 3 per shape on every task (Hourglass 785/115/2, 785/115/4,
# 1150/270/4; conventional 784/785/1, 784/1470/1, 784/785/2). The shape follows from the
# widths (inner < skip: Hourglass). Re-running skips the finished ones.
set -euo pipefail
dataset=mnist
if [ "${1:-}" = --dataset ]; then dataset=${2:?dataset name}; shift 2; fi
task=${1:?task}; epochs=${2:?epochs}; data=${3:?data directory}; out=${4:?output folder}
shift 4
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(785/115/2 785/115/4 1150/270/4 784/785/1 784/1470/1 784/785/2)
for c in "${configs[@]}"; do
  IFS=/ read -r skip inner depth <<< "$c"
  shape=$([ "$inner" -lt "$skip" ] && echo hourglass || echo conventional)
  dir="$out/$shape-$skip-$inner-$depth"
  [ -f "$dir/metrics.json" ] || hourglass train --task "$task" --dataset "$dataset" \
    --data-dir "$data" --skip-dim "$skip" --inner-dim "$inner" --depth "$depth" \
    --epochs "$epochs" --lr 1e-3 --seed 0 --quiet --out "$dir" --resume > /dev/null
done
