#!/usr/bin/env bash
# Generates the synthetic training / validation scenes of the `detections-<rig>` models: DeepMimic
# motion in a real rig's cameras (shelf, campus or panoptic), poses and cameras only (no images: the
# models learn from 2D detections simulated from these poses at every training clip).
# Usage: scripts/make_detections_data.sh RIG [OUT]   (run from the repository root; ~1 min per rig)
set -euo pipefail
rig=${1:?usage: make_detections_data.sh shelf|campus|panoptic [OUT]}
out=${2:-runs/dets}
for s in 0 1 2 3 4 5 6 7; do
  tessetrack synth "$out/${rig}_train_$s" --rig "$rig" --people $((1 + s % 4)) --frames 600 --seed "$s" --split train --no-images
done
tessetrack synth "$out/${rig}_val_0" --rig "$rig" --people 3 --frames 300 --seed 100 --split val --no-images
tessetrack synth "$out/${rig}_test_0" --rig "$rig" --people 3 --frames 300 --seed 200 --split test --no-images
