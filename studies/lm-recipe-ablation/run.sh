#!/usr/bin/env bash
# Issue 32's LM ablation: each recipe knob's gain at a fixed short budget (one epoch of Tiny
# Shakespeare's training text, the whole eval half, one thread), on the conventional layer
# (lm-char-conventional: 256/768/4) and the hourglass at the same non-embedding parameters
# (lm-char-hourglass: 384/199/4, K = 2, attention 256), seeds 0 and 1. Every knob is set
# against recipe 3 (dropout 0.1, lr 1e-3, batch 16, context 256, AdamW). One epoch is before
# either network overfits, so the regularising knobs (dropout) are measured where they cost
# and do not yet pay: the 10-epoch runs of docs/results section 9 measure those.
# Resumable: a finished run is skipped, an interrupted one resumed. Seed 0 of every knob
# runs first. SHAPE (conventional or hourglass) runs that shape's half only, so that each of
# two cores can take one. Then: python studies/tables.py ablation RUNS/lm-recipe-ablation
#
#   studies/lm-recipe-ablation/run.sh DATA RUNS [SHAPE]
set -euo pipefail
data=$1
out=$2/lm-recipe-ablation
only=${3:-}
declare -A knobs=(
  [base]=""
  [no-dropout]="--dropout 0"
  [dropout-0.2]="--dropout 0.2"
  [no-attention-dropout]="--attention-dropout 0"
  [lr-2e-3]="--lr 2e-3"
  [lr-5e-4]="--lr 5e-4"
  [batch-32]="--batch-size 32"
  [batch-8]="--batch-size 8"
  [context-128]="--context 128"
  [context-512]="--context 512"
  [muon]="--optimizer muon"
  [bf16]="--precision bf16"
)
# bf16 last: on a CPU without bfloat16 units (AVX-512 BF16 or AMX) its runs take 12x longer
# (about 10 core-hours for its 4): there, run with SKIP=bf16, and its runs on a CPU with them
order=(base muon no-dropout no-attention-dropout lr-2e-3 lr-5e-4 batch-32 batch-8 context-128
       context-512 dropout-0.2 bf16)
declare -A shapes=(
  [conventional]="--variant lm-char-conventional"
  [hourglass]="--variant lm-char-hourglass"
)
common="--recipe 3 --epochs 1"
source "$(dirname "$0")/../ablate.sh"
