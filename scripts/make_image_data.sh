#!/usr/bin/env bash
# Generates the 36 extra training scenes of the image models' third recipe
# (the `backbone-2d-v3` stage of configs/synthetic-small.yaml): ring of 5 cameras at 256², 1-4 people, 150 frames, train
# motions with limb mixing; seeds 10-25 with the checkerboard floor, seeds 30-49 with varied floor
# patterns. Run from the repository root; writes runs/data2/ (~0.5 GB, not committed).
# ~15 min on 2 cores. Rerunning skips the scenes already written.
set -euo pipefail
out=${1:-runs/data2}
one() {
  local s=$1; shift
  [ -f "$out/train_$s/.done" ] && return 0
  rm -rf "$out/train_$s"
  tessetrack synth "$out/train_$s" --rig ring --cameras 5 --people $((1 + s % 4)) --frames 150 \
    --seed "$s" --split train --image-size 256x256 --limb-mix 0.5 "$@"
  touch "$out/train_$s/.done"
}
for s in $(seq 10 25); do one "$s"; done
for s in $(seq 30 49); do one "$s" --varied-floors; done
