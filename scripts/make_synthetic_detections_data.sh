#!/usr/bin/env bash
# Training scenes of the shipped `synthetic-detections` model: the 6 ring scenes of
# scripts/make_synthetic_small_data.sh (same seeds, people and cameras), poses only, with limb
# mixing (arms/spine of a segment taken from another clip with probability 0.5). Validation uses
# the unmixed runs/data/val_0. Writes runs/data_mix/ in about 30 s.
set -euo pipefail
out=${1:-runs/data_mix}
for s in 0 1 2 3 4 5; do
  tessetrack synth "$out/train_$s" --rig ring --cameras 5 --people $((1 + s % 4)) --frames 300 --seed "$s" --split train --image-size 256x256 --no-images --limb-mix 0.5
done
