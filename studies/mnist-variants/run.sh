#!/usr/bin/env bash
# Issue 15's width study: every Hourglass block variant against the plain block and the
# conventional network, MNIST denoising and prototype, 2 epochs (one search per variant,
# $WORKERS workers of one thread each, default 2), then one plot per task with every
# search's frontiers against parameters and against FLOPs:
#   studies/mnist-variants/run.sh DATA_DIR RUNS_DIR [TASK ...]
# (TASK: denoise, prototype, or both, the default; two tasks can run at once, one per core).
# Then each search's best network (of each shape) at the paper's full recipe (denoise 30
# epochs, prototype 50; its searched lr, seed 0), with the plain block on each variant's
# network beside it, in RUNS_DIR/mnist-variants-<task>-full/.
# Re-running resumes. Publishes docs/results/mnist-variants-<task>-<variant>/ (each search's
# report) and docs/results/mnist-variants-<task>/ (overlay.png, overlay.md, runs.csv: the
# full-recipe runs, and variants.md: each variant beside the plain block on its network).
set -euo pipefail
data=${1:?data directory}; runs=${2:?runs folder}; here=$(dirname "$0"); shift 2
for task in ${*:-denoise prototype}; do
  others=()
  for v in plain frozen lowrank32 nested hash4 altup2; do
    "$here/../run.sh" "$here/$task-$v.toml" "$data" "$runs"
    [ "$v" = plain ] || others+=("$runs/mnist-variants-$task-$v")
  done
  epochs=$([ "$task" = denoise ] && echo 30 || echo 50)
  for v in plain frozen lowrank32 nested hash4 altup2; do
    search="$runs/mnist-variants-$task-$v"
    block=$(sed -n 's/^block = "\(.*\)"/\1/p' "$here/$task-$v.toml"); block=${block:-plain}
    # the best network of each shape the search trained (skip/inner/depth and its lr) and, as
    # the control that tells the block from the architecture, the plain block on that
    # network at the lr the plain search found best for it
    python - "$search/frontier.json" "$runs/mnist-variants-$task-plain/frontier.json" \
        "$block" <<'PY' | while read -r b cfg lr; do
import json, sys
s, plain = (json.load(open(f)) for f in sys.argv[1:3])
arch = lambda c: (c["skip_dim"], c["inner_dim"], c["depth"])
for front in s["frontiers"].values():
    best = max(front, key=lambda c: c["mean"])
    print(sys.argv[3], "/".join(map(str, arch(best))), f"{best['lr']:g}")
    if sys.argv[3] != "plain":
        twin = max((c for c in plain["configurations"] if c["shape"] == best["shape"]
                    and arch(c) == arch(best)), key=lambda c: c["mean"])
        print("plain", "/".join(map(str, arch(twin))), f"{twin['lr']:g}")
PY
      "$here/../full_recipe.sh" --block "$b" --lr "$lr" "$task" "$epochs" "$data" \
        "$runs/mnist-variants-$task-full" "$cfg" < /dev/null
    done
  done
  hourglass report "$runs/mnist-variants-$task-plain" --with "${others[@]}"
  mkdir -p "docs/results/mnist-variants-$task"
  cp "$runs/mnist-variants-$task-plain/overlay.png" "$runs/mnist-variants-$task-plain/overlay.md" \
     "docs/results/mnist-variants-$task/"
  python "$here/../tables.py" runs-csv "$runs/mnist-variants-$task-full" \
    > "docs/results/mnist-variants-$task/runs.csv"
  python "$here/../tables.py" variants "$runs/mnist-variants-$task-full" \
    > "docs/results/mnist-variants-$task/variants.md"
done
