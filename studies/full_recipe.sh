#!/usr/bin/env bash
# The paper's full recipe (30 epochs, batch 128, lr 1e-3) for 3 configurations per shape,
# to set next to the 2-epoch frontier of space.toml. Usage: full_recipe.sh DATA_DIR OUT_DIR
set -euo pipefail
data=${1:?data directory}; out=${2:?output folder}
run() {  # name skip inner depth
  [ -f "$out/$1/metrics.json" ] || hourglass train --task denoise --dataset mnist \
    --data-dir "$data" --skip-dim "$2" --inner-dim "$3" --depth "$4" --epochs 30 \
    --lr 1e-3 --seed 0 --quiet --out "$out/$1" --resume > /dev/null
}
run hourglass-785-115-2 785 115 2
run hourglass-785-115-4 785 115 4
run hourglass-1150-270-4 1150 270 4
run conventional-784-785-1 784 785 1
run conventional-784-1470-1 784 1470 1
run conventional-784-785-2 784 785 2
