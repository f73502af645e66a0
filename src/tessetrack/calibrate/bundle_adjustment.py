"""Robust bundle adjustment of camera poses and 3D points (scipy ``least_squares``).

Observations are *undistorted* image points in pixel-equivalent units ``f0 · (x/z, y/z)`` with one
focal length ``f0`` shared by all cameras (the distortion and the cameras' own focal lengths are
taken out beforehand), so the residuals are pixels of a camera with focal length ``f0``. A pose is
a Rodrigues vector and a translation, world to camera: ``x_cam = R(rvec) x_world + t``.

The residual of observation k of point p in camera v, with confidence weight w_k::

    r_k = sqrt(w_k) · (f0 · π(R_v X_p + t_v) − u_k),   π(x, y, z) = (x/z, y/z)

minimised under a robust loss (``soft_l1`` by default, scale ``f_scale`` px) so that wrong joint
detections and wrong person associations count little. The Jacobian's sparsity (each residual
depends on 6 pose and 3 point parameters) is passed to the solver.

Optional *bone terms* (:class:`BoneTerms`) hold pairs of points at a common length: bone instance
i (points a_i, b_i, e.g. one person's thigh in one frame) shares the length ``L_g`` of its group
g (that person's thigh in every frame), a free parameter (its logarithm is optimised). Its
residual, under the same robust loss::

    r_i = (f_scale / tolerance) · (|X_a − X_b| / L_g − 1)

so that a bone ``tolerance`` (relative) longer or shorter than its group's length costs as much as
a reprojection error of ``f_scale`` pixels. The terms do not depend on the rig's scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import csr_matrix, hstack, vstack
from scipy.spatial.transform import Rotation

__all__ = ["BoneTerms", "BundleResult", "project", "bundle_adjust"]


@dataclass(frozen=True)
class BoneTerms:
    """Pairs of points held at a common length per group (module docstring).

    Attributes:
        a, b: (B,) indices of the two points of each bone instance.
        group: (B,) index of the length each instance shares, 0 .. G−1.
        tolerance: relative length deviation that costs as much as ``f_scale`` reprojection px.
    """

    a: np.ndarray
    b: np.ndarray
    group: np.ndarray
    tolerance: float = 0.05

    @property
    def groups(self) -> int:
        """G, the number of lengths."""
        return int(self.group.max()) + 1 if len(self.group) else 0

    def initial_lengths(self, points: np.ndarray) -> np.ndarray:
        """(G,) the median length of each group's instances in ``points`` (N, 3)."""
        d = np.linalg.norm(points[self.a] - points[self.b], axis=1)  # B
        order = np.argsort(self.group, kind="stable")
        starts = np.searchsorted(self.group[order], np.arange(self.groups))
        return np.array([np.median(part) for part in np.split(d[order], starts[1:])])


@dataclass(frozen=True)
class BundleResult:
    """Refined poses and points.

    Attributes:
        rvecs: (V, 3) Rodrigues vectors, world to camera.
        tvecs: (V, 3) translations.
        points: (N, 3) points.
        residuals: (K, 2) unweighted residuals of the observations in pixel-equivalent units.
        bone_lengths: (G,) the lengths of the bone groups (empty without bone terms).
    """

    rvecs: np.ndarray
    tvecs: np.ndarray
    points: np.ndarray
    residuals: np.ndarray
    bone_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0))


def project(rvecs: np.ndarray, tvecs: np.ndarray, points: np.ndarray, f0: float) -> np.ndarray:
    """Pinhole projection without distortion.

    Args:
        rvecs: (K, 3) Rodrigues vectors (world to camera), one per point.
        tvecs: (K, 3) translations.
        points: (K, 3) world points.
        f0: focal length of the pixel-equivalent units.

    Returns:
        (K, 2) ``f0 · (x/z, y/z)`` of the points in the camera frame.
    """
    cam = Rotation.from_rotvec(rvecs).apply(points) + tvecs  # K×3
    return f0 * cam[:, :2] / cam[:, 2:3]


def _sparsity(
    n_cams: int, n_points: int, cam_idx: np.ndarray, point_idx: np.ndarray, fixed_camera: int
) -> csr_matrix:
    """(2K, 6V + 3N) pattern: residual rows 2k, 2k+1 depend on their camera's 6 pose parameters
    (none for the held camera) and their point's 3 coordinates."""
    k = len(cam_idx)
    rows = np.repeat(np.arange(2 * k), 9)  # 2K·9
    cam_cols = 6 * cam_idx[:, None] + np.arange(6)  # K×6
    point_cols = 6 * n_cams + 3 * point_idx[:, None] + np.arange(3)  # K×3
    cols = np.repeat(np.hstack([cam_cols, point_cols]), 2, axis=0).ravel()  # 2K·9
    keep = np.repeat(np.repeat(cam_idx != fixed_camera, 2)[:, None], 9, axis=1).ravel()
    keep |= np.tile(np.arange(9) >= 6, 2 * k)  # point columns always count
    data = np.ones(int(keep.sum()), dtype=np.int8)
    shape = (2 * k, 6 * n_cams + 3 * n_points)
    return csr_matrix((data, (rows[keep], cols[keep])), shape=shape)


def _bone_sparsity(n_cams: int, n_points: int, bones: BoneTerms) -> csr_matrix:
    """(B, 6V + 3N + G) pattern of the bone rows: both points' coordinates and the group's length."""
    first = 6 * n_cams  # B×7 columns: point a, point b, the length
    cols = np.hstack([first + 3 * bones.a[:, None] + np.arange(3),
                      first + 3 * bones.b[:, None] + np.arange(3),
                      first + 3 * n_points + bones.group[:, None]])  # fmt: skip
    rows = np.repeat(np.arange(len(bones.a)), 7)
    shape = (len(bones.a), first + 3 * n_points + bones.groups)
    return csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols.ravel())), shape=shape)


def bundle_adjust(
    rvecs: np.ndarray,
    tvecs: np.ndarray,
    points: np.ndarray,
    cam_idx: np.ndarray,
    point_idx: np.ndarray,
    uv: np.ndarray,
    weights: np.ndarray,
    f0: float,
    *,
    fixed_camera: int = 0,
    loss: str = "soft_l1",
    f_scale: float = 4.0,
    max_nfev: int = 200,
    bones: BoneTerms | None = None,
) -> BundleResult:
    """Refine all camera poses but one and all points (and the bone lengths).

    Args:
        rvecs, tvecs: (V, 3) initial poses.
        points: (N, 3) initial points.
        cam_idx, point_idx: (K,) camera and point of each observation.
        uv: (K, 2) observed undistorted pixel-equivalent coordinates.
        weights: (K,) confidence weights (≥ 0).
        f0: focal length of the pixel-equivalent units.
        fixed_camera: the camera whose pose is held (fixes the rotation and position gauge).
        loss, f_scale: scipy's robust loss and its scale in pixels.
        max_nfev: function evaluations at most.
        bones: pairs of points kept at their group's length (module docstring); None: none.

    Returns:
        The refined poses and points with the final residuals (and the bone lengths).
    """
    n_cams, n_points = len(rvecs), len(points)
    bones = bones if bones is not None and len(bones.a) else None
    n_len = bones.groups if bones is not None else 0
    sqrt_w = np.sqrt(np.clip(weights, 0.0, None))[:, None]  # K×1
    fixed = np.concatenate([rvecs[fixed_camera], tvecs[fixed_camera]])
    end_points = 6 * n_cams + 3 * n_points

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        poses = x[: 6 * n_cams].reshape(n_cams, 6).copy()  # V×6
        poses[fixed_camera] = fixed
        return poses[:, :3], poses[:, 3:], x[6 * n_cams : end_points].reshape(n_points, 3)

    def residuals(x: np.ndarray) -> np.ndarray:
        r, t, X = unpack(x)
        predicted = project(r[cam_idx], t[cam_idx], X[point_idx], f0)  # K×2
        out = (sqrt_w * (predicted - uv)).ravel()
        if bones is None:
            return out
        lengths = np.exp(x[end_points:])[bones.group]  # B
        d = np.linalg.norm(X[bones.a] - X[bones.b], axis=1)
        return np.concatenate([out, (f_scale / bones.tolerance) * (d / lengths - 1.0)])

    x0 = np.concatenate([np.hstack([rvecs, tvecs]).ravel(), points.ravel()])
    pattern = _sparsity(n_cams, n_points, cam_idx, point_idx, fixed_camera)
    if bones is not None:
        x0 = np.concatenate([x0, np.log(np.maximum(bones.initial_lengths(points), 1e-12))])
        pattern = vstack([hstack([pattern, csr_matrix((pattern.shape[0], n_len))]),
                          _bone_sparsity(n_cams, n_points, bones)], format="csr")  # fmt: skip
    result = least_squares(residuals, x0, jac_sparsity=pattern, loss=loss, f_scale=f_scale,
                           x_scale="jac", method="trf", max_nfev=max_nfev)  # fmt: skip
    r, t, X = unpack(result.x)
    plain = project(r[cam_idx], t[cam_idx], X[point_idx], f0) - uv  # K×2
    return BundleResult(rvecs=r, tvecs=t, points=X, residuals=plain,
                        bone_lengths=np.exp(result.x[end_points:]))  # fmt: skip
