#!/usr/bin/env bash
# The paper's full MNIST recipe (batch 128; by default lr 1e-3, seed 0, no augmentation) for a
# few configurations on any MNIST-sized task, to set next to that task's shortened frontier
# (studies/tables.py full-recipe) or to compare with the authors' published runs. The paper
# trains denoising for 30 epochs, prototype and super-resolution for 50.
#   full_recipe.sh [OPTIONS] TASK EPOCHS DATA_DIR OUT_DIR [SKIP/INNER/DEPTH ...]
# Options:
#   --dataset NAME     mnist (the default) or fashion-mnist
#   --lr LR --seed S   learning rate and seed; either one given puts -lrLR-sS on the folder names
#   --augment flip4    the authors' deterministic x4 flip copy of the training set
#   --batch-size B     default 128; another puts -bB on the folder names
#   --block B          a Hourglass block variant (hourglass train --block): -B on the folder names
#   --v1               recipe v1, the one the studies before the corrected recipe ran on
#                      (torch.randperm split, per-step lr decay, best-eval checkpoint)
# Without configurations: the same 3 per shape on every task (Hourglass 785/115/2, 785/115/4,
# 1150/270/4; conventional 784/785/1, 784/1470/1, 784/785/2). The shape follows from the
# widths (inner < skip: Hourglass). One thread per run, so a rerun is bit-exact; re-running
# skips the finished runs and resumes an interrupted one. Where flock(1) exists, each run holds
# RUN_DIR.lock while it trains and a second process skips it, so two copies of one command
# can share a list (one per core) without training one folder twice.
set -euo pipefail
dataset=mnist lr=1e-3 seed=0 augment=none batch=128 block=plain suffix="" recipe=()
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --dataset) dataset=${2:?}; shift 2 ;;
    --lr) lr=${2:?}; suffix=1; shift 2 ;;
    --seed) seed=${2:?}; suffix=1; shift 2 ;;
    --augment) augment=${2:?}; shift 2 ;;
    --batch-size) batch=${2:?}; shift 2 ;;
    --block) block=${2:?}; shift 2 ;;
    --v1) recipe=(--split-rng torch --lr-schedule step --test-checkpoint best); shift ;;
    *) echo "full_recipe.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
task=${1:?task}; epochs=${2:?epochs}; data=${3:?data directory}; out=${4:?output folder}
shift 4
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(785/115/2 785/115/4 1150/270/4 784/785/1 784/1470/1 784/785/2)
for c in "${configs[@]}"; do
  IFS=/ read -r skip inner depth <<< "$c"
  shape=$([ "$inner" -lt "$skip" ] && echo hourglass || echo conventional)
  dir="$out/$shape-$skip-$inner-$depth${suffix:+-lr$lr-s$seed}"
  [ "$block" = plain ] || dir="$dir-${block//:/}"
  [ "$batch" = 128 ] || dir="$dir-b$batch"
  [ -f "$dir/metrics.json" ] && continue
  mkdir -p "$out"
  # without flock(1) (not Linux) runs go unlocked: then run one copy at a time
  lock=(); command -v flock > /dev/null && lock=(flock -n -E 75 "$dir.lock")
  rc=0
  "${lock[@]}" hourglass train --task "$task" --dataset "$dataset" \
    --data-dir "$data" --skip-dim "$skip" --inner-dim "$inner" --depth "$depth" \
    --epochs "$epochs" --batch-size "$batch" --lr "$lr" --seed "$seed" --augment "$augment" \
    --block "$block" "${recipe[@]}" --threads 1 --quiet --out "$dir" --resume > /dev/null || rc=$?
  # 75 (EX_TEMPFAIL): another process holds the lock and is training this run
  if [ "$rc" = 75 ]; then echo "full_recipe.sh: $dir is training elsewhere; skipped" >&2
  elif [ "$rc" != 0 ]; then exit "$rc"; fi
done
