"""One model for every rig: a detections model that never saw these rigs against each rig's own model.

For each rig — TUM Shelf (5 cameras), TUM Campus (3), CMU Panoptic (5 HD cameras) and the 4-camera
lab of ``../shared/data/multiperson_videos_4cams`` (its Qualisys calibration) — a synthetic test
scene (``tessetrack synth --split test --no-images``: motion clips never trained on, people in
each rig's own area — the lab's: where two or more of its cameras see a person whole; ``--walk
two-views`` puts them there in every rig —, OpenPose BODY25 detections simulated with their
default errors) is tracked the way a user tracks it
(``tessetrack track``: the rig's own frame and capture area found from the calibration, refinement
from the detections) and scored: PCP (α = 0.5, every GT person), MPJPE of the matched poses and
per-joint 3D MOTA (paper §4.3). The rig-agnostic model runs with all the views and with 1, 2 and 3
of them (the GT then keeps the person-frames at least one of those views sees; PCP is also given on
the person-frames two of them see, where a position can be triangulated); each rig's own model
(where one is shipped) with all views, in the same run. The tracks are smoothed over time as
``track`` does by default (``--smooth loess``); the ``*_none`` columns score the same tracks
unsmoothed (``--smooth none``).

Then the speed and memory of the person detector (the stage whose cost grows with the capture area)
for capture areas of 3 m to 15 m a side at the model's voxel size.

Usage::

    python benchmarks/unseen_rigs.py --checkpoint detections-any [--frames 60] \\
        [--lab ../shared/data/multiperson_videos_4cams/calibration/Calib.qca.txt]

Writes ``benchmarks/results/unseen_rigs.{csv,json,png}`` (``--name`` changes the stem).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS, cpu_name, wide_console, write_rows
from rich.table import Table

from tessetrack.eval.evaluate import evaluate, load_ground_truth
from tessetrack.eval.visibility import restrict_to_views
from tessetrack.geometry.rig_frame import RigFrame, volume_for
from tessetrack.geometry.voxel_grid import VoxelGrid
from tessetrack.io import load_cameras
from tessetrack.io.tracks import load_tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.runner import load_model, track_to_file
from tessetrack.tracking.smoothing import loess_tracks

#: Each rig's own shipped model (the lab has none).
OWN_MODELS = {"shelf": "detections-shelf", "campus": "detections-campus",
              "panoptic": "detections-panoptic"}  # fmt: skip
LAB = (
    Path(__file__).resolve().parents[2]
    / "shared/data/multiperson_videos_4cams/calibration/Calib.qca.txt"
)


def make_scene(rig: str, out: Path, frames: int, seed: int, walk: str) -> Path:
    """A synthetic test scene (poses, cameras, simulated detections) in ``rig``, its people
    walking where ``walk`` says (:attr:`~tessetrack.synth.generate.SynthConfig.walk`)."""
    cfg = SynthConfig(rig=rig, num_people=3, num_frames=frames, seed=seed, split="test",
                      images=False, face="measured", walk=walk)  # fmt: skip
    generate_dataset(out, cfg)
    return out


def score(scene: Path, checkpoint: str, views: int | None) -> dict:
    """Track ``scene`` with ``checkpoint`` on its first ``views`` cameras (None: all) and score."""
    cams = load_cameras(next(scene.glob("calibration*.json")))
    names = sorted(cams)[: views or len(cams)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tracks.json"
        t0 = time.perf_counter()
        track_to_file(scene, output=out, checkpoint=checkpoint, detections=scene / "detections",
                      detections_format="openpose", cameras=names, smooth="none")  # fmt: skip
        seconds = time.perf_counter() - t0
        raw = load_tracks(out)
    pred = loess_tracks(raw)  # what track_to_file's default (smooth="loess") writes: the same step
    full = load_ground_truth(str(scene))
    gt, kept, total = restrict_to_views(full, [cams[n] for n in names], 1)
    res = evaluate(pred, gt, ["pcp", "mpjpe", "mot3d"])
    none = evaluate(raw, gt, ["pcp", "mpjpe", "mot3d"])  # --smooth none
    two, kept2, _ = restrict_to_views(full, [cams[n] for n in names], 2)
    pcp2 = evaluate(pred, two, ["pcp"])["pcp"]["average"] if kept2 else None
    return {
        "views": len(names),
        "pcp": res["pcp"]["average"],
        "mpjpe_mm": res.get("mpjpe_mm"),
        "mota": res.get("mota"),
        "id_switches": res.get("id_switches"),
        "tracks": len({p.id for f in pred.frames for p in f.people}),
        "gt_person_frames": f"{kept}/{total}",
        "pcp_two_views": pcp2,
        "person_frames_two_views": f"{kept2}/{total}",
        "frames_per_s": round(len(pred.frames) / seconds, 2),
        "pcp_none": none["pcp"]["average"],
        "mpjpe_none_mm": none.get("mpjpe_mm"),
        "mota_none": none.get("mota"),
    }


def detector_cost(
    checkpoint: str, sides: list[float], views: int = 5, repeats: int = 3
) -> list[dict]:
    """Seconds per frame and peak resident memory of the person detector over a ``side`` × ``side`` m
    capture area (the model's voxel size and height range), ``views`` views of random heatmaps."""
    loaded = load_model(checkpoint, device="cpu")
    model, base = loaded.model, loaded.model.grid
    rows = []
    for side in sorted(sides):
        area = np.array([[-side / 2, -side / 2], [side / 2, side / 2]])
        grid = volume_for(RigFrame(R=np.eye(3), t=np.zeros(3), area=area), base)
        n = grid.shape[0]
        rows.append({"area_m": side, "voxels": f"{n}x{n}x{base.shape[2]}",
                     **_time_detector(model, grid, views, repeats)})  # fmt: skip
    return rows


def _time_detector(model: torch.nn.Module, grid: VoxelGrid, views: int, repeats: int) -> dict:
    from tessetrack.geometry.views import Views
    from tessetrack.synth.rigs import ring_rig

    rig = ring_rig(views, width=512, height=384, radius=grid.size[0] / 2 + 3.0)
    cams = Views.from_cameras(list(rig.cameras), (512, 384))[None]  # 1×V
    feats = torch.rand(1, views, model.config.feature_channels, 96, 128)  # heatmaps at 1/4
    old = model.detector.grid
    model.detector.grid = grid
    try:
        with torch.inference_mode():
            model.detect(feats, cams)  # warm-up
            t0 = time.perf_counter()
            for _ in range(repeats):
                model.detect(feats, cams)
        seconds = (time.perf_counter() - t0) / repeats
    finally:
        model.detector.grid = old
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"detector_s_per_frame": round(seconds, 3), "peak_rss_mb": round(peak)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--checkpoint", default="detections-any", help="the rig-agnostic model")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seed", type=int, default=200)
    ap.add_argument(
        "--lab", default=str(LAB), help="the 4-camera lab's calibration (skipped if absent)"
    )
    ap.add_argument("--rigs", default="shelf,campus,panoptic,lab")
    ap.add_argument(
        "--walk", default="rig", choices=["rig", "two-views"],
        help="where the people walk: the rig's own area (Shelf, Campus, Panoptic: where their "
        "datasets' people are), or where two or more cameras see them whole",
    )  # fmt: skip
    ap.add_argument(
        "--views", default="1,2,3",
        help="fewer views the rig-agnostic model also runs with ('': all views only)",
    )  # fmt: skip
    ap.add_argument(
        "--areas", default="3,8,15", help="capture area sides (m) for the speed table ('': none)"
    )
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--name", default="unseen_rigs")
    args = ap.parse_args()

    rows = []
    console = wide_console()
    with tempfile.TemporaryDirectory() as tmp:
        for rig in args.rigs.split(","):
            source = args.lab if rig == "lab" else rig
            if rig == "lab" and not Path(source).is_file():
                console.print(f"[yellow]skipped the lab rig: {source} not found[/yellow]")
                continue
            scene = make_scene(source, Path(tmp) / rig, args.frames, args.seed, args.walk)
            runs = [(args.checkpoint, None)] + [
                (args.checkpoint, int(v)) for v in args.views.split(",") if v
            ]
            if rig in OWN_MODELS:
                runs.append((OWN_MODELS[rig], None))
            for checkpoint, views in runs:
                row = {"rig": rig, "model": checkpoint, **score(scene, checkpoint, views)}
                console.print(row)
                rows.append(row)
    sides = [float(a) for a in args.areas.split(",") if a]
    cost = detector_cost(args.checkpoint, sides) if sides else []

    cols = ["rig", "model", "views", "pcp", "mpjpe_mm", "mota", "id_switches", "tracks",
            "gt_person_frames", "pcp_two_views", "person_frames_two_views", "frames_per_s",
            "pcp_none", "mpjpe_none_mm", "mota_none"]  # fmt: skip
    table = Table(
        title=f"Unseen rigs: {args.checkpoint} against each rig's own model ({args.frames} frames)"
    )
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{r[c]:.1f}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    console.print(table)
    console.print(cost)
    out = Path(args.out)
    meta = {"checkpoint": args.checkpoint, "frames": args.frames, "seed": args.seed,
            "walk": args.walk, "cpu": cpu_name(), "detector_cost": cost}  # fmt: skip
    write_rows(out / args.name, rows, cols, meta)
    _plot(rows, cost, out / f"{args.name}.png")


def _plot(rows: list[dict], cost: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    from tessetrack.io.atomic import atomic_path

    fig = Figure(figsize=(12 if cost else 9, 3.6), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, width_ratios=[3, 1]) if cost else (fig.subplots(), None)
    rigs = list(dict.fromkeys(r["rig"] for r in rows))
    agnostic = rows[0]["model"]
    most = {rig: max(r["views"] for r in rows if r["rig"] == rig and r["model"] == agnostic)
            for rig in rigs}  # fmt: skip

    def key(r: dict) -> str:
        if r["model"] != agnostic:
            return "its own model, all views"
        return f"{agnostic}, " + (
            "all views" if r["views"] == most[r["rig"]] else f"{r['views']} views"
        )

    labels = sorted(
        dict.fromkeys(key(r) for r in rows), key=lambda k: ("all" not in k, "own" in k, k)
    )
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ys = [next((r["pcp"] for r in rows if r["rig"] == rig and key(r) == label), 0.0)
              for rig in rigs]  # fmt: skip
        ax.bar([k + i * width for k in range(len(rigs))], ys, width, label=label)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(rigs))], rigs)
    ax.set_ylim(0, 100)
    ax.set_ylabel("PCP (%)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("synthetic test motion in rigs the model never trained in")
    if ax2 is not None:
        ax2.plot([c["area_m"] for c in cost], [c["detector_s_per_frame"] for c in cost], "o-")
        ax2.set_xlabel("capture area side (m)")
        ax2.set_ylabel("person detector s / frame (CPU)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


if __name__ == "__main__":
    main()
