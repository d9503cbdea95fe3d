#!/usr/bin/env bash
# Run one study and publish its report:  studies/run.sh SPACE.toml DATA_DIR RUNS_DIR [STRATEGY]
# Searches with $WORKERS worker processes (default 2; one thread each: the thread count is
# part of what makes a CPU rerun bit-exact), writes the report, and copies to
# docs/results/<name>/ its summary.md and frontier.png, the trials as runs.csv, the commit
# and command (provenance.json) and every trial's eval curve (curves.csv and curves.png,
# studies/curves.py).
# Re-running resumes: finished trials are kept.
set -euo pipefail
space=${1:?space file}; data=${2:?data directory}; runs=${3:?runs folder}; strategy=${4:-grid}
name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$space")
hourglass search "$space" --out "$runs/$name" --strategy "$strategy" --workers "${WORKERS:-2}" \
  --data-dir "$data" --quiet
hourglass report "$runs/$name" > /dev/null
mkdir -p "docs/results/$name"
cp "$runs/$name/summary.md" "$runs/$name/frontier.png" "$runs/$name/provenance.json" \
  "docs/results/$name/"
cp "$runs/$name/trials.csv" "docs/results/$name/runs.csv"
python "$(dirname "$0")/curves.py" "$runs/$name" --csv "docs/results/$name/curves.csv" \
  --plot "docs/results/$name/curves.png" > "docs/results/$name/plateau.md"
echo "docs/results/$name/summary.md"
