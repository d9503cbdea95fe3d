#!/usr/bin/env bash
# Issue 32's ViT ablation: each recipe knob's gain at a fixed short budget (3 epochs of the
# first 10,000 CIFAR-10 training images, 2,000 eval images, 50 warm-up steps, one thread), on
# the conventional ViT (patch 4, 128/512/6, 4 heads) and the hourglass at the same
# non-embedding parameters (192/127/6, K = 2, attention 128: `hourglass match`, 1,191,550
# against 1,191,178), seeds 0 and 1. Every knob is set against recipe 4's defaults (pinned:
# the ablation chose what recipe 5 took, Muon).
# Resumable: a finished run is skipped, an interrupted one resumed. Seed 0 of every knob
# runs first. SHAPE (conventional or hourglass) runs that shape's half only, so that each of two
# cores can take one. Then: python studies/tables.py ablation RUNS/vit-recipe-ablation
#
#   studies/vit-recipe-ablation/run.sh DATA RUNS [SHAPE]
set -euo pipefail
data=$1
out=$2/vit-recipe-ablation
only=${3:-}
declare -A knobs=(
  [base]=""
  [recipe-3]="--recipe 3"
  [no-input-norm]="--input-norm none"
  [batch-128]="--batch-size 128"
  [batch-32]="--batch-size 32"
  [no-smoothing]="--label-smoothing 0"
  [no-crop-flip]="--augment none"
  [trivial]="--augment crop-flip-trivial"
  [mixup]="--mixup 0.8"
  [cutmix]="--cutmix 1.0"
  [ema]="--ema 0.995"
  [test-flip]="--test-flip"
  [drop-path]="--drop-path 0.1"
  [lr-2e-3]="--lr 2e-3"
  [lr-5e-4]="--lr 5e-4"
  [muon]="--optimizer muon"
)
order=(base recipe-3 no-input-norm batch-128 batch-32 no-smoothing no-crop-flip trivial mixup
       cutmix ema test-flip drop-path lr-2e-3 lr-5e-4 muon)
declare -A shapes=(
  [conventional]="--skip-dim 128 --inner-dim 512 --depth 6"
  [hourglass]="--skip-dim 192 --inner-dim 127 --depth 6 --sub-blocks 2 --attn-dim 128"
)
common="--recipe 4 --family vit --task classify --dataset cifar10 --heads 4 --patch 4 --epochs 3 --lr 1e-3
        --warmup 50 --train-limit 10000 --eval-limit 2000"
source "$(dirname "$0")/../ablate.sh"
