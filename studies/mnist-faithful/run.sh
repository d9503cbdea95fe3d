#!/usr/bin/env bash
# The full-recipe reruns on the corrected recipe (v2: the authors' NumPy split; on MNIST the lr
# steps once per epoch and the test score is the final model's), for the networks whose
# per-run results the authors published:  studies/mnist-faithful/run.sh DATA_DIR RUNS_DIR [PART]
#   prototype, 50 epochs, batch 128: 3 Hourglass and 3 conventional networks at lr 1e-3 with
#     seeds 0, 1, 2, then at lr 5e-4 with seed 0;
#   superres, x2 super-resolution, 50 epochs, batch 128, the x4 flip copy: the 6 networks the
#     authors report, seed 0 at lr 7e-4 and 1e-3, then seed 1 at the lr with the better eval
#     PSNR.
# PART: prototype, superres or both (the default). One thread per run (bit-exact reruns).
# Re-running skips finished runs and resumes the interrupted one; two copies of one command
# (one per core) share the list (full_recipe.sh locks each run while it trains).
# Then: python studies/tables.py runs-csv RUNS_DIR/mnist-...-v2 > runs.csv
set -euo pipefail
data=${1:?data directory}; runs=${2:?runs folder}; part=${3:-both}
case "$part" in prototype|superres|both) ;; *) echo "run.sh: unknown part $part" >&2; exit 2 ;; esac
fr="$(dirname "$0")/../full_recipe.sh"
if [ "$part" != superres ]; then
  for seed in 0 1 2; do
    "$fr" --lr 1e-3 --seed "$seed" prototype 50 "$data" "$runs/mnist-prototype-v2"
  done
  "$fr" --lr 5e-4 --seed 0 prototype 50 "$data" "$runs/mnist-prototype-v2"
fi
[ "$part" != prototype ] || exit 0
sr=(785/115/2 785/115/4 1150/270/4 784/785/2 784/785/3 784/1150/1)
for lr in 7e-4 1e-3; do
  "$fr" --augment flip4 --lr "$lr" --seed 0 superres 50 "$data" "$runs/mnist-superres-v2" "${sr[@]}"
done
for c in "${sr[@]}"; do
  IFS=/ read -r skip inner depth <<< "$c"
  shape=$([ "$inner" -lt "$skip" ] && echo hourglass || echo conventional)
  s0="$runs/mnist-superres-v2/$shape-$skip-$inner-$depth"
  # wait for a seed-0 run that another copy of this script is still training
  if command -v flock > /dev/null; then
    flock "$s0-lr7e-4-s0.lock" true; flock "$s0-lr1e-3-s0.lock" true
  fi
  best=$(python - "$s0" <<'PY'
import json, sys
psnr = {lr: json.load(open(f"{sys.argv[1]}-lr{lr}-s0/metrics.json"))["eval_psnr"]
        for lr in ("7e-4", "1e-3")}
print(max(psnr, key=psnr.get))
PY
)
  "$fr" --augment flip4 --lr "$best" --seed 1 superres 50 "$data" "$runs/mnist-superres-v2" "$c"
done
