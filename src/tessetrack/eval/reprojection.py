"""Accuracy without 3D ground truth: 3D poses against the 2D people of a camera they did not use.

Track from all cameras but one, project the poses into the left-out camera and compare them with
the 2D detector's people there (:func:`left_out_errors`). Each 2D person is paired with at most one
projected pose (Hungarian on the mean joint distance relative to the 2D person's height, pairs
beyond ``gate`` rejected); per joint the pixel error, and the same relative to the 2D person's
height (the vertical extent of its confident joints: eyes/ears to ankles, about 90 % of the
person's stature).

:func:`person_to_detections` compares one projected person with the 2D people of a camera that
was used: the median pixel distance to the nearest of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tessetrack.geometry.camera import Camera
from tessetrack.ops.assignment import gated_assignment
from tessetrack.skeletons import convert_joints

__all__ = ["LeftOutErrors", "left_out_errors", "common_people", "person_to_detections"]


@dataclass(frozen=True)
class LeftOutErrors:
    """One frame of one left-out camera.

    Attributes:
        pixels: (M,) pixel errors of every compared joint of every paired person.
        relative: (M,) the same divided by the 2D person's height in pixels.
        found: 2D people paired with a projected pose.
        people: 2D people with at least ``min_joints`` confident joints (those that count).
        person: (M,) which of the camera's 2D people (its index in the detections given) each
            compared joint belongs to, and joint: (M,) which joint it is, so that two methods can
            be compared on the joints of the people both paired (:func:`common_people`).
    """

    pixels: np.ndarray
    relative: np.ndarray
    found: int
    people: int
    person: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    joint: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def left_out_errors(
    poses: Sequence[np.ndarray],
    detections: np.ndarray,
    camera: Camera,
    *,
    detections_joint_set: str,
    joint_set: str = "panoptic19",
    min_confidence: float = 0.5,
    min_joints: int = 8,
    gate: float = 0.5,
) -> LeftOutErrors:
    """Projected 3D poses against one camera's 2D people.

    Args:
        poses: (J, 3) world-metre poses in ``joint_set`` (NaN joints are not compared).
        detections: (P, J', 3) the camera's 2D people (u, v, confidence).
        camera: the left-out camera.
        detections_joint_set, joint_set: joint sets of the detections and the poses.
        min_confidence: 2D joints below it are not compared.
        min_joints: 2D people with fewer confident joints do not count.
        gate: pairs whose mean joint distance exceeds this share of the 2D height are not paired.
    """
    dets = np.asarray(detections, dtype=np.float64)
    if dets.ndim != 3 or dets.shape[0] == 0:
        empty = np.zeros(0)
        return LeftOutErrors(empty, empty, 0, 0)
    conv = np.nan_to_num(convert_joints(dets, detections_joint_set, joint_set))  # P×J×3
    ok = conv[..., 2] >= min_confidence  # P×J
    counted = ok.sum(-1) >= min_joints
    index = np.flatnonzero(counted)  # counted 2D people -> their index in ``detections``
    conv, ok = conv[counted], ok[counted]
    if conv.shape[0] == 0 or len(poses) == 0:
        empty = np.zeros(0)
        return LeftOutErrors(empty, empty, 0, int(conv.shape[0]))
    v = np.where(ok, conv[..., 1], np.nan)
    heights = np.maximum(np.nanmax(v, -1) - np.nanmin(v, -1), 1.0)  # P
    pts = np.stack([np.asarray(p, dtype=np.float64) for p in poses])  # N×J×3
    finite = np.isfinite(pts).all(-1)  # N×J
    depth = (np.nan_to_num(pts) @ camera.R.T + camera.t)[..., 2]
    proj = camera.project(np.nan_to_num(pts))  # N×J×2
    usable = finite & (depth > 0)  # N×J
    both = usable[:, None] & ok[None]  # N×P×J
    dist = np.linalg.norm(proj[:, None] - conv[None, :, :, :2], axis=-1)  # N×P×J
    mean = np.where(both, dist, 0).sum(-1) / np.maximum(both.sum(-1), 1)
    rel_cost = mean / heights[None]  # N×P
    ok = (both.sum(-1) >= 3) & (rel_cost <= gate)
    rows, cols = gated_assignment(rel_cost, ok, gate)
    px, rel, who, which = [], [], [], []
    found = 0
    for r, c in zip(rows, cols, strict=True):
        found += 1
        sel = both[r, c]
        px.append(dist[r, c][sel])
        rel.append(dist[r, c][sel] / heights[c])
        who.append(np.full(int(sel.sum()), index[c], dtype=np.int64))
        which.append(np.flatnonzero(sel))
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
    ints = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)  # noqa: E731
    return LeftOutErrors(cat(px), cat(rel), found, int(conv.shape[0]), ints(who), ints(which))


def common_people(a: LeftOutErrors, b: LeftOutErrors) -> tuple[LeftOutErrors, LeftOutErrors]:
    """Both results of one frame and camera kept to the joints both compared on the 2D people both
    paired (a fair comparison of two methods that pair different people or leave different joints
    unknown: the harder ones one of them leaves out would otherwise count against the other only).
    """
    people = np.intersect1d(a.person, b.person)
    key_a, key_b = a.person * 10_000 + a.joint, b.person * 10_000 + b.joint  # (person, joint)
    both = np.intersect1d(key_a, key_b)

    def keep(e: LeftOutErrors, key: np.ndarray) -> LeftOutErrors:
        sel = np.isin(key, both)
        return LeftOutErrors(e.pixels[sel], e.relative[sel], int(people.size), e.people,
                             e.person[sel], e.joint[sel])  # fmt: skip

    return keep(a, key_a), keep(b, key_b)


#: detected joints below this score are not compared
MIN_SCORE = 0.3


def person_to_detections(
    uv: np.ndarray, detections: np.ndarray, min_score: float = MIN_SCORE
) -> float:
    """Median pixel distance from one projected person to the nearest detected person.

    Args:
        uv: (J, 2) projected joints (NaN where unknown).
        detections: (D, J, 3) detected people in the same joints: (u, v, score).

    Returns:
        the smallest, over detections sharing ≥ 3 usable joints, of the median joint distance; NaN
        when no detection qualifies.
    """
    best = np.nan
    for det in detections:
        ok = (det[:, 2] >= min_score) & np.isfinite(uv).all(-1)
        if ok.sum() < 3:
            continue
        d = float(np.median(np.linalg.norm(det[ok, :2] - uv[ok], axis=-1)))
        best = d if not np.isfinite(best) else min(best, d)
    return best
