"""Multi-view triangulation: weighted linear (DLT) triangulation and reprojection errors.

Used to lift 2D detections to 3D (baselines, pseudo ground truth, the paper's Sec. 4 comparison
with triangulation-based methods) and to measure how well 3D points explain the 2D evidence.

Each view ``v`` with projection matrix ``P_v`` (rows ``p1, p2, p3``) and pixel ``(u, v)`` gives two
linear equations in the homogeneous point ``X``::

    (u · p3 - p1) · X = 0        (v · p3 - p2) · X = 0

The rows are scaled to unit norm (conditioning: without it, rows of far or high-resolution views
dominate and float32 loses the solution), multiplied by the view's weight, stacked into
``A (2V × 4)`` and ``X`` is the right singular vector of ``A`` with the smallest singular value.
A view with weight 0 contributes nothing. All functions are pure, batched and differentiable.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tessetrack.errors import InputError
from tessetrack.geometry.camera import pixel_to_normalized, project_points

__all__ = ["dlt_rows", "triangulate_dlt", "triangulate_undistorted", "reprojection_error"]


def _check_views(uv: Tensor, P: Tensor, weights: Tensor | None) -> None:
    if uv.shape[-1] != 2:
        raise InputError(f"triangulation: uv must have shape (..., V, 2), got {tuple(uv.shape)}")
    if P.shape[-2:] != (3, 4):
        raise InputError(f"triangulation: P must have shape (..., V, 3, 4), got {tuple(P.shape)}")
    if uv.dim() < 2 or P.dim() < 3 or uv.shape[-2] != P.shape[-3]:
        raise InputError(
            f"triangulation: uv {tuple(uv.shape)} and P {tuple(P.shape)} disagree on the number of views"
        )
    if weights is not None and (weights.dim() < 1 or weights.shape[-1] != uv.shape[-2]):
        raise InputError(
            f"triangulation: weights must have shape (..., V={uv.shape[-2]}), got {tuple(weights.shape)}"
        )


def dlt_rows(uv: Tensor, P: Tensor, weights: Tensor | None = None, eps: float = 1e-12) -> Tensor:
    """The weighted, row-normalised DLT system of each point.

    Args:
        uv: (..., V, 2) image coordinates (pixels, or normalized coordinates when ``P = [R | t]``).
        P: (..., V, 3, 4) projection matrices, broadcastable against ``uv``'s leading dims.
        weights: (..., V) non-negative view weights (e.g. detection confidences) or None for ones.
        eps: guards the row normalisation of all-zero rows.

    Returns:
        (..., 2V, 4) matrix ``A`` with ``A X = 0`` for the homogeneous point ``X``.
    """
    _check_views(uv, P, weights)
    # u · p3 - p1 and v · p3 - p2: ...×V×2×4
    rows = uv.unsqueeze(-1) * P[..., 2:3, :] - P[..., :2, :]
    rows = rows / rows.norm(dim=-1, keepdim=True).clamp_min(eps)
    if weights is not None:
        rows = rows * weights.clamp_min(0)[..., None, None]  # ...×V×1×1
    # ...×V×2×4 -> ...×2V×4
    return rows.flatten(-3, -2)


def triangulate_dlt(
    uv: Tensor, P: Tensor, weights: Tensor | None = None, eps: float = 1e-12
) -> Tensor:
    """Weighted linear triangulation of one point per batch element from V views (SVD).

    Distortion is not handled here: pass undistorted pixels, or use
    :func:`triangulate_undistorted`. At least two views with positive weight (not on one ray) are
    needed; with fewer the result is arbitrary but finite. Points at infinity (homogeneous
    ``w ≈ 0``) come out very large.

    Args:
        uv: (..., V, 2) pixels, one point seen in V views.
        P: (..., V, 3, 4) projection matrices ``K [R | t]`` (broadcast against ``uv``).
        weights: (..., V) non-negative confidences; weight 0 ignores a view; None means ones.
        eps: guards divisions (row norms, the homogeneous coordinate).

    Returns:
        (..., 3) world points (units of the ``t`` in ``P``: metres in tessetrack).
    """
    A = dlt_rows(uv, P, weights, eps)  # ...×2V×4
    if A.shape[-2] < 4:  # a single view: pad with zero rows so the SVD still has a 4×4 Vh
        A = torch.cat([A, A.new_zeros(*A.shape[:-2], 4 - A.shape[-2], 4)], dim=-2)
    _, _, Vh = torch.linalg.svd(A, full_matrices=False)  # Vh: ...×4×4
    X = Vh[..., -1, :]  # ...×4, right singular vector of the smallest singular value
    w = X[..., 3:4]
    w = torch.where(w.abs() < eps, torch.full_like(w, eps).copysign(w), w)
    return X[..., :3] / w


def triangulate_undistorted(
    uv: Tensor,
    K: Tensor,
    R_cam_from_world: Tensor,
    t: Tensor,
    dist: Tensor | None = None,
    weights: Tensor | None = None,
    iters: int = 20,
) -> Tensor:
    """Triangulate raw (distorted) pixels: undistort with K/dist, then DLT with ``P = [R | t]``.

    Working in normalized coordinates removes the distortion exactly (up to the Newton
    tolerance of :func:`~tessetrack.geometry.camera.undistort_normalized`).

    Args:
        uv: (..., V, 2) raw pixels.
        K: (V, 3, 3) or (..., V, 3, 3); R_cam_from_world: (..., V, 3, 3); t: (..., V, 3);
            dist: (..., V, 5) or None; all broadcast against ``uv``'s leading dims.
        weights: (..., V) non-negative view weights or None.
        iters: Newton iterations of the undistortion.

    Returns:
        (..., 3) world points.
    """
    xy = pixel_to_normalized(uv, K, dist, iters=iters)  # ...×V×2
    P = torch.cat([R_cam_from_world, t.unsqueeze(-1)], dim=-1)  # ...×V×3×4
    return triangulate_dlt(xy, P, weights)


def reprojection_error(
    points_world: Tensor,
    uv: Tensor,
    K: Tensor,
    R_cam_from_world: Tensor,
    t: Tensor,
    dist: Tensor | None = None,
) -> Tensor:
    """Pixel distance between the projections of 3D points and their observations.

    Args:
        points_world: (..., 3) world points, one per observation group.
        uv: (..., V, 2) observed pixels of each point in V views.
        K: (..., V, 3, 3); R_cam_from_world: (..., V, 3, 3); t: (..., V, 3); dist: (..., V, 5) or
            None; all broadcast against ``uv``'s leading dims (e.g. K of shape (V, 3, 3)).

    Returns:
        (..., V) Euclidean reprojection error in pixels.
    """
    if points_world.shape[-1] != 3 or uv.shape[-1] != 2:
        raise InputError(
            f"reprojection_error: expected points (..., 3) and uv (..., V, 2), got "
            f"{tuple(points_world.shape)} and {tuple(uv.shape)}"
        )
    # ...×3 -> ...×1×3, broadcast over the V views
    projected = project_points(points_world.unsqueeze(-2), K, R_cam_from_world, t, dist)
    return (projected - uv).norm(dim=-1)
