"""How well a model's person detector (PDN + 3D NMS) finds people, on random clips of a scene.

Usage::

    python benchmarks/detection_eval.py --scene runs/data/test_0 \\
        --model FTDL=runs/abl2-FTDL/last.safetensors [--clips 16] [--distance 0.3] [--json out.json]

Clips come from the trainer's validation stream (``--seed`` is ``train.seed``; see
``_common.validation_clips``), all views, both anchors of each clip scored; image models only.
``--every N`` scores instead every N-th frame of the whole scene as ``tessetrack track`` feeds it to
the detector (``SequenceRunner.detect``), for image models and for models that read 2D detections
(the scene's simulated OpenPose detections, ``SCENE/detections``)::

    python benchmarks/detection_eval.py --scene runs/dets/shelf_test_0 --every 2 \
        --model shipped=detections-shelf --model fine=runs/shelf-fine/last.safetensors

It also counts the GT people no kept detection covers who stand within 1 m of another person: the
detector's usual failure on close people is one peak between or on top of the two.

A detected centre is a true positive when it lies within
``--distance`` metres of a GT person centre not yet taken by a higher-scored detection (the
first-come rule of :func:`tessetrack.eval.ap.average_precision`, which computes the numbers).
Prints, per model, the detection AP and the precision / recall / false positives per frame of the
detections the tracker keeps (score ≥ the model's ``detector.threshold``) and at other score cuts.
This separates "the detector misses or invents people" from "the poses are off" when a tracked
result is poor.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from _common import add_clip_arguments
from rich.console import Console
from rich.table import Table

from tessetrack.data import open_dataset
from tessetrack.eval.ap import average_precision
from tessetrack.eval.person_detection import CUTS, detections_of, sequence_detections, summary
from tessetrack.eval.scene_scoring import parse_models, validation_clips
from tessetrack.io.atomic import atomic_write_text
from tessetrack.tracking.runner import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_clip_arguments(ap, clips=16)
    ap.add_argument("--distance", type=float, default=0.3, help="metres")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument(
        "--every",
        type=int,
        default=0,
        metavar="N",
        help="score every N-th frame of the scene as the tracker runs (any model) instead of clips",
    )
    args = ap.parse_args()
    if args.every < 0:
        ap.error("--every must be >= 1")
    torch.set_num_threads(args.threads)
    dataset = None if args.every else open_dataset(args.scene)
    try:
        models = parse_models(args.model)
    except ValueError as exc:
        ap.error(str(exc))

    where = f"every {args.every}. frame" if args.every else f"{args.clips} clips"
    table = Table(title=f"people found on {where} of {args.scene} (≤ {args.distance} m)")
    cols = ["model", "AP", "score cut", "precision", "recall", "FP / frame"]
    if args.every:
        cols.append("missed, other ≤ 1 m")
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    results = {}
    for label, path in models.items():
        loaded = load_model(path)
        model = loaded.model.eval()
        per_gt = None
        if args.every:
            scores, dists, ids, num_gt, frames, per_gt = sequence_detections(
                loaded, args.scene, args.every
            )
        else:
            if model.reads_detections:
                ap.error(f"{path}: this model reads 2D detections, not images (use --every)")
            clips = validation_clips(dataset, model, args.clips, args.seed)
            scores, dists, ids, num_gt, frames = detections_of(model, clips)
        order = np.argsort(-scores, kind="stable")
        det_ap, _ = average_precision(
            dists[order] * 1000.0, ids[order], num_gt, args.distance * 1000.0
        )
        cuts = sorted({*CUTS, float(model.detector.threshold)})
        rows = [summary(scores, dists, ids, num_gt, frames, args.distance, c) for c in cuts]
        if per_gt is not None:
            for r in rows:
                missed = (per_gt["nearest_det"] > args.distance) | (
                    per_gt["nearest_score"] < r["cut"]
                )
                r["missed_close"] = int((missed & (per_gt["nearest_other"] <= 1.0)).sum())
        results[label] = {"checkpoint": path, "ap": det_ap, "gt_people": num_gt, "rows": rows}
        for i, r in enumerate(rows):
            mark = " (tracker)" if r["cut"] == float(model.detector.threshold) else ""
            table.add_row(
                label if i == 0 else "",
                f"{100 * det_ap:.1f} %" if i == 0 else "",
                f"{r['cut']:.2f}{mark}",
                f"{100 * r['precision']:.1f} %",
                f"{100 * r['recall']:.1f} %",
                f"{r['false_positives_per_frame']:.2f}",
                *([str(r["missed_close"])] if args.every else []),
            )
    Console(width=140).print(table)
    if args.json:
        meta = {"scene": args.scene, "distance_m": args.distance}
        meta.update({"every": args.every} if args.every else {"clips": args.clips})
        atomic_write_text(args.json, json.dumps({**meta, "models": results}, indent=1))


if __name__ == "__main__":
    main()
