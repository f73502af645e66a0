#!/usr/bin/env bash
# Trains the variants of paper Table 1 with the same budget, one after the other on two threads
# (on 2 cores that is ~2x faster than two runs side by side on one thread each): the H variants
# with experiments/configs/ablation.yaml into runs/abl-<VARIANT>, the image (F) variants with
# experiments/configs/ablation-image.yaml into runs/abl2-<VARIANT>. Needs runs/data
# (scripts/make_synthetic_small_data.sh runs/data) and, for the F variants, the stage-1 backbone
# (the `backbone-2d` stage of configs/synthetic-small.yaml):
#   tessetrack train --config configs/synthetic-small.yaml --data runs --output runs/synthetic-small --stage backbone-2d
# Usage: scripts/train_ablation.sh [VARIANT ...]   (default: all; STEPS=N overrides the budget)
# Rerunning resumes every unfinished run. The H variants (HI, and our HT, HTGA, HTGL, HTDL, HIG)
# take 2D detections (simulated per clip) instead of images, so they have no backbone to start
# from and no 2D head.
set -euo pipefail
steps=${STEPS:-800}
backbone=runs/synthetic-small/backbone-2d/last.safetensors
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(FTDL FI FTGL FIG HI FT FTGA)
one() {
  local v=$1 config=experiments/configs/ablation-image.yaml out="runs/abl2-$1"
  local extra=("train.init_from=$backbone" "train.init_prefixes=[backbone.,keypoint_head.]")
  if [[ "$v" == H* ]]; then
    config=experiments/configs/ablation.yaml out="runs/abl-$v"
    extra=(model.backbone.keypoint_head=false loss.keypoint_2d=0)
  fi
  tessetrack train --config "$config" --data runs --output "$out" \
    "model.variant=$v" "train.steps=$steps" "${extra[@]}" > "$out.log" 2>&1
}
for v in "${variants[@]}"; do
  one "$v"
done
