#!/usr/bin/env bash
# Makes a shipped model from nothing: its data (the data scripts), its whole training chain (the
# recipe configs/MODEL.yaml, every stage in turn) and its export into src/tessetrack/checkpoints/MODEL/,
# which records this command as the model's training command.
# Usage (from the repository root): [DRY_RUN=1] scripts/train_shipped.sh MODEL [WORK]
#   MODEL    detections-shelf, detections-campus, detections-panoptic, detections-any (it starts
#            from the shipped detections-shelf), synthetic-detections or synthetic-small.
#            synthetic-images has no training of its own (configs/README.md).
#   WORK     the folder of the data sets (WORK/dets, WORK/detsf, WORK/detsv, WORK/data, WORK/data2,
#            WORK/data_mix: the names the recipes give them) and of the run (WORK/MODEL/<stage>/);
#            default runs, where the data scripts write by default.
#   DRY_RUN  set: print the commands instead of running them.
#   PYTHON   the Python that runs scripts/export_checkpoint.py (default: python).
# Rerunning the same command continues: data sets made before are kept (WORK/<set>/.made-<what>),
# finished stages are skipped and an interrupted one resumes. It takes hours on a 2-core CPU.
set -euo pipefail
usage="usage: [DRY_RUN=1] scripts/train_shipped.sh MODEL [WORK]"
model=${1:?$usage}
work=${2:-runs}
python=${PYTHON:-python}

run() { # print a command, then run it (unless DRY_RUN)
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  [[ -n ${DRY_RUN:-} ]] || "$@"
}

make_data() { # make_data SET WHAT COMMAND...: one data script's scenes into WORK/SET, once
  local set=$1 what=$2
  shift 2
  if [[ -f $work/$set/.made-$what ]]; then
    echo "= $work/$set: $what scenes made before"
    return 0
  fi
  run "$@"
  [[ -n ${DRY_RUN:-} ]] || touch "$work/$set/.made-$what"
}

detections() { # detections SET RIG [FACE]: scripts/make_detections_data.sh RIG into WORK/SET
  # with the script's own scene count and limb mixing, whatever the shell's N_TRAIN and LIMB_MIX
  make_data "$1" "$2" env -u N_TRAIN -u LIMB_MIX FACE="${3:-humanoid}" \
    scripts/make_detections_data.sh "$2" "$work/$1"
}

half=()
case $model in
  detections-shelf)
    detections dets shelf
    detections detsf shelf measured
    ;;
  detections-campus)
    detections dets shelf
    detections detsf shelf measured
    detections detsf campus measured
    ;;
  detections-panoptic)
    detections dets panoptic
    detections detsf panoptic measured
    ;;
  detections-any)
    detections detsv varied measured
    ;;
  synthetic-detections)
    make_data data ring scripts/make_synthetic_small_data.sh "$work/data"
    make_data data_mix ring scripts/make_synthetic_detections_data.sh "$work/data_mix"
    ;;
  synthetic-small)
    make_data data ring scripts/make_synthetic_small_data.sh "$work/data"
    make_data data2 ring scripts/make_image_data.sh "$work/data2"
    half=(--half)
    ;;
  synthetic-images)
    echo "synthetic-images has no training of its own: it is made by" >&2
    echo "  python scripts/graft_2d_network.py --body synthetic-detections --net2d synthetic-small --peaks 0.3 --out $work/synthetic-images/last.safetensors" >&2
    exit 2
    ;;
  *)
    echo "$usage: unknown MODEL '$model'; one of detections-shelf, detections-campus," \
      "detections-panoptic, detections-any, synthetic-detections, synthetic-small" >&2
    exit 2
    ;;
esac
run tessetrack train --config "configs/$model.yaml" --data "$work" --output "$work/$model"
run "$python" scripts/export_checkpoint.py "$work/$model" "$model" ${half[@]+"${half[@]}"} \
  --command "scripts/train_shipped.sh $model"
