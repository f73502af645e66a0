"""How well a model's person detector (PDN + 3D NMS) finds people, on random clips of a scene.

Usage::

    python benchmarks/detection_eval.py --scene runs/data/test_0 \\
        --model FTDL=runs/abl2-FTDL/last.safetensors [--clips 16] [--distance 0.3] [--json out.json]

Clips come from the trainer's validation stream (``--seed`` is ``train.seed``; see
``_common.validation_clips``), all views, both anchors of each clip scored. Image models only. A detected centre is a true positive when it lies within
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
from _common import add_clip_arguments, parse_models, validation_clips
from rich.console import Console
from rich.table import Table

from tessetrack.data import open_dataset
from tessetrack.eval.ap import average_precision
from tessetrack.tracking.runner import load_model
from tessetrack.train.clips import collate_clips

CUTS = (0.3, 0.4, 0.5, 0.6)


def detections_of(model, clips) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Scores (N,), distances to the nearest GT centre (N, metres), that GT's sequence-wide index
    (N,), the number of GT people and of frames, over both anchors of every clip."""
    scores, dists, ids = [], [], []
    num_gt = frames = 0
    for clip in clips:
        batch, _ = collate_clips([clip], teacher_forcing=True)
        with torch.no_grad():
            out = model(batch)
        for a in range(2):
            gt = batch.gt_centres[0, a][batch.gt_mask[0, a]].double().numpy()  # G×3
            valid = out.detection_valid[0, a].numpy()
            c = out.detections[0, a].double().numpy()[valid]  # N×3
            s = out.detection_scores[0, a].double().numpy()[valid]
            if len(gt):
                d = np.linalg.norm(c[:, None] - gt[None], axis=-1)  # N×G
                dists.append(d.min(1))
                ids.append(num_gt + d.argmin(1))
            else:
                dists.append(np.full(len(c), np.inf))
                ids.append(np.full(len(c), -1))
            scores.append(s)
            num_gt += len(gt)
            frames += 1
    return np.concatenate(scores), np.concatenate(dists), np.concatenate(ids), num_gt, frames


def summary(scores, dists, ids, num_gt, frames, distance, cut) -> dict[str, float]:
    """Precision, recall and false positives per frame of the detections scoring ≥ ``cut``."""
    keep = scores >= cut
    order = np.argsort(-scores[keep], kind="stable")
    _, recall = average_precision(
        dists[keep][order] * 1000.0, ids[keep][order], num_gt, distance * 1000.0
    )
    tp = recall * num_gt
    n = int(keep.sum())
    return {
        "cut": cut,
        "precision": tp / n if n else 0.0,
        "recall": recall,
        "false_positives_per_frame": (n - tp) / max(frames, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_clip_arguments(ap, clips=16)
    ap.add_argument("--distance", type=float, default=0.3, help="metres")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dataset = open_dataset(args.scene)
    try:
        models = parse_models(args.model)
    except ValueError as exc:
        ap.error(str(exc))

    table = Table(title=f"people found on {args.clips} clips of {args.scene} (≤ {args.distance} m)")
    for col in ("model", "AP", "score cut", "precision", "recall", "FP / frame"):
        table.add_column(col, justify="left" if col == "model" else "right")
    results = {}
    for label, path in models.items():
        model = load_model(path).model.eval()
        if model.reads_detections:
            ap.error(f"{path}: this model reads 2D detections, not images")
        clips = validation_clips(dataset, model, args.clips, args.seed)
        scores, dists, ids, num_gt, frames = detections_of(model, clips)
        order = np.argsort(-scores, kind="stable")
        det_ap, _ = average_precision(
            dists[order] * 1000.0, ids[order], num_gt, args.distance * 1000.0
        )
        cuts = sorted({*CUTS, float(model.detector.threshold)})
        rows = [summary(scores, dists, ids, num_gt, frames, args.distance, c) for c in cuts]
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
            )
    Console(width=140).print(table)
    if args.json:
        meta = {"scene": args.scene, "clips": args.clips, "distance_m": args.distance}
        with open(args.json, "w") as f:
            json.dump({**meta, "models": results}, f, indent=1)


if __name__ == "__main__":
    main()
