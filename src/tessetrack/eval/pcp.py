"""Shelf/Campus PCP (percentage of correct parts), the protocol of VoxelPose and mvpose.

Paper §4.2, Tables 3–4 ("3D-PCK" there is this PCP). The protocol, per GT frame and per GT actor:

1. take the predicted pose (``shelf14``) with the smallest mean per-joint distance to the actor
   (over the 14 joints; no distance cap — a frame without predictions scores every limb wrong);
2. score 10 limbs: a limb ``(a, b)`` is correct if ``(|p_a − g_a| + |p_b − g_b|) / 2 <=
   alpha · |g_a − g_b|`` with ``alpha = 0.5``;
3. per actor, PCP = correct limbs / scored limbs over all frames; the average is over Actors 1–3.

The 10 limbs, as VoxelPose's ``shelf.py``/``campus.py`` evaluate them (checked against their
code): the lower and upper legs and arms of both sides (8), the **head** = ``bottom_head`` →
``top_head``, and the **torso** = mid-hip (mean of ``r_hip`` and ``l_hip``, in prediction and GT
alike) → ``bottom_head`` (not the mid-shoulder point).

Actor ``k`` in the output is the GT track with id ``k − 1`` (the Shelf/Campus reader numbers the
actors of ``actorsGT.mat`` from 0). The average runs over the GT ids in ``average_ids`` (default
0, 1, 2: Shelf's fourth actor is left out, as in every published table) that appear at least once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tessetrack.errors import InputError
from tessetrack.skeletons import SHELF14
from tessetrack.structures import Tracks

__all__ = ["PCP_LIMBS", "PCP_LIMB_GROUPS", "limb_correct", "pcp"]

_I = SHELF14.index
#: The 9 limbs between two ``shelf14`` joints, in VoxelPose's order; the 10th is the torso.
PCP_LIMBS: tuple[tuple[int, int], ...] = (
    (_I("r_ankle"), _I("r_knee")),  # 0 right lower leg
    (_I("r_knee"), _I("r_hip")),  # 1 right upper leg
    (_I("l_hip"), _I("l_knee")),  # 2 left upper leg
    (_I("l_knee"), _I("l_ankle")),  # 3 left lower leg
    (_I("r_wrist"), _I("r_elbow")),  # 4 right lower arm
    (_I("r_elbow"), _I("r_shoulder")),  # 5 right upper arm
    (_I("l_shoulder"), _I("l_elbow")),  # 6 left upper arm
    (_I("l_elbow"), _I("l_wrist")),  # 7 left lower arm
    (_I("bottom_head"), _I("top_head")),  # 8 head
)
#: Limb index groups of the per-part tables (index 9 is the torso).
PCP_LIMB_GROUPS: dict[str, tuple[int, ...]] = {
    "head": (8,),
    "torso": (9,),
    "upper_arms": (5, 6),
    "lower_arms": (4, 7),
    "upper_legs": (1, 2),
    "lower_legs": (0, 3),
}


def _limb_ends(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 10, 3) start and end points of the 10 PCP limbs of ``shelf14`` poses (..., 14, 3)."""
    a = np.array([i for i, _ in PCP_LIMBS])
    b = np.array([j for _, j in PCP_LIMBS])
    mid_hip = 0.5 * (poses[..., _I("r_hip"), :] + poses[..., _I("l_hip"), :])  # ...×3
    start = np.concatenate([poses[..., a, :], mid_hip[..., None, :]], axis=-2)  # ...×10×3
    end = np.concatenate([poses[..., b, :], poses[..., _I("bottom_head"), None, :]], axis=-2)
    return start, end


def limb_correct(pred: np.ndarray, gt: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """PCP correctness of the 10 limbs of matched poses.

    Args:
        pred, gt: (..., 14, 3) ``shelf14`` poses (any one length unit).
        alpha: fraction of the GT limb length allowed as mean end-point error.

    Returns:
        (..., 10) bool; a limb with a NaN end point is incorrect.
    """
    ps, pe = _limb_ends(np.asarray(pred, dtype=np.float64))
    gs, ge = _limb_ends(np.asarray(gt, dtype=np.float64))
    err = 0.5 * (np.linalg.norm(ps - gs, axis=-1) + np.linalg.norm(pe - ge, axis=-1))  # ...×10
    length = np.linalg.norm(gs - ge, axis=-1)  # ...×10
    return np.nan_to_num(err, nan=np.inf) <= alpha * length


def _check_shelf14(tracks: Tracks, what: str) -> None:
    if tuple(tracks.joint_names) != SHELF14.joints:
        raise InputError(
            f"PCP needs {what} in the shelf14 joint set; convert it first "
            f"(tessetrack.skeletons.convert_joints), got joints {', '.join(tracks.joint_names[:4])}…"
        )


def pcp(
    pred: Tracks,
    gt: Tracks,
    *,
    alpha: float = 0.5,
    average_ids: Sequence[int] | None = (0, 1, 2),
) -> dict[str, object]:
    """Shelf/Campus PCP of predicted tracks (see the module docstring for the protocol).

    Args:
        pred: predictions in ``shelf14``; their ids are ignored. Frames missing from ``pred`` have
            no prediction (every limb of every GT actor there is wrong).
        gt: ground truth in ``shelf14``; GT frames and people define what is scored.
        alpha: limb tolerance (0.5).
        average_ids: GT ids averaged into ``"average"`` (None: all ids).

    Returns:
        ``{"actor_<id+1>": percent, ..., "average": percent, "per_limb": {group: percent}}``,
        percentages 0–100 (per-limb groups pool all actors).
    """
    _check_shelf14(pred, "the predictions")
    _check_shelf14(gt, "the ground truth")
    pred_by_frame = pred.by_frame()
    correct: dict[int, np.ndarray] = {}  # GT id -> (10,) correct counts
    total: dict[int, int] = {}  # GT id -> frames scored
    for frame in gt.frames:
        if not frame.people:
            continue
        g = np.stack([p.joints for p in frame.people])  # G×14×3
        preds = pred_by_frame.get(frame.frame)
        if preds is not None and preds.people:
            p = np.stack([q.joints for q in preds.people])  # P×14×3
            dist = np.linalg.norm(p[:, None] - g[None], axis=-1)  # P×G×14
            valid = ~np.isnan(dist)
            mean = np.where(valid, dist, 0.0).sum(-1) / np.maximum(valid.sum(-1), 1)  # P×G
            mean = np.where(valid.any(-1), mean, np.inf)
            best = np.argmin(mean, axis=0)  # G
            hit = limb_correct(p[best], g, alpha=alpha)  # G×10
        else:
            hit = np.zeros((len(g), len(PCP_LIMBS) + 1), dtype=bool)  # G×10
        for person, h in zip(frame.people, hit, strict=True):
            correct[person.id] = correct.get(person.id, 0) + h.astype(np.int64)
            total[person.id] = total.get(person.id, 0) + 1
    out: dict[str, object] = {}
    actor_pcp = {}
    for pid in sorted(total):
        actor_pcp[pid] = 100.0 * float(correct[pid].sum()) / (total[pid] * (len(PCP_LIMBS) + 1))
        out[f"actor_{pid + 1}"] = actor_pcp[pid]
    averaged = [v for k, v in actor_pcp.items() if average_ids is None or k in average_ids]
    out["average"] = float(np.mean(averaged)) if averaged else float("nan")
    if total:
        all_correct = np.sum(list(correct.values()), axis=0)  # 10
        frames_scored = sum(total.values())
        out["per_limb"] = {
            name: 100.0 * float(all_correct[list(idx)].sum()) / (frames_scored * len(idx))
            for name, idx in PCP_LIMB_GROUPS.items()
        }
    return out
