"""Refining a recording's calibration from its people: do the cameras agree better on frames the
refinement did not see?

For a synchronized recording with a calibration (by default the 4-camera sample and its
marker-based Qualisys calibration) and the built-in detector's 2D people: the frames are cut into
two halves; the calibration is refined from the people of one half
(:func:`tessetrack.calibrate.extrinsics.refine_from_people`, as ``calibrate extrinsics --refine``)
and judged on the other, leave one camera out: track from the other cameras with ``track``'s
defaults (the checkpoint, the refinement from the 2D detections, ``--smooth loess``), project into
the left-out camera and compare with its 2D people there (median joint error, % of the person's
2D height; :func:`tessetrack.eval.reprojection.left_out_errors`). The calibration as given is
judged on the same frames in the same run. Also reported: how far each camera moved (rotation °,
centre cm, after a similarity alignment), each camera's median reprojection error in the
refinement (px), and the calibration refined from all frames judged on all frames (in-sample: it
saw the left-out camera's people it is compared with; what a user who refines and then tracks the
same recording gets).

    python benchmarks/calibration_refine.py --work /tmp/cr        # keeps/reuses the detections
    python benchmarks/calibration_refine.py --recording DIR --calibration FILE

Writes ``benchmarks/results/calibration_refine.json`` (and prints a table).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import numpy as np
from real_video import SHARED, _run, _summary

from tessetrack.calibrate.compare import compare_rigs
from tessetrack.calibrate.extrinsics import _selected, refine_from_people
from tessetrack.detector import detect_recording
from tessetrack.eval.reprojection import left_out_errors
from tessetrack.io.atomic import atomic_write_text
from tessetrack.io.calibration import save_cameras
from tessetrack.io.detections import load_detections
from tessetrack.tracking.candidates import CandidateConfig
from tessetrack.tracking.gaps import refine_and_fill
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import DEFAULT_CHECKPOINT, load_model
from tessetrack.tracking.smoothing import loess_tracks

RECORDING = SHARED / "multiperson_videos_4cams"


def _left_out(root: Path, dets_dir: Path, calibration: Path | None, loaded, span) -> dict:
    """Leave-one-camera-out errors of ``track``'s default pipeline on frames ``span`` (start,
    end) with ``calibration`` (None: the one beside the videos)."""
    start, end = span
    dataset = open_input(root, detections=dets_dir, calibration=calibration, start=start, end=end)
    frames = {f.frame: f for f in dataset}
    source = next(iter(frames.values())).detections_joint_set
    joint_set = loaded.model.config.pose_head.joint_set
    trained = loaded.model.grid
    out = {}
    for left in dataset.cameras:
        others = [c for c in dataset.cameras if c != left]
        sub = open_input(root, detections=dets_dir, calibration=calibration, cameras=others,
                         start=start, end=end)  # fmt: skip
        net = _run(loaded, trained, sub, "auto", CandidateConfig())
        refined, _ = refine_and_fill(net, {k: ({c: f.detections[c] for c in others
                                                if c in f.detections}, f.cameras)
                                           for k, f in frames.items()},
                                     detections_joint_set=source, joint_set=joint_set)  # fmt: skip
        errs = [left_out_errors([p.joints for p in fp.people], frames[fp.frame].detections[left],
                                frames[fp.frame].cameras[left], detections_joint_set=source,
                                joint_set=joint_set)
                for fp in loess_tracks(refined).frames if left in frames[fp.frame].detections]  # fmt: skip
        out[left] = _summary(errs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recording", type=Path, default=RECORDING)
    parser.add_argument("--calibration", type=Path, default=None,
                        help="default: the calibration beside the videos")  # fmt: skip
    parser.add_argument("--frames", type=int, default=100, help="frames 0..N-1, cut in halves")
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the detections here and reuse them")  # fmt: skip
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "calibration_refine.json")  # fmt: skip
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    n, half = args.frames, args.frames // 2
    halves = {"first": (0, half), "second": (half, n)}
    other = {"first": "second", "second": "first"}
    loaded = load_model(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        dets_dir = work / args.recording.name / "detections"
        detect_recording(args.recording, dets_dir, calibration=args.calibration, end=n)
        given = open_input(args.recording, detections=dets_dir, calibration=args.calibration,
                           end=1).cameras  # fmt: skip
        dets = load_detections(dets_dir, format="openpose", cameras=tuple(given))
        rows: dict = {"given": {"all": _left_out(args.recording, dets_dir, args.calibration,
                                                 loaded, (0, n))}}  # fmt: skip
        moved, fits = {}, {}
        for fit_on, span in {**halves, "all": (0, n)}.items():
            result = refine_from_people(_selected(dets, *span, 1), given)
            path = work / f"refined_{fit_on}.toml"
            save_cameras(result.cameras, path)
            cmp = compare_rigs(result.cameras, given)
            moved[fit_on] = {c: {"rotation_deg": cmp.rotation_deg[c],
                                 "centre_cm": 100 * cmp.centre_m[c]} for c in given}  # fmt: skip
            fits[fit_on] = {c: f.median_px for c, f in result.fits.items()}
            judged = (0, n) if fit_on == "all" else halves[other[fit_on]]
            rows[f"refined on {fit_on}"] = {
                "all" if fit_on == "all" else other[fit_on]: _left_out(
                    args.recording, dets_dir, path, loaded, judged)}  # fmt: skip
        for h, span in halves.items():  # the given calibration on each half alone
            rows["given"][h] = _left_out(args.recording, dets_dir, args.calibration, loaded, span)
    out = {"cpu": platform.machine(), "recording": args.recording.name, "frames": n,
           "checkpoint": args.checkpoint,
           "calibration": str(args.calibration) if args.calibration else "beside the videos",
           "halves": halves, "left_out": rows, "moved": moved, "refinement_median_px": fits}  # fmt: skip
    atomic_write_text(args.out, json.dumps(out, indent=1))
    cams = list(given)
    table = Table(title="leave one camera out, median % of the 2D height (found/people): "
                        "calibration refined on one half, judged on the other")  # fmt: skip
    for col in ("judged on", "calibration", *cams):
        table.add_column(col)
    for judged in ("second", "first", "all"):
        for name in ("given", *(k for k in rows if k != "given")):
            if judged in rows[name]:
                r = rows[name][judged]
                table.add_row(judged, name, *(f"{r[c]['median_pct_height']:.2f} "
                                              f"({r[c]['found']}/{r[c]['people']})" for c in cams))  # fmt: skip
    console = Console(width=160)
    console.print(table)
    for fit_on, m in moved.items():
        console.print(f"refined on {fit_on}: " + ", ".join(
            f"{c} {m[c]['rotation_deg']:.1f}° {m[c]['centre_cm']:.0f} cm "
            f"({fits[fit_on][c]:.1f} px)" for c in cams))  # fmt: skip
    console.print(f"wrote {args.out}; mean of the medians: " + ", ".join(
        f"{name} on {j} {np.mean([r[c]['median_pct_height'] for c in cams]):.2f} %"
        for name, row in rows.items() for j, r in row.items()))  # fmt: skip


if __name__ == "__main__":
    main()
