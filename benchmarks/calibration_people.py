"""Camera poses from the people against a reference calibration of the same rig.

For a synchronized recording with a reference calibration (by default the 4-camera sample and its
marker-based Qualisys calibration): ``calibrate_from_people`` with the reference's intrinsics, for
each frame stride and each bone-length tolerance asked for, then per camera the rotation error (°)
and the centre error (cm) after a similarity alignment of the camera centres, and the error of
every camera-to-camera distance (%) with the scale from ``--person-height`` (no alignment). Also
printed: the people's heights the scale implies, in our metres and at the reference's scale (what
the detector's joints say the people measure, independent of ``--person-height``).

    python benchmarks/calibration_people.py --detections /tmp/dets   # keeps/reuses the detections
    python benchmarks/calibration_people.py --stride 5 1 --bone-tolerance 0.05 none
    python benchmarks/calibration_people.py --person-height 1.7 1.70,1.40   # mean, or each

Writes ``benchmarks/results/calibration_people.json`` (and prints a table). A run the calibration
refuses (too few shared people in the frames chosen) is a row too, with the refusal's message.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from tessetrack.calibrate.compare import compare_rigs
from tessetrack.calibrate.extrinsics import _selected, calibrate_from_people
from tessetrack.calibrate.people import PeopleConfig
from tessetrack.detector import detect_recording
from tessetrack.errors import InputError
from tessetrack.io.atomic import atomic_write_text
from tessetrack.io.calibration import load_cameras
from tessetrack.io.detections import load_detections

SHARED = Path(
    os.environ.get("TESSETRACK_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data")
)
RECORDING = SHARED / "multiperson_videos_4cams"


def _pair_errors(ours: dict, reference: dict) -> dict[str, float]:
    """``a-b`` -> our camera distance / the reference's − 1, in %."""
    names = [n for n in ours if n in reference]
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            d = np.linalg.norm(ours[a].center - ours[b].center)
            ref = np.linalg.norm(reference[a].center - reference[b].center)
            out[f"{a}-{b}"] = 100 * float(d / ref - 1)
    return out


def run(dets, reference: dict, stride: int, tolerance: float | None, height) -> dict:
    selected = _selected(dets, None, None, stride)
    t0 = time.perf_counter()
    try:
        result = calibrate_from_people(selected, reference, height,
                                       PeopleConfig(bone_tolerance=tolerance))  # fmt: skip
    except InputError as e:  # a refusal is a result too: which frames could not calibrate
        return {"stride": stride, "bone_tolerance": tolerance, "person_height": height,
                "error": str(e)}  # fmt: skip
    seconds = time.perf_counter() - t0
    cmp = compare_rigs(result.cameras, reference)
    pairs = _pair_errors(result.cameras, reference)
    return {
        "stride": stride, "frames": result.frames, "bone_tolerance": tolerance,
        "person_height": height, "seconds": seconds,
        "rotation_deg": cmp.rotation_deg,
        "centre_cm": {n: 100 * v for n, v in cmp.centre_m.items()},
        "distance_error_pct": pairs,
        "median_distance_error_pct": 100 * (cmp.distance_ratio - 1),
        "heights_m": list(result.frame.heights),
        "heights_at_reference_scale_m": [h * cmp.similarity.scale for h in result.frame.heights],
    }  # fmt: skip


def _heights(text: str) -> tuple[float, ...]:
    return tuple(float(h) for h in text.split(","))


def _tolerance(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recording", type=Path, default=RECORDING)
    ap.add_argument("--reference", type=Path, default=None,
                    help="reference calibration (default: RECORDING/calibration/Calib.qca.txt)")  # fmt: skip
    ap.add_argument("--detections", type=Path, default=None,
                    help="detections folder: reused when filled, else the detector fills it")  # fmt: skip
    ap.add_argument("--stride", type=int, nargs="+", default=[5, 1])
    ap.add_argument("--bone-tolerance", type=_tolerance, nargs="+", default=[0.05, None],
                    help="PeopleConfig.bone_tolerance values; 'none': no bone-length prior")  # fmt: skip
    ap.add_argument("--person-height", type=_heights, nargs="+", default=[(1.7,)],
                    help="the people's mean height, or one per person (1.70,1.40); several: "
                    "one run each")  # fmt: skip
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).parent / "results" / "calibration_people.json")  # fmt: skip
    args = ap.parse_args()
    reference = load_cameras(args.reference or args.recording / "calibration" / "Calib.qca.txt")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.detections or Path(tmp)
        detect_recording(args.recording, folder, cameras=list(reference))  # resumes: skips done
        dets = load_detections(folder, format="openpose", cameras=list(reference))
    rows = [run(dets, reference, s, tol, h[0] if len(h) == 1 else h)
            for h in args.person_height for tol in args.bone_tolerance for s in args.stride]  # fmt: skip
    from rich.console import Console
    from rich.table import Table

    table = Table("heights", "bones", "stride", "rotation °", "centre cm", "distance error % (median)",
                  "heights m (at the reference scale)", "s")  # fmt: skip
    for r in rows:
        if "error" in r:
            table.add_row(str(r["person_height"]), str(r["bone_tolerance"]), str(r["stride"]),
                          f"refused: {r['error']}", "", "", "", "")  # fmt: skip
            continue
        table.add_row(str(r["person_height"]), str(r["bone_tolerance"]), str(r["stride"]),
                      " ".join(f"{v:.2f}" for v in r["rotation_deg"].values()),
                      " ".join(f"{v:.1f}" for v in r["centre_cm"].values()),
                      " ".join(f"{v:+.1f}" for v in r["distance_error_pct"].values())
                      + f" ({r['median_distance_error_pct']:+.1f})",
                      " ".join(f"{a:.2f} ({b:.2f})" for a, b in
                               zip(r["heights_m"], r["heights_at_reference_scale_m"], strict=True)),
                      f"{r['seconds']:.0f}")  # fmt: skip
    Console(width=200).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        args.out, json.dumps({"recording": str(args.recording), "rows": rows}, indent=1)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
