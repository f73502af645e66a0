"""Tracking with a calibration that has drifted, as given and refined from the people
(``tessetrack track --refine-calibration``).

For each rig (TUM Shelf, TUM Campus, CMU Panoptic and the 4-camera lab's Qualisys calibration), the
unseen-rig benchmark's synthetic test scene (the same seed) (``unseen_rigs.make_scene``: test motion, 3 people,
OpenPose BODY25 detections simulated with their default errors) is tracked with ``track``'s
defaults from the detections and

- the exact calibration, and
- the calibration drifted: half of the cameras (at least one), drawn at random, turned by 1.5-3°
  about a random axis and moved by 3-10 cm (seeded),

each as given and refined from the people, in the same run. Scored: PCP (α = 0.5), MPJPE and
per-joint 3D MOTA against the ground truth, how far the cameras are from the truth (largest
rotation in °, largest centre distance in cm; after the similarity that
:func:`~tessetrack.calibrate.compare.compare_rigs` takes out, and in the world itself, where the
tracks are), and the run's seconds (refinement included; the ratio of the two runs is the
refinement's cost).

    python benchmarks/calibration_drift.py [--frames 60] [--seed 200]

Writes ``benchmarks/results/calibration_drift.{csv,json}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, cpu_name, wide_console, write_rows
from rich.table import Table
from scipy.spatial.transform import Rotation
from unseen_rigs import LAB, make_scene

from tessetrack.calibrate.compare import compare_rigs, rotation_deg
from tessetrack.eval.evaluate import evaluate, load_ground_truth
from tessetrack.geometry.camera import Camera
from tessetrack.io import load_cameras
from tessetrack.io.calibration import save_cameras
from tessetrack.io.tracks import load_tracks
from tessetrack.tracking.runner import DEFAULT_CHECKPOINT, track_to_file


def drifted(cameras: dict[str, Camera], rng: np.random.Generator) -> tuple[dict[str, Camera], list]:
    """Half of ``cameras`` (at least one) turned 1.5-3° about a random axis and moved 3-10 cm in
    a random direction; and the names of those moved."""
    names = sorted(cameras)
    moved = sorted(rng.choice(names, size=max(1, len(names) // 2), replace=False).tolist())
    out = dict(cameras)
    for n in moved:
        cam = cameras[n]
        axis, direction = rng.normal(size=3), rng.normal(size=3)
        turn = Rotation.from_rotvec(np.radians(rng.uniform(1.5, 3.0)) * axis / np.linalg.norm(axis))
        R = turn.as_matrix() @ cam.R
        centre = cam.center + rng.uniform(0.03, 0.10) * direction / np.linalg.norm(direction)
        out[n] = Camera(cam.name, cam.K, R, -R @ centre, cam.dist, cam.width, cam.height)
    return out, moved


def run(scene: Path, calibration: Path, truth: dict[str, Camera], refine: bool, tmp: Path) -> dict:
    """Track ``scene``'s detections with ``calibration`` (refined or not) and score."""
    out = tmp / f"{calibration.stem}_{refine}.json"
    t0 = time.perf_counter()
    summary = track_to_file(None, output=out, checkpoint=DEFAULT_CHECKPOINT,
                            calibration=calibration, detections=scene / "detections",
                            detections_format="openpose", refine_calibration=refine)  # fmt: skip
    seconds = time.perf_counter() - t0
    done = summary.calibration  # None: not asked, or the people could not refine the rig
    used = load_cameras(calibration) if done is None else done.cameras
    cmp = compare_rigs(used, truth)
    res = evaluate(load_tracks(out), load_ground_truth(str(scene)), ["pcp", "mpjpe", "mot3d"])
    return {"pcp": res["pcp"]["average"], "mpjpe_mm": res.get("mpjpe_mm", float("nan")),
            "mota": res.get("mota"), "refined_used": done is not None,
            "max_rotation_deg": max(cmp.rotation_deg.values()),
            "max_centre_cm": 100 * max(cmp.centre_m.values()),
            "world_rotation_deg": max(rotation_deg(c.R @ truth[n].R.T) for n, c in used.items()),
            "world_centre_cm": 100 * max(np.linalg.norm(c.center - truth[n].center)
                                         for n, c in used.items()),
            "seconds": round(seconds, 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rigs", default="shelf,campus,panoptic,lab")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=200, help="the scenes' and the drift's seed")
    ap.add_argument("--name", default="calibration_drift")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for rig in args.rigs.split(","):
            spec = str(LAB) if rig == "lab" else rig
            scene = make_scene(spec, tmp / rig, args.frames, args.seed, "rig")
            truth = load_cameras(next(scene.glob("calibration*.json")))
            rng = np.random.default_rng(args.seed)
            given, moved = drifted(truth, rng)
            exact, drift = tmp / f"{rig}_exact.toml", tmp / f"{rig}_drifted.toml"
            save_cameras(truth, exact)
            save_cameras(given, drift)
            for calibration in (exact, drift):
                for refine in (False, True):
                    row = {"rig": rig, "calibration": calibration.stem.split("_")[1],
                           "moved": ",".join(moved) if calibration == drift else "",
                           "refined": refine,
                           **run(scene, calibration, truth, refine, tmp)}  # fmt: skip
                    rows.append(row)
                    print(row, flush=True)
    write_rows(RESULTS / args.name, rows, list(rows[0]),
               {"cpu": cpu_name(), "frames": args.frames, "seed": args.seed,
                "checkpoint": DEFAULT_CHECKPOINT})  # fmt: skip
    table = Table(title="tracking with an exact and a drifted calibration, as given and refined")
    columns = ("rig", "calibration", "refined", "PCP %", "MPJPE mm", "MOTA %", "max °", "max cm",
               "world °", "world cm", "s")  # fmt: skip
    for col in columns:
        table.add_column(col)
    for r in rows:
        table.add_row(r["rig"], r["calibration"], str(r["refined"]), f"{r['pcp']:.1f}",
                      f"{r['mpjpe_mm']:.1f}", f"{r['mota']:.1f}", f"{r['max_rotation_deg']:.2f}",
                      f"{r['max_centre_cm']:.1f}", f"{r['world_rotation_deg']:.2f}",
                      f"{r['world_centre_cm']:.1f}", f"{r['seconds']:.0f}")  # fmt: skip
    wide_console().print(table)


if __name__ == "__main__":
    main()
