"""How well a model's person detector (PDN + 3D NMS) finds people, against ground-truth centres.

:func:`detections_of` scores the detections of training-style clips (both anchors of each clip),
:func:`sequence_detections` those of a scene's frames as the tracker feeds them to the detector
(:meth:`~tessetrack.tracking.runner.SequenceRunner.detect`, all peaks). A detected centre is a true
positive when it lies within a distance of a GT person centre not yet taken by a higher-scored
detection (the first-come rule of :func:`tessetrack.eval.ap.average_precision`); :func:`summary`
gives precision, recall and false positives per frame at a score cut.
"""

from __future__ import annotations

import numpy as np
import torch

from tessetrack.eval.ap import average_precision
from tessetrack.skeletons import convert_joints
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import SequenceRunner
from tessetrack.train.clips import collate_clips, person_centres

__all__ = ["CUTS", "detections_of", "sequence_detections", "summary"]

#: Score cuts reported besides the model's own threshold.
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
