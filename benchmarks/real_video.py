"""Real recordings without 3D ground truth: leave one camera out, and the speed of every stage.

For each recording and each of its cameras in turn: track from all the other cameras (the
checkpoint, the refinement from the 2D detections and the filling of short misses, and the
smoothing over time — ``track``'s default, ``--smooth loess``; also the network alone and the
refined tracks unsmoothed, ``--smooth none``), project the
tracked poses into the left-out camera and compare them with the built-in detector's people there
(:func:`tessetrack.eval.reprojection.left_out_errors`: median joint error in pixels and in % of the
person's 2D height, people found). The baseline in the same run: plain triangulation of the same
detections (:func:`tessetrack.tracking.geometric.triangulate_people`), no model. Speeds: video
decoding and the detector (images/s), tracking, refinement and smoothing (frames/s), and end to
end for all cameras (frames/s), on this machine's CPU. The refined poses (smoothed and not) and
the baseline are also compared on the joints both placed of the 2D people both paired (the
baseline leaves out the people and joints it cannot pair in two views that agree, mostly the
harder ones). Per left-out camera of a video, also: the smoothed poses' median error per joint, and
the detector's frame-to-frame jitter there
(:func:`tessetrack.eval.detector_errors.temporal_jitter`: the part of its error smoothing can take
out).

    python benchmarks/real_video.py                      # the two real recordings of the test data
    python benchmarks/real_video.py --recording DIR ...  # your own (calibration beside the videos)
    python benchmarks/real_video.py --checkpoint A B     # checkpoints side by side
    python benchmarks/real_video.py --recording DIR --calibration my.toml --work /tmp/rv
                                          # another calibration of the recording; the built-in
                                          # detector's detections kept in /tmp/rv and reused

The detections go to ``WORK/<recording>/detections`` (``--work``; default: a temporary folder,
removed at the end); the detector skips the frames already there.

Writes ``benchmarks/results/real_video.json`` (and prints a table).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from tessetrack.detector import BlazePoseConfig, detect_recording
from tessetrack.eval.detector_errors import temporal_jitter
from tessetrack.eval.reprojection import common_people, left_out_errors
from tessetrack.io.atomic import atomic_write_text
from tessetrack.skeletons import get_joint_set
from tessetrack.tracking.candidates import CandidateConfig
from tessetrack.tracking.canonical import enter_rig_frame, tracks_to_world
from tessetrack.tracking.gaps import refine_and_fill
from tessetrack.tracking.geometric import triangulate_people
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import DEFAULT_CHECKPOINT, SequenceRunner, load_model
from tessetrack.tracking.smoothing import loess_tracks

SHARED = Path(
    os.environ.get("TESSETRACK_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data")
)
RECORDINGS = [SHARED / "multiperson_videos_4cams", SHARED / "panoptic_demo_images"]


def _summary(errs: list) -> dict:
    px = np.concatenate([e.pixels for e in errs]) if errs else np.zeros(0)
    rel = np.concatenate([e.relative for e in errs]) if errs else np.zeros(0)
    found = sum(e.found for e in errs)
    people = sum(e.people for e in errs)
    return {
        "median_px": float(np.median(px)) if px.size else float("nan"),
        "median_pct_height": 100 * float(np.median(rel)) if rel.size else float("nan"),
        "mean_pct_height": 100 * float(np.mean(rel)) if rel.size else float("nan"),
        "joints": int(px.size),
        "found": found,
        "people": people,
    }


def _per_joint(errs: list, names: list[str]) -> dict:
    """Median error of each joint over all frames, in % of the 2D person's height."""
    rel = np.concatenate([e.relative for e in errs]) if errs else np.zeros(0)
    joint = np.concatenate([e.joint for e in errs]) if errs else np.zeros(0, dtype=np.int64)
    return {names[j]: 100 * float(np.median(rel[joint == j])) for j in np.unique(joint)}


def _id_stats(tracks) -> dict:
    frames = Counter(p.id for f in tracks.frames for p in f.people)
    return {"tracks": len(frames), "frames_per_track": dict(sorted(frames.items()))}


def _run(loaded, trained, dataset, volume: str, candidates: CandidateConfig | None):
    """The network's tracks of ``dataset`` in the world (``volume`` auto: in the rig's frame;
    ``trained``: the model's own voxel grid, restored first; ``candidates``: as ``track``'s)."""
    loaded.model.detector.grid = trained
    rig = None
    if volume == "auto":
        dataset, rig = enter_rig_frame(dataset, loaded.model)
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size, candidates=candidates)
    tracks = runner.run(dataset)
    return tracks if rig is None else tracks_to_world(tracks, rig)


def run_recording(
    root: Path,
    checkpoint: str,
    work: Path,
    volume: str = "auto",
    calibration: Path | None = None,
    detector_config: BlazePoseConfig | None = None,
    candidates: CandidateConfig | None = CandidateConfig(),
) -> dict:
    """``calibration``: None for the one beside the recording's videos; ``detector_config``: the
    built-in detector's settings (None: its defaults); ``candidates``: the low-scored people the
    2D detections vouch for (``track``'s default; None: the detector's threshold alone)."""
    dets_dir = work / root.name / "detections"
    t0 = time.perf_counter()
    det = detect_recording(root, dets_dir, calibration=calibration, config=detector_config)
    detect_wall = time.perf_counter() - t0
    dataset = open_input(root, detections=dets_dir, calibration=calibration)
    names = list(dataset.cameras)
    frames = {f.frame: f for f in dataset}
    source = next(iter(frames.values())).detections_joint_set
    loaded = load_model(checkpoint)
    trained = loaded.model.grid  # the trained volume, restored before every run
    joint_set = loaded.model.config.pose_head.joint_set
    joint_names = list(get_joint_set(joint_set).joints)
    # all cameras: identities and speed
    t0 = time.perf_counter()
    tracks = _run(loaded, trained, dataset, volume, candidates)
    track_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    refined, _ = refine_and_fill(tracks, {k: (f.detections, f.cameras) for k, f in frames.items()},
                                 detections_joint_set=source, joint_set=joint_set)  # fmt: skip
    refine_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    loess_tracks(refined)
    smooth_s = time.perf_counter() - t0
    n = len(frames)
    out: dict = {
        "recording": root.name, "cameras": names, "frames": n, "checkpoint": checkpoint,
        "volume": volume, "candidates": candidates is not None,
        "calibration": str(calibration) if calibration else "beside the videos",
        "identities_all_cameras": _id_stats(tracks),
        "identities_all_cameras_refined": _id_stats(refined),
        "speed": {
            "decode_images_per_s": det.detected / det.decode_seconds if det.detected else None,
            "detect_images_per_s": det.images_per_second if det.detected else None,
            "track_frames_per_s": n / track_s,
            "refine_frames_per_s": n / refine_s,
            "smooth_frames_per_s": n / smooth_s,
            "end_to_end_frames_per_s": n / (det.decode_seconds + det.detect_seconds + track_s
                                            + refine_s + smooth_s) if det.detected else None,
            "detect_wall_s": detect_wall,
        },
        "left_out": {},
    }  # fmt: skip
    for left in names:
        others = [c for c in names if c != left]
        sub = open_input(root, detections=dets_dir, cameras=others, calibration=calibration)
        net = _run(loaded, trained, sub, volume, candidates)
        ref, _ = refine_and_fill(net, {k: ({c: f.detections[c] for c in others if c in f.detections},
                                           f.cameras) for k, f in frames.items()},
                                 detections_joint_set=source, joint_set=joint_set)  # fmt: skip
        smoothed = loess_tracks(ref)
        errs: dict[str, list] = {"network": [], "refined": [], "smoothed": [], "triangulation": [],
                                 "refined_common": [], "triangulation_common": [],
                                 "smoothed_common": [], "triangulation_common_smoothed": []}  # fmt: skip
        for fp_net, fp_ref, fp_smooth in zip(net.frames, ref.frames, smoothed.frames, strict=True):
            f = frames[fp_net.frame]
            dets = f.detections.get(left)
            if dets is None:
                continue
            cam = f.cameras[left]
            tri = triangulate_people({c: f.detections[c] for c in others if c in f.detections},
                                     f.cameras, detections_joint_set=source, joint_set=joint_set)  # fmt: skip
            for key, poses in (("network", [p.joints for p in fp_net.people]),
                               ("refined", [p.joints for p in fp_ref.people]),
                               ("smoothed", [p.joints for p in fp_smooth.people]),
                               ("triangulation", [p for p, _ in tri])):  # fmt: skip
                errs[key].append(left_out_errors(poses, dets, cam, detections_joint_set=source,
                                                 joint_set=joint_set))  # fmt: skip
            # the two on the 2D people both paired (the baseline leaves the harder ones out)
            fair = common_people(errs["refined"][-1], errs["triangulation"][-1])
            errs["refined_common"].append(fair[0])
            errs["triangulation_common"].append(fair[1])
            fair = common_people(errs["smoothed"][-1], errs["triangulation"][-1])
            errs["smoothed_common"].append(fair[0])
            errs["triangulation_common_smoothed"].append(fair[1])
        out["left_out"][left] = {k: _summary(v) for k, v in errs.items()}
        out["left_out"][left]["smoothed_per_joint"] = _per_joint(errs["smoothed"], joint_names)
        if not dataset.fps:  # images of unrelated moments: no frame-to-frame jitter to measure
            continue
        seq = [frames[k].detections.get(left) if k in frames else None
               for k in range(min(frames), max(frames) + 1)]  # fmt: skip
        jitter = temporal_jitter(seq)  # the part of the detector's error smoothing can take out
        out["left_out"][left]["detector_jitter"] = {
            "sigma_pct_height": 100 * jitter.sigma, "median_2d_pct_height": 100 * jitter.median_2d,
            "std_pct_height": 100 * jitter.std, "coordinates": jitter.coordinates}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recording", nargs="*", type=Path, default=RECORDINGS)
    parser.add_argument("--checkpoint", nargs="+", default=[DEFAULT_CHECKPOINT],
                        help="one or more checkpoints, compared side by side")  # fmt: skip
    parser.add_argument("--volume", nargs="+", default=["auto"], choices=["auto", "model"],
                        help="the rig's own volume (auto), the trained one (model), or both")  # fmt: skip
    parser.add_argument("--calibration", nargs="*", type=Path, default=None,
                        help="a calibration file per recording, in order (default: the one "
                        "beside each recording's videos)")  # fmt: skip
    parser.add_argument("--no-candidates", action="store_true",
                        help="the detector's threshold alone (track --no-candidates)")  # fmt: skip
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the detections in WORK/<recording>/detections and reuse them "
                        "(default: a temporary folder)")  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "real_video.json"
    )
    args = parser.parse_args()
    calibrations = args.calibration or [None] * len(args.recording)
    if len(calibrations) != len(args.recording):
        parser.error("--calibration needs one file per --recording")
    import platform

    from rich.console import Console
    from rich.table import Table

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for checkpoint in args.checkpoint:
            for volume in args.volume:
                for root, calibration in zip(args.recording, calibrations, strict=True):
                    results.append(run_recording(
                        root, checkpoint, work, volume, calibration,
                        candidates=None if args.no_candidates else CandidateConfig()))  # fmt: skip
    table = Table(title="leave one camera out: median error px / % of height, found/people")
    for col in (
        "checkpoint",
        "volume",
        "recording",
        "left out",
        "network",
        "refined, --smooth none",
        "smoothed (default)",
        "triangulation",
        "same joints: smoothed / triangulation · refined / triangulation",
    ):
        table.add_column(col)
    for r in results:
        for cam, row in r["left_out"].items():
            cells = [f"{row[k]['median_px']:.1f} / {row[k]['median_pct_height']:.2f} %, "
                     f"{row[k]['found']}/{row[k]['people']}" for k in ("network", "refined", "smoothed", "triangulation")]  # fmt: skip
            pct = [f"{row[k]['median_pct_height']:.2f}" for k in (
                "smoothed_common", "triangulation_common_smoothed", "refined_common",
                "triangulation_common")]  # fmt: skip
            cells.append(f"{pct[0]} / {pct[1]} · {pct[2]} / {pct[3]} %, "
                         f"{row['smoothed_common']['found']} people")  # fmt: skip
            table.add_row(r["checkpoint"], r["volume"], r["recording"], cam, *cells)
    console = Console(width=160)
    console.print(table)
    for r in results:
        console.print(r["checkpoint"], r["volume"], r["recording"], r["identities_all_cameras"],
                      r["identities_all_cameras_refined"],
                      {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r["speed"].items()})  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "cpu": platform.processor() or platform.machine(),
        "threads": os.cpu_count(),
        "results": results,
    }
    atomic_write_text(args.out, json.dumps(doc, indent=1))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
