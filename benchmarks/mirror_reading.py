"""The built-in detector reading each image mirrored too: what it buys and what it costs.

``BlazePoseConfig.mirror`` (on by default; ``tessetrack detect --no-mirror``) reads every image a
second time mirrored left to right and merges each person's two readings
(:func:`tessetrack.detector.blazepose.merge_mirrored`). For each real recording, in one run:

* the detector with one reading and with two, on every image (images/s of each, people found);
* how far apart the two readings of a landmark lie (every 10th frame: the image's people and the
  mirrored image's, read back, paired as the merge pairs them: :func:`pair_readings`), in % of
  the person's size, and how many people the mirrored reading finds that the image's does not
  (the merge does not add them);
* the leave-one-camera-out error of a plain triangulation of the detections
  (:func:`tessetrack.tracking.geometric.triangulate_people`, no model, so that only the
  detections change): for each camera, the other cameras' detections triangulated and projected
  into it, against its own detections (:func:`tessetrack.eval.reprojection.left_out_errors`:
  median joint error in % of the 2D person's height). The cameras triangulated and the camera
  compared with are read both ways, so that the table tells the better 3D (mirrored cameras
  triangulated, compared with the one-reading detections) from the better reference.

    python benchmarks/mirror_reading.py [--recording DIR ...] [--calibration FILE] [--work DIR]

Writes ``benchmarks/results/mirror_reading.json`` (``--output``) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, cpu_name
from real_video import RECORDINGS

from tessetrack.detector import BlazePose, BlazePoseConfig, detect_recording
from tessetrack.detector.blazepose import pair_readings, read_back_mirrored
from tessetrack.detector.recording import open_recording
from tessetrack.eval.reprojection import left_out_errors
from tessetrack.io.atomic import atomic_write_text
from tessetrack.tracking.geometric import triangulate_people
from tessetrack.tracking.inputs import open_input

READINGS = {"one": BlazePoseConfig(mirror=False), "mirrored": BlazePoseConfig()}


def agreement(root: Path, calibration: Path | None, every: int) -> dict:
    """Distances between the two readings of each landmark (every ``every``-th frame), in % of
    the person's size: median over the confident landmarks of the paired people."""
    dataset = open_recording(root, calibration=calibration)
    rel, found, only_mirrored = [], 0, 0
    with BlazePose(READINGS["one"]) as detect:
        for k, frame in enumerate(dataset):
            if k % every:
                continue
            for load in frame.images.values():
                image = load()
                a = detect(image)
                b = read_back_mirrored(detect(np.ascontiguousarray(image[:, ::-1])), image.shape[1])
                pairs, dist, size = pair_readings(a, b)
                found += len(a)
                only_mirrored += len(b) - len(pairs)
                for r, c in pairs:
                    sure = (a[r, :, 2] >= 0.5) & (b[c, :, 2] >= 0.5)
                    rel.append(dist[r, c][sure] / size[r, c])
    rel = np.concatenate(rel) if rel else np.zeros(0)
    return {
        "people_found": found,
        "people_only_mirrored": only_mirrored,
        "landmarks": int(rel.size),
        "median_pct_size": 100 * float(np.median(rel)) if rel.size else None,
        "p90_pct_size": 100 * float(np.percentile(rel, 90)) if rel.size else None,
    }


def left_out(root: Path, folders: dict[str, Path], calibration: Path | None) -> dict:
    """Leave-one-camera-out errors of the triangulated detections, each reading's detections
    triangulated against each reading's detections of the left-out camera."""
    frames = {
        k: {f.frame: f for f in open_input(root, detections=d, calibration=calibration)}
        for k, d in folders.items()
    }
    first = next(iter(frames["one"].values()))
    names, source = list(first.cameras), first.detections_joint_set
    out: dict = {}
    for left in names:
        others = [c for c in names if c != left]
        out[left] = {}
        for used, seen in frames.items():
            poses = {}
            for k, f in seen.items():
                views = {c: f.detections[c] for c in others if c in f.detections}
                poses[k] = [p for p, _ in triangulate_people(
                    views, f.cameras, detections_joint_set=source, joint_set="body25")]  # fmt: skip
            for reference, ref_frames in frames.items():
                rel, found, people = [], 0, 0
                for k, f in ref_frames.items():
                    dets = f.detections.get(left)
                    if dets is None or k not in poses:
                        continue
                    e = left_out_errors(poses[k], dets, f.cameras[left],
                                        detections_joint_set=source, joint_set="body25")  # fmt: skip
                    rel.append(e.relative)
                    found, people = found + e.found, people + e.people
                r = np.concatenate(rel) if rel else np.zeros(0)
                out[left][f"{used} triangulated, {reference} left out"] = {
                    "median_pct_height": 100 * float(np.median(r)) if r.size else None,
                    "joints": int(r.size), "found": found, "people": people}  # fmt: skip
    return out


def run(root: Path, work: Path, calibration: Path | None, every: int) -> dict:
    result: dict = {"recording": root.name, "detector": {}}
    folders = {}
    for name, config in READINGS.items():  # the default's where real_video.py --work finds them
        folders[name] = work / root.name / ("detections" if name == "mirrored" else name)
        t0 = time.perf_counter()
        s = detect_recording(root, folders[name], calibration=calibration, config=config)
        result["detector"][name] = {
            "images": s.detected, "skipped": s.skipped, "people": s.people,
            "images_per_s": s.images_per_second if s.detected else None,
            "wall_s": time.perf_counter() - t0}  # fmt: skip
    result["agreement"] = agreement(root, calibration, every)
    result["left_out"] = left_out(root, folders, calibration)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recording", type=Path, action="append", help="default: the real samples")
    ap.add_argument("--calibration", type=Path, help="another calibration of one --recording")
    ap.add_argument("--work", type=Path, help="detections kept here (default: a temporary folder)")
    ap.add_argument("--every", type=int, default=10, help="frames between agreement samples")
    ap.add_argument("--output", type=Path, default=RESULTS / "mirror_reading.json")
    args = ap.parse_args()
    recordings = args.recording or RECORDINGS
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        results = [run(r, work, args.calibration, args.every) for r in recordings]
    out = {"cpu": cpu_name(), "calibration": str(args.calibration or "beside the videos"),
           "results": results}  # fmt: skip
    atomic_write_text(args.output, json.dumps(out, indent=1) + "\n")
    for r in results:
        d = r["detector"]
        print(f"{r['recording']}: images/s one {d['one']['images_per_s']:.2f}, mirrored "
              f"{d['mirrored']['images_per_s']:.2f}; readings apart: median "
              f"{r['agreement']['median_pct_size']:.2f} % of the size")  # fmt: skip
        for cam, rows in r["left_out"].items():
            cells = [f"{k} {v['median_pct_height']:.2f} % ({v['joints']})" for k, v in rows.items()]
            print(f"  {cam}: " + "; ".join(cells))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
