#!/usr/bin/env bash
# Generates the synthetic training / validation scenes of the `detections-<rig>` models: DeepMimic
# motion in a real rig's cameras (shelf, campus or panoptic), or each scene in a rig of its own drawn at
# random (varied: 1-10 cameras of every height, distance, lens and image size; 1-8 people), poses and
# cameras only (no images: the models learn from 2D detections simulated from these poses at every
# training clip).
# Usage: [N_TRAIN=16] [LIMB_MIX=0.5] [FACE=humanoid] [PROPORTIONS=humanoid] [POSE_VARIATION=0] \
#        scripts/make_detections_data.sh RIG [OUT]
#   (run from the repository root; ~1 min per rig for the default 16 training scenes)
#   N_TRAIN   training scenes (seeds 0 .. N_TRAIN-1, 1-4 people (varied: 1-8), 600 frames); default
#             16 (the shipped recipes, configs/detections-<rig>.yaml; varied: 48).
#   LIMB_MIX  probability that a training motion segment takes its arms / spine from another clip
#             (`tessetrack synth --limb-mix`); default 0.5; 0 = the unmixed data. Val / test stay unmixed.
#   FACE      face joints of every scene (`tessetrack synth --face`): humanoid (default, the data of
#             the recipes up to v3) or measured (real people's proportions; the shipped Shelf chain's
#             `face` stage of configs/detections-shelf.yaml).
#   PROPORTIONS     body proportions of every scene (`tessetrack synth --proportions`): humanoid
#                   (default) or measured (each person's own, around real people's means).
#   POSE_VARIATION  joint-angle variation of the training scenes (`tessetrack synth
#                   --pose-variation`); default 0. Val / test stay unvaried.
set -euo pipefail
rig=${1:?usage: [N_TRAIN=16] [LIMB_MIX=0.5] make_detections_data.sh shelf|campus|panoptic|varied [OUT]}
out=${2:-runs/dets}
most_people=4
n_train=${N_TRAIN:-16}
if [[ $rig == varied ]]; then
  most_people=8
  n_train=${N_TRAIN:-48}
fi
limb_mix=${LIMB_MIX:-0.5}
face=${FACE:-humanoid}
proportions=${PROPORTIONS:-humanoid}
pose_variation=${POSE_VARIATION:-0}
if ! [[ $n_train =~ ^[0-9]+$ ]] || ((n_train < 1 || n_train > 100)); then
  echo "N_TRAIN must be an integer in 1..100 (seeds 100 and 200 are val / test), got '$n_train'" >&2
  exit 2
fi
pose_args=()
if awk -v p="$pose_variation" 'BEGIN { exit !(p + 0 != 0) }'; then
  pose_args=(--pose-variation "$pose_variation")
fi
mix_args=()
if awk -v p="$limb_mix" 'BEGIN { exit !(p + 0 != 0) }'; then
  mix_args=(--limb-mix "$limb_mix")
fi
for ((s = 0; s < n_train; s++)); do
  tessetrack synth "$out/${rig}_train_$s" --rig "$rig" --people $((1 + s % most_people)) --frames 600 --seed "$s" --split train --no-images --face "$face" --proportions "$proportions" ${mix_args[@]+"${mix_args[@]}"} ${pose_args[@]+"${pose_args[@]}"}
done
tessetrack synth "$out/${rig}_val_0" --rig "$rig" --people 3 --frames 300 --seed 100 --split val --no-images --face "$face" --proportions "$proportions"
tessetrack synth "$out/${rig}_test_0" --rig "$rig" --people 3 --frames 300 --seed 200 --split test --no-images --face "$face" --proportions "$proportions"
