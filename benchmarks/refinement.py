"""Refinement from the 2D detections, measured with exact ground truth: synthetic test scenes
(motions never trained on) in the Shelf, ring and Panoptic rigs, their simulated 2D detections
(OpenPose-like, and the built-in detector's measured errors), tracked by one model (the default
``detections-shelf``, in each rig's own frame, with ``track``'s default low-scored people the 2D
detections vouch for, :mod:`tessetrack.tracking.candidates`) — the network's joints against the refined ones
(with short misses filled; ``--smooth none``), and the refined ones smoothed over time (``track``'s
default, ``--smooth loess``), same run:
MPJPE per joint, PCP, MOTA, ID switches, and the refinement's and the smoothing's speed.

    python benchmarks/refinement.py [--frames 150] [--checkpoint detections-shelf]

Writes ``benchmarks/results/refinement.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from tessetrack.eval.evaluate import evaluate
from tessetrack.eval.pose_metrics import match_poses
from tessetrack.io.atomic import atomic_write_text
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import FramePoses, Tracks
from tessetrack.synth.detections_sim import DETECTOR_PROFILES
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.candidates import CandidateConfig
from tessetrack.tracking.canonical import enter_rig_frame, tracks_to_world
from tessetrack.tracking.gaps import refine_and_fill
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import DEFAULT_CHECKPOINT, SequenceRunner, load_model
from tessetrack.tracking.smoothing import loess_tracks

RIGS = ("shelf", "ring", "panoptic")


def per_joint_mpjpe(pred: Tracks, gt: Tracks) -> dict[str, float]:
    """Mean error per joint (mm) of the predictions matched to each GT person."""
    js = get_joint_set("panoptic19")
    by_frame = pred.by_frame()
    errs = []
    for f in gt.frames:
        g = np.stack([p.joints for p in f.people]) if f.people else np.zeros((0, js.num_joints, 3))
        fp = by_frame.get(f.frame)
        p = (
            np.stack([q.joints for q in fp.people])
            if fp and fp.people
            else np.zeros((0, js.num_joints, 3))
        )
        pi, gi = match_poses(p, g, gt_visible=np.isfinite(g).all(-1))
        errs.append(np.linalg.norm(p[pi] - g[gi], axis=-1))  # M×J
    e = np.concatenate(errs) if errs else np.zeros((0, js.num_joints))
    return {n: float(np.nanmean(e[:, j]) * 1000) for j, n in enumerate(js.joints)}


def _summary(pred: Tracks, gt: Tracks) -> dict:
    m = evaluate(pred, gt, ("mpjpe", "pcp", "mot3d"))
    pcp = m["pcp"]
    return {
        "mpjpe_mm": m["mpjpe_mm"],
        "pcp_avg": pcp.get("average") if isinstance(pcp, dict) else pcp,
        "mota": m.get("mota"),
        "id_switches": m.get("id_switches"),
        "per_joint_mm": per_joint_mpjpe(pred, gt),
    }


def run_scene(rig: str, profile: str, frames: int, checkpoint: str, work: Path) -> dict:
    scene = work / f"{rig}_{profile}"
    if not scene.exists():
        noise = DETECTOR_PROFILES[profile]
        generate_dataset(scene, SynthConfig(rig=rig, num_people=3, num_frames=frames, seed=200,
                                            split="test", images=False, noise=noise))  # fmt: skip
    data = open_input(scene, detections=scene / "detections")
    gt = Tracks(joint_names=get_joint_set("panoptic19").joints,
                frames=tuple(FramePoses(f.frame, f.people) for f in data), fps=data.fps)  # fmt: skip
    loaded = load_model(checkpoint)
    inside, rig_frame = enter_rig_frame(data, loaded.model)
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size,
                            candidates=CandidateConfig())  # track's default  # fmt: skip
    net = tracks_to_world(runner.run(inside), rig_frame)
    dets = {f.frame: (f.detections, f.cameras) for f in data}
    source = next(iter(data)).detections_joint_set
    t0 = time.perf_counter()
    ref, added = refine_and_fill(net, dets, detections_joint_set=source, joint_set="panoptic19")
    t1 = time.perf_counter()
    smoothed = loess_tracks(ref)
    t2 = time.perf_counter()
    return {"rig": rig, "detector": profile, "frames": frames, "filled": added,
            "network": _summary(net, gt), "refined": _summary(ref, gt),
            "smoothed": _summary(smoothed, gt), "refine_frames_per_s": frames / (t1 - t0),
            "smooth_frames_per_s": frames / (t2 - t1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "refinement.json"
    )
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rig in RIGS:
            for profile in ("openpose", "blazepose"):
                rows.append(run_scene(rig, profile, args.frames, args.checkpoint, Path(tmp)))
    table = Table(
        title=f"network → refined → smoothed (default) ({args.checkpoint}, synthetic test scenes)"
    )
    for col in (
        "rig",
        "detector",
        "MPJPE mm",
        "PCP %",
        "MOTA %",
        "ID sw.",
        "worst joint (refined)",
        "frames/s refine / smooth",
    ):
        table.add_column(col)
    for r in rows:
        n, f, m = r["network"], r["refined"], r["smoothed"]
        worst = max(f["per_joint_mm"].items(), key=lambda kv: kv[1])
        table.add_row(r["rig"], r["detector"],
                      f"{n['mpjpe_mm']:.1f} → {f['mpjpe_mm']:.1f} → {m['mpjpe_mm']:.1f}",
                      f"{n['pcp_avg']:.1f} → {f['pcp_avg']:.1f} → {m['pcp_avg']:.1f}",
                      f"{n['mota']:.1f} → {f['mota']:.1f} → {m['mota']:.1f}",
                      f"{n['id_switches']} → {f['id_switches']}", f"{worst[0]} {worst[1]:.0f}",
                      f"{r['refine_frames_per_s']:.0f} / {r['smooth_frames_per_s']:.0f}")  # fmt: skip
    Console(width=150).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        args.out,
        json.dumps({"checkpoint": args.checkpoint, "candidates": True, "results": rows}, indent=1),
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
