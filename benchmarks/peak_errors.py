"""A 2D network's errors in the detection simulator's terms: how often its heatmap peaks miss a
joint, how far off the found ones are (as a share of the person's height, the simulator's
``jitter``), how often a joint's peak sits on its left/right twin, and how many stray peaks an
image has per joint — measured on random clips of a synthetic scene, next to what
:class:`tessetrack.synth.detections_sim.DetectionNoise` draws by default.

Usage::

    python benchmarks/peak_errors.py --scene runs/data/test_0 --model synthetic-images \\
        [--clips 16] [--threshold 0.3] [--radius 3]

A peak (:func:`tessetrack.ops.heatmaps2d.heatmap_peaks`, ≥ ``--threshold``) is matched one-to-one
to the GT joints of its channel within ``--radius`` heatmap pixels (scipy's Hungarian on distance).
An unmatched GT joint is a miss; an unmatched peak within the radius of the twin joint of a GT
person is a left/right confusion, any other unmatched peak is stray. The GT here marks no joint as
occluded, so misses count hidden joints too (the simulator misses those with
``occluded_miss_prob``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from _common import add_clip_arguments
from rich.console import Console
from rich.table import Table

from tessetrack.data import open_dataset
from tessetrack.eval.peak_errors import flip_twins, image_errors
from tessetrack.eval.scene_scoring import parse_models, validation_clips
from tessetrack.io.atomic import atomic_write_text
from tessetrack.ops.heatmaps2d import heatmap_peaks
from tessetrack.synth.detections_sim import DetectionNoise
from tessetrack.tracking.runner import load_model
from tessetrack.train.clips import collate_clips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_clip_arguments(ap, clips=16)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threshold", type=float, default=0.3, help="peak threshold")
    ap.add_argument("--radius", type=float, default=3.0, help="match radius, heatmap pixels")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dataset = open_dataset(args.scene)
    try:
        models = parse_models(args.model)
    except ValueError as exc:
        ap.error(str(exc))

    table = Table(title=f"2D peaks ≥ {args.threshold} on {args.clips} clips of {args.scene}")
    for col in (
        "model",
        "image px / heatmap px",
        "joints",
        "missed %",
        "jitter (σ / height)",
        "median error / height",
        "twin peaks per joint %",
        "stray peaks per image·joint",
    ):
        table.add_column(col, justify="right")
    default = DetectionNoise()
    results = {}
    for label, path in models.items():
        loaded = load_model(path)
        model = loaded.model
        if not model.has_2d_network:
            ap.error(
                f"{path}: this checkpoint has no 2D network (no keypoint head, no image heatmaps)"
            )
        twin = flip_twins()
        tot = {"found": 0, "missed": 0, "errors": [], "swapped": 0, "stray": 0}
        images = 0
        scale = 1.0
        for clip in validation_clips(dataset, model, args.clips, args.seed, args.size):
            batch, targets = collate_clips([clip], teacher_forcing=True)
            imgs = batch.images[:, list(model.anchors)]  # B×A×V×3×H×W
            with torch.no_grad():
                heat = model.image_joint_heatmaps(imgs.flatten(0, 2))  # N×J×h×w
            h, w = heat.shape[-2:]
            scale = imgs.shape[-1] / w
            pk = heatmap_peaks(heat, threshold=args.threshold, max_peaks=8).numpy()  # N×K×J×3
            kp = targets.keypoints.flatten(0, 2).numpy()  # N×P×J×2 fractions
            km = targets.keypoint_mask.flatten(0, 2).numpy()  # N×P×J
            gt = kp * np.array([w, h]) - 0.5
            for n in range(pk.shape[0]):
                if not km[n].any():
                    continue
                e = image_errors(pk[n], gt[n], km[n], args.radius, twin)
                for k in ("found", "missed", "swapped", "stray"):
                    tot[k] += e[k]
                tot["errors"].extend(e["errors"])
                images += 1
        joints = tot["found"] + tot["missed"]
        err = np.abs(np.asarray(tot["errors"]))
        row = {
            "scale": scale,
            "joints": joints,
            "missed_pct": 100.0 * tot["missed"] / max(joints, 1),
            # robust σ of the per-axis error (MAD × 1.4826), as the simulator's jitter
            "jitter": float(1.4826 * np.median(err)) if err.size else float("nan"),
            "median_error": float(np.median(err)) if err.size else float("nan"),
            "twin_pct": 100.0 * tot["swapped"] / max(joints, 1),
            "stray_per_image_joint": tot["stray"] / max(images * 19, 1),
        }
        results[label] = row
        table.add_row(
            label,
            f"{scale:.0f}",
            str(joints),
            f"{row['missed_pct']:.1f}",
            f"{row['jitter']:.4f}",
            f"{row['median_error']:.4f}",
            f"{row['twin_pct']:.1f}",
            f"{row['stray_per_image_joint']:.3f}",
        )
    table.add_row(
        "simulator default",
        "",
        "",
        f"{100 * default.miss_prob:.0f} (+{100 * default.occluded_miss_prob:.0f} hidden)",
        f"{default.jitter:.4f}",
        f"{0.6745 * default.jitter:.4f}",
        f"{100 * 2 * default.swap_prob / 19:.1f}",
        f"{default.false_positives_per_image:.2f} people, conf < 0.4",
    )
    Console(width=160).print(table)
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
