# The loop both recipe ablations share (studies/*-recipe-ablation/run.sh), sourced after they
# set: data, out, only (a shape or empty), knobs and shapes (name -> flags), order (the knobs
# in the order they run) and common (the flags every run takes). Seed 0 of every knob runs
# first; a finished run is skipped, an interrupted one resumed. SKIP (environment): knobs,
# space-separated, left out of this invocation (e.g. SKIP=bf16 on a CPU without bfloat16
# units, where those runs cost 12x); run them later without it.
# shellcheck shell=bash
if [[ -n $only && -z ${shapes[$only]:-} ]]; then
  echo "run.sh: shape '$only': choose one of ${!shapes[*]}" >&2
  exit 2
fi
for seed in 0 1; do
  for knob in "${order[@]}"; do
    [[ " ${SKIP:-} " == *" $knob "* ]] && continue
    for shape in conventional hourglass; do
      [[ -n $only && $shape != "$only" ]] && continue
      run=$out/$shape-$knob-s$seed
      [[ -f $run/metrics.json ]] && continue
      resume=(); [[ -d $run ]] && resume=(--resume)
      echo "[ablation] $shape $knob seed $seed" >&2
      # shellcheck disable=SC2086  # the flags are words
      hourglass train ${shapes[$shape]} $common --data-dir "$data" --seed "$seed" \
        --threads 1 --quiet ${knobs[$knob]} "${resume[@]}" --out "$run" > /dev/null
    done
  done
done
