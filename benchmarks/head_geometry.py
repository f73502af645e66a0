"""How the Shelf/Campus head (``bottom_head`` → ``top_head``) of real and synthetic people compares.

Shelf/Campus PCP scores the head as one of its ten parts, and our predictions reach it through the
Panoptic-19 → Shelf-14 recipe of :data:`tessetrack.skeletons.JOINT_RECIPES` (VoxelPose's head model
from the shoulders, nose and ears). This script checks that recipe and the synthetic people on
three kinds of poses, with rotation-free lengths only (so z-up and y-down worlds compare):

* **real Shelf / Campus GT** (``actorsGT.mat``): the annotated head;
* **real CMU Panoptic people** (``hdPose3d_stage1_coco19``) through the recipe: is the recipe's head
  where the annotators put theirs on real bodies?
* **a synthetic scene** (``tessetrack synth``, DeepMimic motion) through the recipe: do our training
  people have real heads? For the Panoptic-19 poses it also gives the face's lengths from the neck.

Usage::

    python benchmarks/head_geometry.py --shelf ../shared/data/shelf --campus ../shared/data/campus \
        --panoptic ../shared/data/panoptic --synthetic runs/dets/shelf_test_0

Prints medians in metres and writes ``benchmarks/results/head_geometry.csv``/``.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import RESULTS, wide_console, write_rows

from tessetrack.data.shelf_campus import read_actors_gt
from tessetrack.errors import InputError
from tessetrack.eval.head_geometry import head_stats, panoptic_joints, recipe_stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shelf", type=Path, help="Shelf folder with actorsGT.mat")
    ap.add_argument("--campus", type=Path, help="Campus folder with actorsGT.mat")
    ap.add_argument("--panoptic", type=Path, help="folder holding real Panoptic body3DScene files")
    ap.add_argument("--synthetic", type=Path, action="append", default=[], help="synthetic scene")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    rows = []
    for name, folder in (("real Shelf GT", args.shelf), ("real Campus GT", args.campus)):
        if folder is not None:
            gt = read_actors_gt(folder / "actorsGT.mat")
            rows.append({"poses": name, **head_stats(np.asarray(gt.poses_3d).reshape(-1, 14, 3))})
    if args.panoptic is not None:
        stats = recipe_stats(panoptic_joints(args.panoptic))
        rows.append({"poses": "real Panoptic, recipe", **stats})
    for scene in args.synthetic:
        stats = recipe_stats(panoptic_joints(scene, every=10))
        rows.append({"poses": f"synthetic {scene.name}, recipe", **stats})
    if not rows:
        raise SystemExit("give at least one of --shelf, --campus, --panoptic, --synthetic")

    from rich.table import Table

    title = "Shelf-14 head geometry, medians in metres"
    table = Table(title=title)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    for key in columns:
        table.add_column(key)
    for row in rows:
        cells = (row.get(k, float("nan")) for k in columns)
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells))
    wide_console().print(table)
    write_rows(args.out / "head_geometry", rows, columns, {"what": title, "units": "m"})
    print(f"wrote {args.out / 'head_geometry'}.csv/.json")


if __name__ == "__main__":
    try:
        main()
    except InputError as exc:  # e.g. a folder without body3DScene files: one line, no traceback
        raise SystemExit(str(exc)) from None
