"""3D articulated pose tracking metrics (paper §4.3, Table 5): 3D MOTA, MOTP, precision, recall.

The paper extends the MOT CLEAR metrics and the articulated 2D pose tracking metrics of
PoseTrack to 3D. Our reading, written down once:

1. **Pose matching, per frame.** For every (predicted pose, GT pose) pair the 3D-PCK is the
   fraction of the GT pose's visible joints predicted within ``threshold_mm`` (default 100 mm).
   Predicted and GT poses are matched one-to-one by a global assignment maximizing the summed
   PCK (:func:`scipy.optimize.linear_sum_assignment`); pairs with PCK 0 are never matched.
2. **Joint tracking, per joint type.** Each (GT person, joint) is an object and each (predicted
   person, joint) a hypothesis, identified by the track ids. At every frame a hypothesis may only
   be assigned to the object of the same joint type in its matched GT pose, and only if it lies
   within ``threshold_mm`` of it. These candidate distances (NaN for every other pair) feed one
   :class:`motmetrics.MOTAccumulator` per joint type, which counts matches, misses, false
   positives and ID switches (a GT joint track whose hypothesis id changes) the CLEAR-MOT way.
3. **Scores.** Per joint type: MOTA = 1 − (misses + false positives + switches) / objects,
   MOTP = mean distance of the assigned pairs (mm), precision = assigned / hypotheses,
   recall = assigned / objects. The overall numbers sum these events over all joint types.

GT joints that are NaN (or have score 0) are not objects; NaN predicted joints are not
hypotheses. Every GT frame is scored; a frame the prediction lacks has no hypotheses (everything
there is a miss). Predicted frames absent from the GT are ignored (no annotation to judge them).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from tessetrack.errors import InputError
from tessetrack.structures import PersonPose, Tracks

__all__ = ["MOT_THRESHOLD_MM", "pose_pck_matrix", "match_by_pck", "mot3d"]

#: Distance under which a predicted joint counts as correct (PCK) and may match its GT joint, mm.
MOT_THRESHOLD_MM = 100.0

_COUNTS = ("num_objects", "num_detections", "num_misses", "num_false_positives", "num_switches")


def _visible(person: PersonPose) -> np.ndarray:
    """(J,) GT joints that are objects: finite and, when scores exist, score > 0."""
    vis = np.isfinite(person.joints).all(axis=-1)
    if person.scores is not None:
        vis &= np.asarray(person.scores) > 0
    return vis


def pose_pck_matrix(
    pred: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray, *, threshold_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair 3D-PCK and per-joint distances.

    Args:
        pred: (P, J, 3) metres.
        gt: (G, J, 3) metres.
        gt_visible: (G, J) bool.
        threshold_mm: correctness distance.

    Returns:
        ``(pck, dist)``: (P, G) fraction of visible GT joints within the threshold, and
        (P, G, J) distances in mm (inf where either joint is missing).
    """
    dist = 1000.0 * np.linalg.norm(pred[:, None] - gt[None], axis=-1)  # P×G×J
    dist = np.where(gt_visible[None] & np.isfinite(dist), dist, np.inf)
    hits = (dist < threshold_mm).sum(-1)  # P×G
    return hits / np.maximum(gt_visible.sum(-1), 1)[None], dist


def match_by_pck(pck: np.ndarray) -> dict[int, int]:
    """Global assignment maximizing the summed PCK; pairs with PCK 0 are dropped.

    Args:
        pck: (P, G) PCK of each predicted/GT pose pair.

    Returns:
        ``pred index -> GT index``.
    """
    if pck.size == 0:
        return {}
    rows, cols = linear_sum_assignment(-pck)
    return {int(r): int(c) for r, c in zip(rows, cols, strict=True) if pck[r, c] > 0}


def _rates(c: dict[str, float], dist_sum: float) -> dict[str, float]:
    objects, det = c["num_objects"], c["num_detections"]
    hyps = det + c["num_false_positives"]
    errors = c["num_misses"] + c["num_false_positives"] + c["num_switches"]
    return {
        "mota": 100.0 * (1.0 - errors / objects) if objects else float("nan"),
        "motp_mm": dist_sum / det if det else float("nan"),
        "precision": 100.0 * det / hyps if hyps else float("nan"),
        "recall": 100.0 * det / objects if objects else float("nan"),
        "id_switches": int(c["num_switches"]),
        "num_objects": int(objects),
        "num_misses": int(c["num_misses"]),
        "num_false_positives": int(c["num_false_positives"]),
    }


def mot3d(pred: Tracks, gt: Tracks, *, threshold_mm: float = MOT_THRESHOLD_MM) -> dict[str, object]:
    """3D pose tracking metrics of predicted tracks against GT tracks (see the module docstring).

    Args:
        pred, gt: tracks in the same joint set; ids are the track identities.
        threshold_mm: PCK / joint-match distance (100 mm).

    Returns:
        ``{"mota", "motp_mm", "precision", "recall", "id_switches", "num_objects", "num_misses",
        "num_false_positives", "per_joint": {joint: {same keys}}}``; percentages 0–100.
    """
    import motmetrics as mm

    if tuple(pred.joint_names) != tuple(gt.joint_names):
        raise InputError("MOT: predictions and ground truth must use the same joints")
    names = tuple(gt.joint_names)
    accs = [mm.MOTAccumulator(auto_id=True) for _ in names]
    pred_by_frame = pred.by_frame()
    for frame in gt.frames:
        gt_people = frame.people
        preds = pred_by_frame.get(frame.frame)
        pred_people = preds.people if preds is not None else ()
        J = len(names)
        g = np.stack([p.joints for p in gt_people]) if gt_people else np.zeros((0, J, 3))
        vis = np.stack([_visible(p) for p in gt_people]) if gt_people else np.zeros((0, J), bool)
        p = np.stack([q.joints for q in pred_people]) if pred_people else np.zeros((0, J, 3))
        pck, dist = pose_pck_matrix(p, g, vis, threshold_mm=threshold_mm)  # P×G, P×G×J
        match = match_by_pck(pck)
        allowed = np.zeros(pck.shape, dtype=bool)  # P×G
        for r, c in match.items():
            allowed[r, c] = True
        gt_ids = np.array([q.id for q in gt_people], dtype=np.int64)
        pred_ids = np.array([q.id for q in pred_people], dtype=np.int64)
        pred_has = np.isfinite(p).all(axis=-1)  # P×J
        for j, acc in enumerate(accs):
            o = vis[:, j]  # G
            h = pred_has[:, j]  # P
            d = np.where(allowed & (dist[:, :, j] < threshold_mm), dist[:, :, j], np.nan)  # P×G
            acc.update(gt_ids[o].tolist(), pred_ids[h].tolist(), d[h][:, o].T)  # objects×hyps
    mh = mm.metrics.create()
    per_joint: dict[str, dict[str, float]] = {}
    total = dict.fromkeys(_COUNTS, 0.0)
    dist_total = 0.0
    for name, acc in zip(names, accs, strict=True):
        row = mh.compute(acc, metrics=[*_COUNTS, "motp"], name=name).iloc[0]
        counts = {k: float(row[k]) for k in _COUNTS}
        dist_sum = (
            float(row["motp"]) * counts["num_detections"] if counts["num_detections"] else 0.0
        )
        per_joint[name] = _rates(counts, dist_sum)
        for k in _COUNTS:
            total[k] += counts[k]
        dist_total += dist_sum
    return {**_rates(total, dist_total), "per_joint": per_joint}
