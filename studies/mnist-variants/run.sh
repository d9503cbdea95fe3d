#!/usr/bin/env bash
# Issue 15's width study: every Hourglass block variant against the plain block and the
# conventional network, MNIST denoising and prototype, 2 epochs (one search per variant,
# 2 workers of one thread each), then one plot per task with every search's frontiers against
# parameters and against FLOPs:   studies/mnist-variants/run.sh DATA_DIR RUNS_DIR
# Re-running resumes. Publishes docs/results/mnist-variants-<task>-<variant>/ (each search's
# report) and docs/results/mnist-variants-<task>/ (overlay.png, overlay.md).
set -euo pipefail
data=${1:?data directory}; runs=${2:?runs folder}; here=$(dirname "$0")
for task in denoise prototype; do
  others=()
  for v in plain frozen lowrank32 nested hash4 altup2; do
    "$here/../run.sh" "$here/$task-$v.toml" "$data" "$runs"
    [ "$v" = plain ] || others+=("$runs/mnist-variants-$task-$v")
  done
  hourglass report "$runs/mnist-variants-$task-plain" --with "${others[@]}"
  mkdir -p "docs/results/mnist-variants-$task"
  cp "$runs/mnist-variants-$task-plain/overlay.png" "$runs/mnist-variants-$task-plain/overlay.md" \
     "docs/results/mnist-variants-$task/"
done
