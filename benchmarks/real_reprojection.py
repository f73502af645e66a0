"""How well tracked 3D poses agree with the real 2D detections they came from: every tracked person is
projected into every camera and compared, joint by joint, with the nearest detected person there.

A check on real data that needs no 3D ground truth — useful where the ground truth does not belong to
the detections' frames, as in the repository's 3-frame Shelf and Campus samples (``--gt-too`` shows
it: the sample's GT people lie tens to hundreds of pixels from every detection, while the detected
people of different cameras agree on the epipolar geometry to a few pixels).

Usage::

    python benchmarks/real_reprojection.py --data ../shared/data/shelf --checkpoint detections-shelf \\
        [--gt-too] [--json out.json]

Prints, per camera and pooled, the median over tracked people of the median pixel distance between
their projected joints and the nearest detected person's joints (COCO-17 detections converted to the
model's joints; detected joints with score < 0.3 ignored).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from tessetrack.data import open_dataset
from tessetrack.eval.evaluate import joint_set_of
from tessetrack.eval.reprojection import person_to_detections
from tessetrack.io import load_tracks
from tessetrack.io.atomic import atomic_write_text
from tessetrack.skeletons import convert_joints
from tessetrack.tracking.runner import track_to_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="dataset folder with calibration and detections")
    ap.add_argument("--checkpoint", required=True, help="a detections-* checkpoint (name or path)")
    ap.add_argument("--gt-too", action="store_true", help="also score the dataset's GT people")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    ds = open_dataset(args.data)
    if not any(len(d) for fid in ds.frames for d in ds[fid].detections.values()):
        raise SystemExit(
            f"{args.data}: no 2D detections in any frame and camera: nothing to compare"
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tracks.json"
        track_to_file(args.data, output=out, checkpoint=args.checkpoint)
        tracks = load_tracks(out)
    sources = {"tracked": {f.frame: [p.joints[:, :3] for p in f.people] for f in tracks.frames}}
    joint_set = joint_set_of(tracks.joint_names)
    if joint_set is None:
        raise SystemExit(
            f"{args.checkpoint}: its joints are no registered joint set: {tracks.joint_names}"
        )
    if args.gt_too:
        gt = {}
        for fid in ds.frames:
            fr = ds[fid]
            gt[fid] = [convert_joints(p.joints, fr.joint_set, joint_set) for p in fr.people]
        sources["dataset GT"] = gt
    rows: dict[str, dict[str, list[float]]] = {k: {} for k in sources}
    for fid in ds.frames:
        fr = ds[fid]
        dets = {
            name: convert_joints(np.asarray(d, dtype=float), fr.detections_joint_set, joint_set)
            for name, d in fr.detections.items()
            if len(d)
        }
        for label, people_by_frame in sources.items():
            for X in people_by_frame.get(fid, []):
                for name, cam in fr.cameras.items():
                    if name not in dets:
                        continue
                    uv = cam.project(np.asarray(X, dtype=float))
                    d = person_to_detections(uv, dets[name])
                    if np.isfinite(d):
                        rows[label].setdefault(name, []).append(d)
    table = Table(title=f"{args.checkpoint} on {args.data}: px to the nearest detected person")
    cams = sorted({c for r in rows.values() for c in r})
    table.add_column("people")
    for c in cams:
        table.add_column(f"camera {c}", justify="right")
    table.add_column("all", justify="right")
    result = {}
    for label, r in rows.items():
        med = {c: float(np.median(r[c])) if r.get(c) else float("nan") for c in cams}
        pooled = [x for c in cams for x in r.get(c, [])]
        med["all"] = float(np.median(pooled)) if pooled else float("nan")
        result[label] = {"median_px": med, "pairs": len(pooled)}
        table.add_row(label, *[f"{med[c]:.1f}" for c in [*cams, "all"]])
    Console(width=140).print(table)
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
