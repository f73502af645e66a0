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
from _common import add_clip_arguments, parse_models, validation_clips
from rich.console import Console
from rich.table import Table

from tessetrack.data import open_dataset
from tessetrack.eval.ap import average_precision
from tessetrack.skeletons import convert_joints
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import SequenceRunner, load_model
from tessetrack.train.clips import collate_clips, person_centres

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


def sequence_detections(
    loaded, scene: str, every: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, dict[str, np.ndarray]]:
    """Like :func:`detections_of`, on every ``every``-th frame of the scene ``scene`` as the tracker
    sees it (all peaks, threshold 0); the last item holds per GT person its centre's distance to the
    nearest other GT person (``nearest_other``, metres, inf when alone) and the distance of the
    nearest detection with its score (``nearest_det``, ``nearest_score``)."""
    model = loaded.model
    detections = f"{scene}/detections" if model.reads_detections else None
    dataset = open_input(
        scene,
        detections=detections,
        detections_format="openpose" if detections else None,
        stride=every,
    )
    runner = SequenceRunner(model, image_size=loaded.image_size, detection_threshold=0.0)
    names = list(dataset.cameras)
    joint_set = model.config.pose_head.joint_set
    scores, dists, ids, others, near_d, near_s = [], [], [], [], [], []
    num_gt = frames = 0
    for frame in dataset:
        centres, s = runner.detect(frame, names)
        c, s = centres.double().cpu().numpy(), s.double().cpu().numpy()
        joints = [np.asarray(p.joints, dtype=np.float64) for p in frame.people]
        if joints:
            j = np.stack(joints)
            if dataset.joint_set != joint_set:
                j = convert_joints(j, dataset.joint_set, joint_set)
            gt = person_centres(j, joint_set)  # G×3
        else:
            gt = np.zeros((0, 3))
        if len(gt) and len(c):
            d = np.linalg.norm(c[:, None] - gt[None], axis=-1)  # N×G
            dists.append(d.min(1))
            ids.append(num_gt + d.argmin(1))
            near_d.append(d.min(0))
            near_s.append(s[d.argmin(0)])
        else:
            dists.append(np.full(len(c), np.inf))
            ids.append(np.full(len(c), -1))
            near_d.append(np.full(len(gt), np.inf))
            near_s.append(np.zeros(len(gt)))
        g = np.linalg.norm(gt[:, None] - gt[None], axis=-1) + np.diag(np.full(len(gt), np.inf))
        others.append(g.min(1) if len(gt) > 1 else np.full(len(gt), np.inf))
        scores.append(s)
        num_gt += len(gt)
        frames += 1
    per_gt = {
        "nearest_other": np.concatenate(others),
        "nearest_det": np.concatenate(near_d),
        "nearest_score": np.concatenate(near_s),
    }
    return (np.concatenate(scores), np.concatenate(dists), np.concatenate(ids), num_gt, frames,
            per_gt)  # fmt: skip


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
        with open(args.json, "w") as f:
            json.dump({**meta, "models": results}, f, indent=1)


if __name__ == "__main__":
    main()
