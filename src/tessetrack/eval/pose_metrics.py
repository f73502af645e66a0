"""3D pose accuracy (paper §4 "Evaluation details"): MPJPE, root-relative MPJPE, PA-MPJPE, 3D-PCK.

Inputs are world coordinates in **metres**, outputs in **millimetres** (errors) or percent (PCK).
Every function is vectorized over leading dimensions: ``pred`` and ``gt`` are ``(..., J, 3)``
arrays (e.g. P×J×3 matched poses). A GT joint that is NaN, or masked out by ``visible``, is left
out of every mean; a NaN predicted joint where the GT joint is valid counts as infinitely wrong for
PCK and makes that pose's MPJPE NaN (it cannot be scored). :func:`match_poses` pairs predicted and
GT poses of one frame for these metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from tessetrack.errors import InputError
from tessetrack.skeletons import get_joint_set

__all__ = [
    "DEFAULT_ROOTS",
    "DEFAULT_PCK_THRESHOLDS_MM",
    "joint_errors_mm",
    "mpjpe",
    "root_relative_mpjpe",
    "procrustes_align",
    "pa_mpjpe",
    "pck",
    "match_poses",
]

#: Root joint of root-relative MPJPE per joint set (Panoptic/OpenPose: mid-hip; Human3.6M: pelvis).
DEFAULT_ROOTS: dict[str, str] = {"panoptic19": "mid_hip", "body25": "mid_hip", "h36m17": "pelvis"}
#: 3D-PCK thresholds reported by default, millimetres.
DEFAULT_PCK_THRESHOLDS_MM: tuple[float, ...] = (25.0, 50.0, 100.0, 150.0)


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 (..., J, 3), broadcast against each other."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    message = (
        f"pred and gt must be (..., J, 3) arrays of the same (or broadcastable) shape, got "
        f"{pred.shape} and {gt.shape}"
    )
    if pred.ndim < 2 or gt.ndim < 2 or pred.shape[-2:] != gt.shape[-2:] or pred.shape[-1] != 3:
        raise InputError(message)
    try:
        pred, gt = np.broadcast_arrays(pred, gt)
    except ValueError:
        raise InputError(message) from None
    return pred, gt


def _valid(gt: np.ndarray, visible: np.ndarray | None) -> np.ndarray:
    """(..., J) bool: the GT joint is finite and (if given) visible."""
    valid = np.isfinite(gt).all(axis=-1)
    if visible is not None:
        valid &= np.asarray(visible, dtype=bool)
    return valid


def joint_errors_mm(
    pred: np.ndarray, gt: np.ndarray, *, visible: np.ndarray | None = None
) -> np.ndarray:
    """Per-joint Euclidean error.

    Args:
        pred, gt: (..., J, 3) metres.
        visible: optional (..., J) bool mask of GT joints to score.

    Returns:
        (..., J) millimetres; NaN where the GT joint is NaN or not visible; NaN also where only the
        prediction is NaN.
    """
    pred, gt = _check_pair(pred, gt)
    err = 1000.0 * np.linalg.norm(pred - gt, axis=-1)  # ...×J
    return np.where(_valid(gt, visible), err, np.nan)


def _mean_valid(err: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Mean of ``err`` over the last axis where ``valid``; NaN with no valid entry."""
    count = valid.sum(axis=-1)
    total = np.where(valid, err, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def mpjpe(pred: np.ndarray, gt: np.ndarray, *, visible: np.ndarray | None = None) -> np.ndarray:
    """Mean per-joint position error in world coordinates (non-root-centred, as on Panoptic).

    Args:
        pred, gt: (..., J, 3) metres.
        visible: optional (..., J) bool mask of GT joints to score.

    Returns:
        (...) millimetres per pose, the mean over valid GT joints (NaN if a valid joint's
        prediction is NaN or no joint is valid).
    """
    pred, gt = _check_pair(pred, gt)
    err = 1000.0 * np.linalg.norm(pred - gt, axis=-1)  # ...×J
    return _mean_valid(err, _valid(gt, visible))


def _root_index(joint_set: str, root: str | int | None) -> int:
    js = get_joint_set(joint_set)
    if isinstance(root, int):
        if not 0 <= root < js.num_joints:
            raise InputError(f"root index {root} out of range for {js.name}")
        return root
    name = root if root is not None else DEFAULT_ROOTS.get(js.name)
    if name is None:
        raise InputError(
            f"no default root joint for {js.name!r}; pass root= (one of {', '.join(js.joints)})"
        )
    if name not in js.joints:
        raise InputError(f"root joint {name!r} is not in {js.name}")
    return js.index(name)


def root_relative_mpjpe(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    joint_set: str = "panoptic19",
    root: str | int | None = None,
    visible: np.ndarray | None = None,
) -> np.ndarray:
    """MPJPE after subtracting each pose's root joint from it (the Human3.6M protocol).

    Args:
        pred, gt: (..., J, 3) metres in ``joint_set`` order.
        joint_set: names the joints; picks the default root (:data:`DEFAULT_ROOTS`: ``mid_hip``
            for panoptic19/body25, ``pelvis`` for h36m17).
        root: root joint name or index overriding the default.
        visible: optional (..., J) bool mask of GT joints to score.

    Returns:
        (...) millimetres per pose (NaN where the root of either pose is NaN).
    """
    pred, gt = _check_pair(pred, gt)
    r = _root_index(joint_set, root)
    return mpjpe(pred - pred[..., r : r + 1, :], gt - gt[..., r : r + 1, :], visible=visible)


def procrustes_align(
    pred: np.ndarray, gt: np.ndarray, *, visible: np.ndarray | None = None
) -> np.ndarray:
    """Similarity transform (scale, rotation, translation) of ``pred`` best fitting ``gt``.

    Solves ``min_{s,R,t} Σ_j w_j |s·R·p_j + t − g_j|²`` over valid joints (Umeyama 1991) with a
    proper rotation (det R = +1: a reflection is never used).

    Args:
        pred, gt: (..., J, 3).
        visible: optional (..., J) bool mask; NaN GT joints are excluded as well.

    Returns:
        (..., J, 3) aligned prediction (NaN for poses with fewer than 3 valid joints).
    """
    pred, gt = _check_pair(pred, gt)
    w = (_valid(gt, visible) & np.isfinite(pred).all(axis=-1)).astype(np.float64)  # ...×J
    n = w.sum(axis=-1, keepdims=True)[..., None]  # ...×1×1
    p = np.nan_to_num(pred)
    g = np.nan_to_num(gt)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu_p = (w[..., None] * p).sum(axis=-2, keepdims=True) / n  # ...×1×3
        mu_g = (w[..., None] * g).sum(axis=-2, keepdims=True) / n  # ...×1×3
    p0 = (p - mu_p) * w[..., None]  # ...×J×3, zero outside valid joints
    g0 = (g - mu_g) * w[..., None]  # ...×J×3
    H = np.einsum("...ji,...jk->...ik", p0, g0)  # ...×3×3 cross-covariance Σ p0 g0ᵀ
    U, S, Vt = np.linalg.svd(np.nan_to_num(H))  # ...×3×3, ...×3, ...×3×3
    # R = V·D·Uᵀ with D = diag(1, 1, sign det(V Uᵀ)) to exclude reflections.
    d = np.sign(np.linalg.det(np.einsum("...ji,...kj->...ik", Vt, U)))  # ...
    d = np.where(d == 0, 1.0, d)
    D = np.ones(S.shape)
    D[..., -1] = d
    R = np.einsum("...ji,...j,...kj->...ik", Vt, D, U)  # ...×3×3 = V·D·Uᵀ
    var_p = (p0**2).sum(axis=(-1, -2))  # ...
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (S * D).sum(axis=-1) / var_p  # ... optimal scale tr(DS)/σ_p²
    aligned = s[..., None, None] * np.einsum("...ik,...jk->...ji", R, pred - mu_p) + mu_g
    return np.where(n >= 3, aligned, np.nan)


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray, *, visible: np.ndarray | None = None) -> np.ndarray:
    """MPJPE after Procrustes alignment with scale (:func:`procrustes_align`).

    Returns:
        (...) millimetres per pose.
    """
    return mpjpe(procrustes_align(pred, gt, visible=visible), gt, visible=visible)


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    thresholds_mm: Sequence[float] = DEFAULT_PCK_THRESHOLDS_MM,
    visible: np.ndarray | None = None,
) -> dict[float, float]:
    """3D-PCK: percentage of valid GT joints predicted within each threshold.

    Args:
        pred, gt: (..., J, 3) metres; a NaN prediction of a valid GT joint is a miss.
        thresholds_mm: distances in millimetres (a joint is correct if its error is <= the
            threshold).
        visible: optional (..., J) bool mask of GT joints to score.

    Returns:
        ``threshold_mm -> percent`` (0–100); NaN when no joint is valid.
    """
    pred, gt = _check_pair(pred, gt)
    err = 1000.0 * np.linalg.norm(pred - gt, axis=-1)  # ...×J
    valid = _valid(gt, visible)
    total = int(valid.sum())
    out: dict[float, float] = {}
    for t in thresholds_mm:
        hit = int((valid & (np.nan_to_num(err, nan=np.inf) <= t)).sum())
        out[float(t)] = 100.0 * hit / total if total else float("nan")
    return out


def match_poses(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    max_mpjpe_mm: float = 500.0,
    gt_visible: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of one frame's predicted and GT poses by MPJPE (Hungarian).

    Pairs whose MPJPE exceeds ``max_mpjpe_mm`` (or is NaN) are never matched, so a far-off
    prediction leaves its GT pose unmatched instead of inflating the mean error.

    Args:
        pred: (P, J, 3) metres.
        gt: (G, J, 3) metres.
        max_mpjpe_mm: largest admissible MPJPE of a matched pair (default 500 mm, VoxelPose's
            recall threshold).
        gt_visible: optional (G, J) bool mask of GT joints.

    Returns:
        ``(pred_index, gt_index)``: (M,) int arrays of matched pairs, sorted by ``gt_index``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if len(pred) == 0 or len(gt) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    vis = None if gt_visible is None else np.asarray(gt_visible, dtype=bool)[None]
    cost = mpjpe(pred[:, None], gt[None], visible=vis)  # P×G
    ok = np.isfinite(cost) & (cost <= max_mpjpe_mm)
    big = 1e9
    rows, cols = linear_sum_assignment(np.where(ok, cost, big))
    keep = ok[rows, cols]
    order = np.argsort(cols[keep])
    return rows[keep][order].astype(np.int64), cols[keep][order].astype(np.int64)
