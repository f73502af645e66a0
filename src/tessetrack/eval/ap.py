"""VoxelPose's CMU Panoptic protocol: AP at MPJPE thresholds, Recall@500 mm, MPJPE of matches.

Paper §4.2, Table 2. The protocol (as VoxelPose's ``panoptic.py`` ``evaluate`` defines it):

1. for every GT frame with at least one GT person, each predicted pose is assigned to the GT
   pose with the smallest MPJPE over the GT's visible joints (GT joints that are NaN or have
   score 0 are invisible); predictions of frames without GT people are not scored;
2. all predictions of the sequence, sorted by pose score (descending; ties keep frame order), are
   true positives at threshold ``t`` if their MPJPE is < ``t`` and their GT pose was not taken
   by a higher-scored prediction, else false positives;
3. AP is the area under the precision/recall curve with precision made monotone (VOC style),
   for ``t`` = 25, 50, …, 150 mm;
4. Recall@500 mm = GT poses reached by some prediction with MPJPE < 500 mm / GT poses;
   ``mpjpe_mm`` = mean MPJPE of the true positives at 500 mm (first come by score).

A prediction's score is the mean of its joint scores (1 when it has none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tessetrack.errors import InputError
from tessetrack.eval.pose_metrics import mpjpe
from tessetrack.structures import PersonPose, Tracks

__all__ = ["AP_THRESHOLDS_MM", "average_precision", "panoptic_ap"]

#: VoxelPose's AP thresholds, millimetres.
AP_THRESHOLDS_MM: tuple[float, ...] = (25.0, 50.0, 75.0, 100.0, 125.0, 150.0)


def _pose_score(person: PersonPose) -> float:
    if person.scores is None:
        return 1.0
    s = np.asarray(person.scores, dtype=np.float64)
    return float(np.nanmean(s)) if np.isfinite(s).any() else 0.0


def _visible(person: PersonPose) -> np.ndarray:
    """(J,) bool visible GT joints: finite and, when scores are given, score > 0."""
    vis = np.isfinite(person.joints).all(axis=-1)
    if person.scores is not None:
        vis &= np.asarray(person.scores) > 0
    return vis


def average_precision(
    errors_mm: np.ndarray, gt_ids: np.ndarray, num_gt: int, threshold_mm: float
) -> tuple[float, float]:
    """AP and final recall of predictions already sorted by descending score.

    Args:
        errors_mm: (N,) MPJPE of each prediction to its nearest GT pose.
        gt_ids: (N,) sequence-wide index of that GT pose.
        num_gt: number of GT poses in the sequence.
        threshold_mm: a prediction is a true positive when its error is < this and its GT pose
            is not yet taken.

    Returns:
        ``(ap, recall)`` as fractions in [0, 1].
    """
    taken: set[int] = set()
    tp = np.zeros(len(errors_mm))
    for i, (e, g) in enumerate(zip(errors_mm, gt_ids, strict=True)):
        if e < threshold_mm and int(g) not in taken:
            tp[i] = 1.0
            taken.add(int(g))
    tp_cum = np.cumsum(tp)
    fp_cum = np.cumsum(1.0 - tp)
    recall = tp_cum / max(num_gt, 1)
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1e-12)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone envelope
    # Area under the step curve: Σ (r_i − r_{i−1}) · p_i with r_0 = 0.
    r = np.concatenate([[0.0], recall])
    ap = float(np.sum((r[1:] - r[:-1]) * precision))
    return ap, float(recall[-1]) if len(recall) else 0.0


def panoptic_ap(
    pred: Tracks,
    gt: Tracks,
    *,
    thresholds_mm: Sequence[float] = AP_THRESHOLDS_MM,
    recall_threshold_mm: float = 500.0,
) -> dict[str, object]:
    """VoxelPose's Panoptic AP/recall/MPJPE (see the module docstring).

    Args:
        pred, gt: tracks in the same joint set (ids are ignored).
        thresholds_mm: AP thresholds.
        recall_threshold_mm: the recall threshold (500 mm).

    Returns:
        ``{"ap": {"25": percent, ...}, "recall_500": percent, "ap_mpjpe_mm": mm,
        "num_gt_poses": int, "num_pred_poses": int}`` (percentages 0–100; the recall key carries
        the threshold).
    """
    if tuple(pred.joint_names) != tuple(gt.joint_names):
        raise InputError("AP: predictions and ground truth must use the same joints")
    pred_by_frame = pred.by_frame()
    errors: list[float] = []
    scores: list[float] = []
    gt_ids: list[int] = []
    num_gt = 0
    for frame in gt.frames:
        if not frame.people:
            continue
        g = np.stack([p.joints for p in frame.people])  # G×J×3
        vis = np.stack([_visible(p) for p in frame.people])  # G×J
        preds = pred_by_frame.get(frame.frame)
        if preds is not None and preds.people:
            p = np.stack([q.joints for q in preds.people])  # P×J×3
            err = mpjpe(p[:, None], g[None], visible=vis[None])  # P×G
            err = np.nan_to_num(err, nan=np.inf)
            best = np.argmin(err, axis=1)  # P
            errors.extend(err[np.arange(len(p)), best].tolist())
            gt_ids.extend((num_gt + best).tolist())
            scores.extend(_pose_score(q) for q in preds.people)
        num_gt += len(g)
    order = np.argsort(-np.asarray(scores), kind="stable")
    err_sorted = np.asarray(errors, dtype=np.float64)[order]
    ids_sorted = np.asarray(gt_ids, dtype=np.int64)[order]
    ap = {
        f"{t:g}": 100.0 * average_precision(err_sorted, ids_sorted, num_gt, t)[0]
        for t in thresholds_mm
    }
    # MPJPE of the true positives at the recall threshold, and recall there.
    taken: set[int] = set()
    matched: list[float] = []
    for e, g in zip(err_sorted, ids_sorted, strict=True):
        if e < recall_threshold_mm and int(g) not in taken:
            taken.add(int(g))
            matched.append(float(e))
    return {
        "ap": ap,
        f"recall_{recall_threshold_mm:g}": 100.0 * len(taken) / num_gt if num_gt else float("nan"),
        "ap_mpjpe_mm": float(np.mean(matched)) if matched else float("nan"),
        "num_gt_poses": num_gt,
        "num_pred_poses": len(errors),
    }
