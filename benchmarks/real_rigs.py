"""PCP per actor of a ``detections-<rig>`` model on a synthetic test scene in the real rig and on the
real sample of that dataset (paper Tables 2-3 protocol: Shelf/Campus PCP, α = 0.5), with the
tracking side: per-joint 3D MOTA (paper §4.3), ID switches and the number of track IDs output.

* synthetic: ``tessetrack synth --rig shelf --split test --no-images`` (motion clips never trained
  on), with its simulated OpenPose BODY25 detections (``DIR/detections``); GT from the scene.
* real: the dataset folder of Shelf/Campus (``actorsGT.mat`` + calibration) with VoxelPose's 2D
  COCO-17 predictions (``pred_*.pkl``) as input — the repository's sample is 3 frames; the full
  dataset folder works the same (its test range is set by the reader's evaluation options).

Usage::

    python benchmarks/real_rigs.py --rig shelf --checkpoint detections-shelf \
        --synthetic runs/dets/shelf_test_0 --real ../shared/data/shelf

Writes ``benchmarks/results/real_rigs_<rig>.csv``, ``.json`` and ``.png`` (PCP per actor and per
limb group — ``pcp_head``, ``pcp_torso``, arms, legs, all actors pooled — both inputs; ``--name``
changes the file stem).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _common import RESULTS
from rich.console import Console
from rich.table import Table

from tessetrack.eval.evaluate import evaluate, load_ground_truth
from tessetrack.eval.scene_scoring import add_link_arguments, tracker_config
from tessetrack.eval.visibility import restrict_to_views
from tessetrack.io.atomic import atomic_path, atomic_write_text
from tessetrack.io.tracks import load_tracks
from tessetrack.structures import Tracks
from tessetrack.tracking.runner import track_to_file

if TYPE_CHECKING:
    from tessetrack.tracking.online import TrackerConfig


def run_one(
    name: str,
    input_dir: str,
    checkpoint: str,
    detections: str | None,
    tracker: TrackerConfig | None = None,
    min_views: int | None = None,
) -> list[dict]:
    """Track ``input_dir`` with ``checkpoint`` and score PCP against its ground truth; with
    ``min_views``, a second row scores only the GT person-frames that many cameras see."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tracks.json"
        t0 = time.perf_counter()
        summary = track_to_file(
            input_dir,
            output=out,
            checkpoint=checkpoint,
            detections=detections,
            detections_format="openpose" if detections else None,
            tracker=tracker,
        )
        seconds = time.perf_counter() - t0
        pred = load_tracks(out)
    gt = load_ground_truth(input_dir)
    rows = [_score(name, pred, gt, summary.frames, seconds)]
    if min_views:
        from tessetrack.io import load_cameras

        calib = sorted(Path(input_dir).glob("calibration*.json"))
        if not calib:
            raise SystemExit(f"{input_dir}: no calibration*.json for --min-views")
        cameras = list(load_cameras(calib[0]).values())
        seen, kept, total = restrict_to_views(gt, cameras, min_views)
        row = _score(f"{name}, seen by >= {min_views} cameras ({kept} of {total} person-frames)",
                     pred, seen, summary.frames, seconds)  # fmt: skip
        # the people left out still have predictions, which MOT accounting would call false
        # positives: only the PCP and MPJPE of this row mean something
        row.update(mota=None, id_switches=None)
        rows.append(row)
    return rows


def _score(name: str, pred: Tracks, gt: Tracks, frames: int, seconds: float) -> dict:
    res = evaluate(pred, gt, ["pcp", "mpjpe", "mot3d"])
    pcp = res["pcp"]
    return {
        "input": name,
        "frames": frames,
        "seconds": round(seconds, 2),
        **{k: v for k, v in pcp.items() if k.startswith("actor_") or k == "average"},
        **{f"pcp_{k}": v for k, v in pcp.get("per_limb", {}).items()},
        "mpjpe_mm": res.get("mpjpe_mm"),
        "mota": res.get("mota"),
        "id_switches": res.get("id_switches"),
        "tracks": len({p.id for f in pred.frames for p in f.people}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rig", required=True, choices=["shelf", "campus"])
    ap.add_argument("--checkpoint", required=True, help="shipped name or .safetensors path")
    ap.add_argument("--synthetic", help="synthetic test scene in the rig (with detections/)")
    ap.add_argument("--real", help="real dataset folder (actorsGT.mat, calibration, pred_*.pkl)")
    add_link_arguments(ap)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--name", help="file stem of the results (default: real_rigs_<rig>)")
    ap.add_argument(
        "--min-views",
        type=int,
        help="also score the synthetic test on the GT person-frames seen by at least this many "
        "cameras (90 %% of the joints in the image): one view does not fix depth",
    )
    args = ap.parse_args()

    rows = []
    if args.synthetic:
        rows += run_one(
            "synthetic test",
            args.synthetic,
            args.checkpoint,
            str(Path(args.synthetic) / "detections"),
            tracker_config(args),
            args.min_views,
        )
    if args.real:
        rows += run_one("real sample", args.real, args.checkpoint, None, tracker_config(args))
    if not rows:
        ap.error("give --synthetic and/or --real")

    actors = sorted({k for r in rows for k in r if k.startswith("actor_")})
    limbs = [k for k in rows[0] if k.startswith("pcp_")]
    cols = ["input", "frames", *actors, "average", *limbs, "mpjpe_mm", "mota", "id_switches",
            "tracks", "seconds"]  # fmt: skip
    table = Table(
        title=f"PCP (%) per actor, {args.rig}, checkpoint {args.checkpoint}, link {args.link}"
    )
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(
            *[f"{r[c]:.1f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols]
        )
    Console().print(table)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / (args.name or f"real_rigs_{args.rig}")
    with atomic_path(stem.with_suffix(".csv")) as tmp, tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    atomic_write_text(
        stem.with_suffix(".json"),
        json.dumps(
            {
                "rig": args.rig,
                "checkpoint": args.checkpoint,
                "link": args.link,
                "gate": args.gate,
                "cascade": args.cascade,
                "rows": rows,
            },
            indent=2,
        )
        + "\n",
    )

    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.add_subplot()
    labels = [*actors, "average"]
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        xs = [j + i * width for j in range(len(labels))]
        ax.bar(
            xs,
            [r.get(c, 0.0) or 0.0 for c in labels],
            width,
            label=f"{r['input']} ({r['frames']} frames)",
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))], labels)
    ax.set_ylim(0, 100)
    ax.set_ylabel("PCP (%)")
    ax.set_title(f"{args.rig}: detections model {args.checkpoint}")
    ax.legend(loc="lower right")
    fig.savefig(stem.with_suffix(".png"), dpi=120)
    print(f"wrote {stem}.csv/.json/.png")


if __name__ == "__main__":
    main()
