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

from tessetrack.data.panoptic import read_body3d_scene
from tessetrack.data.shelf_campus import read_actors_gt
from tessetrack.skeletons import convert_joints, get_joint_set

_SHELF = get_joint_set("shelf14")
_PANOPTIC = get_joint_set("panoptic19")


def _median_length(vectors: np.ndarray) -> float:
    """Median Euclidean length of (N, 3) vectors; NaN for N = 0."""
    return float(np.median(np.linalg.norm(vectors, axis=-1))) if len(vectors) else float("nan")


def head_stats(poses: np.ndarray) -> dict[str, float]:
    """Median lengths (m) of (N, 14, 3) Shelf-14 poses; rows with a NaN joint are left out.

    Keys: ``people`` (rows used), ``head`` |top − bottom|, ``bottom_to_shoulders`` |bottom − S|,
    ``top_to_shoulders`` |top − S| with S the mid-shoulder point, ``torso`` |S − mid-hip|,
    ``shoulder_width``, and ``top_to_shoulders / shoulder_width`` (size-free).
    """
    poses = poses[np.isfinite(poses).all(axis=(1, 2))]
    i = _SHELF.index
    mid_sh = (poses[:, i("r_shoulder")] + poses[:, i("l_shoulder")]) / 2
    mid_hip = (poses[:, i("r_hip")] + poses[:, i("l_hip")]) / 2
    bottom, top = poses[:, i("bottom_head")], poses[:, i("top_head")]
    across = poses[:, i("r_shoulder")] - poses[:, i("l_shoulder")]
    per_width = np.linalg.norm(top - mid_sh, axis=1) / np.linalg.norm(across, axis=1)
    return {
        "people": int(len(poses)),
        "head": _median_length(top - bottom),
        "bottom_to_shoulders": _median_length(bottom - mid_sh),
        "top_to_shoulders": _median_length(top - mid_sh),
        "torso": _median_length(mid_sh - mid_hip),
        "shoulder_width": _median_length(across),
        "top_to_shoulders_per_width": float(np.median(per_width)) if len(poses) else float("nan"),
    }


def face_stats(joints: np.ndarray) -> dict[str, float]:
    """Median face lengths (m) of (N, 19, 3) Panoptic-19 poses; rows with a NaN joint left out.

    Keys: ``neck_to_nose``, ``neck_to_ears`` (the ears' centre), ``ear_width``.
    """
    joints = joints[np.isfinite(joints).all(axis=(1, 2))]
    i = _PANOPTIC.index
    neck = joints[:, i("neck")]
    ears = (joints[:, i("l_ear")] + joints[:, i("r_ear")]) / 2
    return {
        "neck_to_nose": _median_length(joints[:, i("nose")] - neck),
        "neck_to_ears": _median_length(ears - neck),
        "ear_width": _median_length(joints[:, i("l_ear")] - joints[:, i("r_ear")]),
    }


def panoptic_joints(root: Path, every: int = 1) -> np.ndarray:
    """(N, 19, 3) Panoptic-19 joints of every body in every ``body3DScene_*.json`` under ``root``."""
    files = sorted(root.rglob("body3DScene_*.json"))[::every]
    joints = [p.joints for f in files for p in read_body3d_scene(f)]
    if not joints:
        raise SystemExit(f"{root}: no body3DScene_*.json files")
    return np.stack(joints)


def recipe_stats(joints: np.ndarray) -> dict[str, float]:
    """:func:`head_stats` of (N, 19, 3) Panoptic-19 poses through the Shelf-14 recipe, and their
    :func:`face_stats`."""
    return {**head_stats(convert_joints(joints, "panoptic19", "shelf14")), **face_stats(joints)}


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
    main()
