"""How the built-in 2D detector (BlazePose) errs, fitted as the detection simulator's settings.

Two sources, fitted separately (:func:`tessetrack.eval.detector_errors.fit_noise`):

* **rendered scenes** (ground truth known): ``tessetrack synth`` scenes with images in two rigs
  (a ring of five cameras and the Shelf rig), the detector run on every image, its BODY25 people
  compared with the projected ground truth;
* **real recordings** (no ground truth): every camera in turn, the people triangulated from the other
  cameras' detections (:func:`tessetrack.tracking.geometric.triangulate_people`) and projected into
  it — an upper bound, as the triangulation's own errors and the calibration's add in.

Both fits hold every setting, joint offsets included. The shipped profile
(``DETECTOR_PROFILES["blazepose"]`` in :mod:`tessetrack.synth.detections_sim`) is the real
recordings' fit (``real_left_out``); the renders' (``rendered``) is kept beside it: on TinyRenderer's
images the detector misses more people (58 % of the views against 23 %) and draws the shoulders and
elbows further inwards (0.11-0.19 of the body's width against 0.05-0.10). The offsets a triangulation
from the same detector's other views shows are those the views do not share (a shared offset is
triangulated with the point), so the real fit is a lower bound for them.

    python benchmarks/detector_errors.py [--frames 60] [--work DIR]

Writes ``benchmarks/results/detector_errors.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tessetrack.detector import detect_recording
from tessetrack.eval.detector_errors import compare_view, fit_noise
from tessetrack.io.atomic import atomic_write_text
from tessetrack.skeletons import convert_joints
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.geometric import triangulate_people
from tessetrack.tracking.inputs import open_input

SHARED = Path(
    os.environ.get("TESSETRACK_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data")
)
RECORDINGS = [SHARED / "multiperson_videos_4cams", SHARED / "panoptic_demo_images"]
RENDERED = [("ring", (960, 720), 11), ("shelf", (1032, 776), 12)]


def _expected(joints19: np.ndarray, cam) -> np.ndarray:
    """(P, 25, 2) BODY25 projections of Panoptic-19 world joints, as the simulator forms them."""
    uv = cam.project(joints19)
    uv = np.where((cam.depth(joints19) > 0.05)[..., None], uv, np.nan)
    return convert_joints(uv, "panoptic19", "body25")


def rendered(frames: int, work: Path) -> list:
    views = []
    for rig, size, seed in RENDERED:
        root = work / f"render_{rig}"
        if not root.exists():
            generate_dataset(root, SynthConfig(rig=rig, num_people=3, num_frames=frames, seed=seed,
                                               split="test", image_size=size, face="measured",
                                               varied_floors=True, detections=None))  # fmt: skip
        dets = work / f"render_{rig}_dets"
        detect_recording(root, dets)
        for f in open_input(root, detections=dets):
            if not f.people:
                continue
            joints = np.stack([p.joints for p in f.people])  # P×19×3
            for name, cam in f.cameras.items():
                d = f.detections.get(name, np.zeros((0, 25, 3)))
                views.append(compare_view(_expected(joints, cam), d, width=cam.width,
                                          height=cam.height, joint_set="body25"))  # fmt: skip
    return views


def real(root: Path, work: Path) -> list:
    dets = work / f"{root.name}_dets"
    detect_recording(root, dets)
    views = []
    for f in open_input(root, detections=dets):
        for left, cam in f.cameras.items():
            others = {c: d for c, d in f.detections.items() if c != left}
            tri = triangulate_people(others, f.cameras, detections_joint_set="body25",
                                     joint_set="body25")  # fmt: skip
            if not tri:
                continue
            pts = np.stack([p for p, _ in tri])  # P×25×3
            uv = np.where((cam.depth(np.nan_to_num(pts)) > 0.05)[..., None],
                          cam.project(np.nan_to_num(pts)), np.nan)  # fmt: skip
            uv[~np.isfinite(pts).all(-1)] = np.nan
            d = f.detections.get(left, np.zeros((0, 25, 3)))
            views.append(compare_view(uv, d, width=cam.width, height=cam.height,
                                      joint_set="body25"))  # fmt: skip
    return views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per rendered scene")
    parser.add_argument("--work", type=Path, help="keep renders and detections here (reused)")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "detector_errors.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = {}
        noise, stats = fit_noise(rendered(args.frames, work), "body25")
        result["rendered"] = {"noise": asdict(noise), "stats": stats}
        real_views = [v for root in RECORDINGS for v in real(root, work)]
        noise, stats = fit_noise(real_views, "body25")
        result["real_left_out"] = {"noise": asdict(noise), "stats": stats}
    for key, r in result.items():
        n = dict(r["noise"])
        n.pop("offsets")
        print(key, json.dumps(n), "median error % height:", r["stats"]["median_error_pct_height"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
