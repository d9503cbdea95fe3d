#!/usr/bin/env bash
# The paper's full MNIST recipe (batch 128, lr 1e-3, seed 0, best-eval checkpoint) for the
# same 3 configurations per shape on any MNIST task, to set next to that task's shortened
# frontier (studies/tables.py full-recipe). Usage: full_recipe.sh TASK EPOCHS DATA_DIR OUT_DIR
# The paper trains denoising for 30 epochs, prototype and super-resolution for 50.
set -euo pipefail
task=${1:?task}; epochs=${2:?epochs}; data=${3:?data directory}; out=${4:?output folder}
run() {  # name skip inner depth
  [ -f "$out/$1/metrics.json" ] || hourglass train --task "$task" --dataset mnist \
    --data-dir "$data" --skip-dim "$2" --inner-dim "$3" --depth "$4" --epochs "$epochs" \
    --lr 1e-3 --seed 0 --quiet --out "$out/$1" --resume > /dev/null
}
run hourglass-785-115-2 785 115 2
run hourglass-785-115-4 785 115 4
run hourglass-1150-270-4 1150 270 4
run conventional-784-785-1 784 785 1
run conventional-784-1470-1 784 1470 1
run conventional-784-785-2 784 785 2
