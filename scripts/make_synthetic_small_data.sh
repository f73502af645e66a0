#!/usr/bin/env bash
# Generates the training / validation / test scenes of the shipped `synthetic-small` model
# (ring of 5 cameras at 256², 1-4 people, clips split by motion: train / val / test disjoint).
# Run from the repository root; writes runs/data/ (about 1 GB, not committed). ~4 min on 2 cores.
set -euo pipefail
out=${1:-runs/data}
for s in 0 1 2 3 4 5; do
  tessetrack synth "$out/train_$s" --rig ring --cameras 5 --people $((1 + s % 4)) --frames 300 --seed "$s" --split train --image-size 256x256
done
tessetrack synth "$out/val_0" --rig ring --cameras 5 --people 3 --frames 150 --seed 100 --split val --image-size 256x256
tessetrack synth "$out/test_0" --rig ring --cameras 5 --people 3 --frames 300 --seed 200 --split test --image-size 256x256
