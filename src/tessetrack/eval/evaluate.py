"""``tessetrack evaluate``: every protocol on one pair of predicted and GT tracks.

:func:`evaluate` returns the SPEC.md metrics dictionary (percentages 0–100, distances in mm):

* ``mpjpe``: per frame, predicted and GT poses are matched one-to-one by MPJPE (Hungarian, pairs
  over 500 mm never match; :func:`~tessetrack.eval.pose_metrics.match_poses`). ``mpjpe_mm``,
  ``pa_mpjpe_mm`` and ``mpjpe_root_mm`` (root-relative, when the joint set has a default root)
  average the matched poses; ``pck`` (threshold mm → %) scores every visible GT joint, those of
  unmatched GT poses counting as wrong. ``matched_poses``/``gt_poses`` count them.
* ``pcp``: Shelf/Campus PCP (:mod:`tessetrack.eval.pcp`), both sides converted to ``shelf14``.
* ``ap``: VoxelPose's Panoptic AP, ``recall_500``, ``ap_mpjpe_mm`` (:mod:`tessetrack.eval.ap`).
* ``mot3d``: ``mota``, ``motp_mm``, ``id_switches``, ``precision``, ``recall``, ``per_joint``
  (:mod:`tessetrack.eval.mot3d`).

Predictions in another joint set are converted to the GT's (:func:`tessetrack.skeletons.
convert_joints`) when every GT joint can be formed, else refused naming the missing joints. Poses
whose typical size says millimetres or centimetres instead of metres are refused.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from tessetrack.errors import InputError
from tessetrack.eval.pose_metrics import (
    DEFAULT_PCK_THRESHOLDS_MM,
    DEFAULT_ROOTS,
    match_poses,
    mpjpe,
    pa_mpjpe,
    pck,
    root_relative_mpjpe,
)
from tessetrack.skeletons import JOINT_SETS, conversion_matrix, convert_joints
from tessetrack.structures import FramePoses, PersonPose, Tracks

__all__ = [
    "PROTOCOLS",
    "parse_protocols",
    "joint_set_of",
    "convert_tracks",
    "check_metres",
    "load_ground_truth",
    "evaluate",
    "evaluate_files",
    "to_json",
]

logger = logging.getLogger(__name__)

#: Protocol names, in the order they are reported.
PROTOCOLS: tuple[str, ...] = ("mpjpe", "pcp", "ap", "mot3d")
#: Largest plausible median pose extent in metres (a person is ~0.3–2.5 m across).
_MAX_EXTENT_M = 4.0


def parse_protocols(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"all"``, ``"mpjpe,pcp"`` or a list of names → protocol names in report order.

    Raises:
        InputError: for an unknown protocol name.
    """
    items = [value] if isinstance(value, str) else list(value)
    names = {n.strip().lower() for item in items for n in item.split(",") if n.strip()}
    if "all" in names or not names:
        return PROTOCOLS
    unknown = sorted(names - set(PROTOCOLS))
    if unknown:
        raise InputError(
            f"unknown protocol(s) {', '.join(unknown)}; choose from {', '.join(PROTOCOLS)} or all"
        )
    return tuple(p for p in PROTOCOLS if p in names)


def joint_set_of(joint_names: Sequence[str]) -> str | None:
    """Name of the registered joint set with exactly these joints in this order, else None."""
    names = tuple(joint_names)
    for name, js in JOINT_SETS.items():
        if js.joints == names:
            return name
    return None


def convert_tracks(tracks: Tracks, dst: str, *, what: str = "tracks") -> Tracks:
    """Tracks in joint set ``dst`` (:func:`~tessetrack.skeletons.convert_joints` per pose).

    A converted joint's score is the smallest score of the source joints it is made of.

    Raises:
        InputError: when the source joint set is not a registered one, or some ``dst`` joints
            cannot be formed from it (they are named).
    """
    src = joint_set_of(tracks.joint_names)
    dst_joints = JOINT_SETS[dst].joints
    if src == dst:
        return tracks
    if src is None:
        raise InputError(
            f"{what}: joints ({', '.join(tracks.joint_names)}) are no registered joint set, so "
            f"they cannot be converted to {dst}"
        )
    W = conversion_matrix(src, dst)  # J_dst×J_src
    missing = [dst_joints[i] for i in np.flatnonzero(np.isnan(W).any(axis=1))]
    if missing:
        raise InputError(
            f"{what} are in {src}, which lacks joints of {dst} needed for evaluation: "
            f"{', '.join(missing)}"
        )
    used = W != 0  # J_dst×J_src
    frames = []
    for f in tracks.frames:
        people = []
        for p in f.people:
            joints = convert_joints(np.asarray(p.joints, dtype=np.float64), src, dst)  # J_dst×3
            scores = None
            if p.scores is not None:
                s = np.asarray(p.scores, dtype=np.float64)
                scores = np.where(used, s[None], np.inf).min(axis=1)  # J_dst
            people.append(PersonPose(id=p.id, joints=joints, scores=scores))
        frames.append(FramePoses(frame=f.frame, people=tuple(people)))
    return Tracks(joint_names=dst_joints, frames=tuple(frames), fps=tracks.fps, units=tracks.units)


def check_metres(tracks: Tracks, *, what: str) -> None:
    """Refuse poses whose median extent (largest joint-to-joint axis span) exceeds 4 m.

    Raises:
        InputError: naming ``what`` and the measured extent, e.g. for millimetres (≈1700 "m").
    """
    if tracks.units != "m":
        raise InputError(f"{what}: units are {tracks.units!r}, expected metres")
    extents = []
    for f in tracks.frames:
        for p in f.people:
            j = np.asarray(p.joints, dtype=np.float64)
            j = j[np.isfinite(j).all(axis=-1)]
            if len(j) >= 2:
                extents.append(float((j.max(0) - j.min(0)).max()))
    if extents and np.median(extents) > _MAX_EXTENT_M:
        ext = float(np.median(extents))
        unit = "millimetres" if ext > 400 else "centimetres" if ext > 40 else "another unit"
        raise InputError(
            f"{what}: a typical pose spans {ext:.4g} 'metres' — the coordinates look like "
            f"{unit}; tessetrack expects metres (divide by {1000 if ext > 400 else 100})"
        )


def load_ground_truth(path: str | PathLike[str]) -> Tracks:
    """GT as tracks: a tracks file (``.json``/``.npz``/``.csv``) or a dataset folder.

    A folder is read with :func:`tessetrack.data.open_dataset`; its GT ``people`` become the
    tracks (joint set of the dataset, e.g. ``shelf14`` for Shelf/Campus).
    """
    path = Path(path)
    if path.is_dir():
        from tessetrack.data import open_dataset

        dataset = open_dataset(path)
        frames = tuple(FramePoses(frame=f.frame, people=tuple(f.people)) for f in dataset)
        joint_set = JOINT_SETS[dataset.joint_set] if dataset.joint_set in JOINT_SETS else None
        if joint_set is None:
            raise InputError(f"dataset joint set {dataset.joint_set!r} is not registered", path)
        return Tracks(joint_names=joint_set.joints, frames=frames, fps=dataset.fps)
    from tessetrack.io.tracks import load_tracks

    return load_tracks(path)


def _stack(people: Sequence[PersonPose], num_joints: int) -> np.ndarray:
    if not people:
        return np.zeros((0, num_joints, 3))
    return np.stack([np.asarray(p.joints, dtype=np.float64) for p in people])  # P×J×3


def _visible(people: Sequence[PersonPose], num_joints: int) -> np.ndarray:
    """(G, J) GT joints scored: finite and, when scores exist, score > 0."""
    if not people:
        return np.zeros((0, num_joints), dtype=bool)
    vis = []
    for p in people:
        v = np.isfinite(p.joints).all(axis=-1)
        if p.scores is not None:
            v &= np.asarray(p.scores) > 0
        vis.append(v)
    return np.stack(vis)


def _pose_accuracy(
    pred: Tracks, gt: Tracks, *, joint_set: str | None, pck_thresholds_mm: Sequence[float]
) -> dict[str, object]:
    J = len(gt.joint_names)
    pred_by_frame = pred.by_frame()
    matched_pred, matched_gt, matched_vis = [], [], []
    all_gt, all_pred, all_vis = [], [], []  # every GT pose, NaN prediction when unmatched
    for frame in gt.frames:
        g = _stack(frame.people, J)  # G×J×3
        vis = _visible(frame.people, J)  # G×J
        f = pred_by_frame.get(frame.frame)
        p = _stack(f.people if f is not None else (), J)  # P×J×3
        pi, gi = match_poses(p, g, gt_visible=vis)
        matched_pred.append(p[pi])
        matched_gt.append(g[gi])
        matched_vis.append(vis[gi])
        assigned = np.full_like(g, np.nan)
        assigned[gi] = p[pi]
        all_gt.append(g)
        all_pred.append(assigned)
        all_vis.append(vis)
    mp = np.concatenate(matched_pred) if matched_pred else np.zeros((0, J, 3))  # M×J×3
    mg = np.concatenate(matched_gt) if matched_gt else np.zeros((0, J, 3))
    mv = np.concatenate(matched_vis) if matched_vis else np.zeros((0, J), bool)
    out: dict[str, object] = {}

    def mean(x: np.ndarray) -> float:
        x = x[np.isfinite(x)]
        return float(x.mean()) if x.size else float("nan")

    out["mpjpe_mm"] = mean(mpjpe(mp, mg, visible=mv)) if len(mp) else float("nan")
    out["pa_mpjpe_mm"] = mean(pa_mpjpe(mp, mg, visible=mv)) if len(mp) else float("nan")
    if joint_set in DEFAULT_ROOTS:
        out["mpjpe_root_mm"] = (
            mean(root_relative_mpjpe(mp, mg, joint_set=joint_set, visible=mv))
            if len(mp)
            else float("nan")
        )
    ag = np.concatenate(all_gt) if all_gt else np.zeros((0, J, 3))
    ap_ = np.concatenate(all_pred) if all_pred else np.zeros((0, J, 3))
    av = np.concatenate(all_vis) if all_vis else np.zeros((0, J), bool)
    out["pck"] = {
        f"{t:g}": v for t, v in pck(ap_, ag, thresholds_mm=pck_thresholds_mm, visible=av).items()
    }
    out["matched_poses"] = int(len(mp))
    out["gt_poses"] = int(len(ag))
    return out


def evaluate(
    pred: Tracks,
    gt: Tracks,
    protocols: Iterable[str] = PROTOCOLS,
    *,
    pck_thresholds_mm: Sequence[float] = DEFAULT_PCK_THRESHOLDS_MM,
    mot_threshold_mm: float = 100.0,
) -> dict[str, object]:
    """Evaluate predicted tracks against GT tracks with the chosen protocols.

    Args:
        pred: predicted tracks (any registered joint set convertible to the GT's).
        gt: ground-truth tracks.
        protocols: subset of ``mpjpe``, ``pcp``, ``ap``, ``mot3d`` (or ``"all"``).
        pck_thresholds_mm: 3D-PCK thresholds of the ``mpjpe`` protocol.
        mot_threshold_mm: joint correctness distance of ``mot3d``.

    Returns:
        The metrics dictionary (see the module docstring), plus ``protocols``, ``joint_set``
        and ``frames``.

    Raises:
        InputError: for unknown protocols, coordinates not in metres, or joint sets that cannot
            be converted.
    """
    from tessetrack.eval.ap import panoptic_ap
    from tessetrack.eval.mot3d import mot3d
    from tessetrack.eval.pcp import pcp

    chosen = parse_protocols(protocols)
    check_metres(gt, what="ground truth")
    check_metres(pred, what="predictions")
    gt_set = joint_set_of(gt.joint_names)
    if tuple(pred.joint_names) != tuple(gt.joint_names):
        if gt_set is None:
            raise InputError(
                "predictions and ground truth have different joints and the GT's are no "
                "registered joint set"
            )
        pred = convert_tracks(pred, gt_set, what="predictions")
    result: dict[str, object] = {
        "protocols": list(chosen),
        "joint_set": gt_set or "custom",
        "frames": len(gt.frames),
    }
    if "mpjpe" in chosen:
        result.update(
            _pose_accuracy(pred, gt, joint_set=gt_set, pck_thresholds_mm=pck_thresholds_mm)
        )
    if "pcp" in chosen:
        gt14 = convert_tracks(gt, "shelf14", what="ground truth")
        pred14 = convert_tracks(pred, "shelf14", what="predictions")
        result["pcp"] = pcp(pred14, gt14)
    if "ap" in chosen:
        ap = panoptic_ap(pred, gt)
        result["ap"] = ap["ap"]
        result["recall_500"] = ap["recall_500"]
        result["ap_mpjpe_mm"] = ap["ap_mpjpe_mm"]
    if "mot3d" in chosen:
        result.update(mot3d(pred, gt, threshold_mm=mot_threshold_mm))
    return result


def to_json(result: dict[str, object]) -> str:
    """The metrics as JSON text (NaN/inf written as null)."""

    def clean(x: object) -> object:
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (np.floating, float)):
            return float(x) if math.isfinite(x) else None
        if isinstance(x, np.integer):
            return int(x)
        return x

    return json.dumps(clean(result), indent=2, allow_nan=False)


def _warn_no_overlap(pred: Tracks, gt: Tracks, pred_path: object, gt_path: object) -> None:
    """One warning when the predictions share no frame (or only some) with the ground truth."""
    pred_frames = {f.frame for f in pred.frames}
    gt_frames = {f.frame for f in gt.frames}
    shared = pred_frames & gt_frames
    if gt_frames and not shared:
        logger.warning(
            "%s shares no frame with %s (predictions %s, ground truth %s): every metric counts "
            "all ground truth as missed",
            pred_path,
            gt_path,
            _span(pred_frames),
            _span(gt_frames),
        )
    elif len(shared) < len(gt_frames):
        logger.warning(
            "%s covers %d of the %d ground-truth frames of %s; the others count as missed",
            pred_path,
            len(shared),
            len(gt_frames),
            gt_path,
        )


def _span(frames: set[int]) -> str:
    """``frames a-b`` (or ``no frames``) for messages."""
    return f"frames {min(frames)}-{max(frames)}" if frames else "no frames"


def evaluate_files(
    pred_path: str | PathLike[str],
    gt_path: str | PathLike[str],
    protocols: str | Iterable[str] = "all",
    *,
    json_path: str | PathLike[str] | None = None,
) -> dict[str, object]:
    """Load a tracks file and a GT (tracks file or dataset folder), evaluate, optionally save JSON.

    Errors name the offending file.
    """
    from tessetrack.io.atomic import atomic_write_text, check_output
    from tessetrack.io.tracks import load_tracks

    if json_path is not None:
        check_output(json_path, what="metrics file", inputs=(pred_path, gt_path))
    chosen = parse_protocols(protocols)
    pred = load_tracks(pred_path)
    gt = load_ground_truth(gt_path)
    _warn_no_overlap(pred, gt, pred_path, gt_path)
    try:
        check_metres(pred, what="predictions")
    except InputError as exc:
        raise InputError(str(exc), pred_path) from None
    try:
        check_metres(gt, what="ground truth")
    except InputError as exc:
        raise InputError(str(exc), gt_path) from None
    result = evaluate(pred, gt, chosen)
    if json_path is not None:
        out = atomic_write_text(json_path, to_json(result) + "\n")
        logger.info("wrote %s", out)
    return result
