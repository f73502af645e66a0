"""Pinhole cameras with OpenCV distortion: the one place where the camera convention lives.

Convention (SPEC.md): ``points_cam = R_cam_from_world @ points_world + t``; the pixel is
``K · distort(points_cam[:2] / points_cam[2])`` with OpenCV's (k1, k2, p1, p2, k3) model.
World units are metres everywhere in tessetrack. Pixel (0, 0) is the centre of the top-left pixel,
as in OpenCV.

The tensor functions are pure and batched: camera parameters broadcast against the leading
dimensions of the points, so one call projects B×V×N points into V cameras without loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from tessetrack.errors import InputError

__all__ = [
    "Camera",
    "distort_normalized",
    "distortion_jacobian",
    "undistort_normalized",
    "pixel_to_normalized",
    "normalized_to_pixel",
    "undistort_pixels",
    "pixel_to_ray",
    "project_points",
    "world_to_camera",
    "camera_center",
    "projection_matrix",
    "stack_cameras",
]

ArrayT = TypeVar("ArrayT", np.ndarray, Tensor)


def world_to_camera(points_world: Tensor, R_cam_from_world: Tensor, t: Tensor) -> Tensor:
    """Rigid transform into the camera frame.

    Args:
        points_world: (..., 3) points in metres.
        R_cam_from_world: (..., 3, 3), broadcastable against the points' leading dims.
        t: (..., 3) translation in metres.

    Returns:
        (..., 3) points in the camera frame.
    """
    # ...×3×3 @ ...×3×1 -> ...×3
    return (R_cam_from_world @ points_world.unsqueeze(-1)).squeeze(-1) + t


def distort_normalized(xy: Tensor, dist: Tensor) -> Tensor:
    """Apply OpenCV's radial-tangential distortion to normalized image coordinates.

    Args:
        xy: (..., 2) undistorted normalized coordinates (x/z, y/z).
        dist: (..., 5) coefficients (k1, k2, p1, p2, k3), broadcastable against ``xy``'s leading dims.

    Returns:
        (..., 2) distorted normalized coordinates.
    """
    x, y = xy[..., 0], xy[..., 1]
    k1, k2, p1, p2, k3 = dist.unbind(-1)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    x_d = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    y_d = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return torch.stack([x_d, y_d], dim=-1)


def distortion_jacobian(xy: Tensor, dist: Tensor) -> Tensor:
    """Analytic Jacobian of :func:`distort_normalized` with respect to ``xy``.

    With ``r² = x² + y²``, ``radial = 1 + k1 r² + k2 r⁴ + k3 r⁶`` and
    ``g = d radial / d r² = k1 + 2 k2 r² + 3 k3 r⁴``::

        ∂x_d/∂x = radial + 2 x² g + 2 p1 y + 6 p2 x     ∂x_d/∂y = 2 x y g + 2 p1 x + 2 p2 y
        ∂y_d/∂x = 2 x y g + 2 p1 x + 2 p2 y             ∂y_d/∂y = radial + 2 y² g + 6 p1 y + 2 p2 x

    Args:
        xy: (..., 2) undistorted normalized coordinates.
        dist: (..., 5) coefficients (k1, k2, p1, p2, k3), broadcastable against ``xy``.

    Returns:
        (..., 2, 2) Jacobian ``[[∂x_d/∂x, ∂x_d/∂y], [∂y_d/∂x, ∂y_d/∂y]]``.
    """
    x, y = xy[..., 0], xy[..., 1]
    k1, k2, p1, p2, k3 = dist.unbind(-1)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    g = k1 + r2 * (2 * k2 + 3 * k3 * r2)
    off = 2 * x * y * g + 2 * p1 * x + 2 * p2 * y  # the Jacobian is symmetric
    dxx = radial + 2 * x * x * g + 2 * p1 * y + 6 * p2 * x
    dyy = radial + 2 * y * y * g + 6 * p1 * y + 2 * p2 * x
    # ...×2×2
    return torch.stack([torch.stack([dxx, off], -1), torch.stack([off, dyy], -1)], -2)


def undistort_normalized(
    xy_distorted: Tensor, dist: Tensor, iters: int = 20, eps: float = 1e-9
) -> Tensor:
    """Invert :func:`distort_normalized` by Newton's method with the analytic 2×2 Jacobian.

    Solves ``distort(xy) = xy_distorted`` starting from ``xy = xy_distorted``. Newton converges
    quadratically and, unlike OpenCV's fixed-point iteration, also for strong barrel distortion
    (e.g. ``k1 = -0.4``) anywhere inside the region where the distortion is invertible (where
    the radial map is still monotonic). A fixed number of iterations keeps the function
    branch-free, batched and differentiable (autograd unrolls the iterations).

    Args:
        xy_distorted: (..., 2) distorted normalized coordinates.
        dist: (..., 5) coefficients (k1, k2, p1, p2, k3), broadcastable against the points.
        iters: Newton iterations; 5-10 reach float64 precision for realistic lenses.
        eps: Jacobian determinants smaller than this in magnitude are clamped (keeps the step
            finite at the fold of a non-invertible distortion).

    Returns:
        (..., 2) undistorted normalized coordinates.
    """
    shape = torch.broadcast_shapes(xy_distorted.shape[:-1], dist.shape[:-1])
    target = xy_distorted.expand(*shape, 2)
    dist = dist.expand(*shape, 5)
    xy = target
    for _ in range(iters):
        residual = distort_normalized(xy, dist) - target  # ...×2
        J = distortion_jacobian(xy, dist)  # ...×2×2
        a, b, c, d = J[..., 0, 0], J[..., 0, 1], J[..., 1, 0], J[..., 1, 1]
        det = a * d - b * c
        det = torch.where(det.abs() < eps, torch.full_like(det, eps).copysign(det), det)
        # closed-form 2×2 solve: J⁻¹ = [[d, -b], [-c, a]] / det
        dx = (d * residual[..., 0] - b * residual[..., 1]) / det
        dy = (a * residual[..., 1] - c * residual[..., 0]) / det
        xy = xy - torch.stack([dx, dy], dim=-1)
    return xy


def pixel_to_normalized(
    uv: Tensor, K: Tensor, dist: Tensor | None = None, iters: int = 20
) -> Tensor:
    """Pixels -> undistorted normalized coordinates ``(x/z, y/z)`` in the camera frame.

    Args:
        uv: (..., 2) pixel coordinates.
        K: (..., 3, 3) intrinsics (skew allowed); dist: (..., 5) or None; both broadcast
            against ``uv``'s leading dims.
        iters: Newton iterations of :func:`undistort_normalized`.

    Returns:
        (..., 2) normalized coordinates on the ``z = 1`` plane.
    """
    fx, fy = K[..., 0, 0], K[..., 1, 1]
    cx, cy, skew = K[..., 0, 2], K[..., 1, 2], K[..., 0, 1]
    y = (uv[..., 1] - cy) / fy
    x = (uv[..., 0] - cx - skew * y) / fx
    xy = torch.stack([x, y], dim=-1)
    if dist is not None:
        xy = undistort_normalized(xy, dist, iters=iters)
    return xy


def normalized_to_pixel(xy: Tensor, K: Tensor) -> Tensor:
    """Normalized coordinates ``(x/z, y/z)`` -> pixels through K (no distortion).

    Args:
        xy: (..., 2); K: (..., 3, 3) broadcastable against ``xy``'s leading dims.

    Returns:
        (..., 2) pixel coordinates.
    """
    fx, fy = K[..., 0, 0], K[..., 1, 1]
    cx, cy, skew = K[..., 0, 2], K[..., 1, 2], K[..., 0, 1]
    u = fx * xy[..., 0] + skew * xy[..., 1] + cx
    v = fy * xy[..., 1] + cy
    return torch.stack([u, v], dim=-1)


def undistort_pixels(uv: Tensor, K: Tensor, dist: Tensor, iters: int = 20) -> Tensor:
    """Distorted pixels -> the pixels an ideal pinhole camera with the same K would see.

    Args:
        uv: (..., 2) pixels; K: (..., 3, 3); dist: (..., 5); camera tensors broadcast.

    Returns:
        (..., 2) undistorted pixels (``cv2.undistortPoints(uv, K, dist, P=K)``).
    """
    return normalized_to_pixel(pixel_to_normalized(uv, K, dist, iters=iters), K)


def pixel_to_ray(
    uv: Tensor,
    K: Tensor,
    R_cam_from_world: Tensor,
    t: Tensor,
    dist: Tensor | None = None,
    iters: int = 20,
) -> tuple[Tensor, Tensor]:
    """Back-project pixels to world-frame viewing rays.

    Args:
        uv: (..., 2) pixels.
        K: (..., 3, 3); R_cam_from_world: (..., 3, 3); t: (..., 3); dist: (..., 5) or None.
            Camera tensors broadcast against ``uv``'s leading dims.
        iters: Newton iterations of :func:`undistort_normalized`.

    Returns:
        origin: (..., 3) the camera centre in world metres (broadcast to the points).
        direction: (..., 3) unit vectors in the world frame; ``origin + s · direction`` with
            ``s > 0`` projects onto ``uv``.
    """
    xy = pixel_to_normalized(uv, K, dist, iters=iters)  # ...×2
    ray_cam = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)  # ...×3
    # Rᵀ maps camera-frame directions to the world frame: ...×3×3 @ ...×3×1 -> ...×3
    direction = (R_cam_from_world.transpose(-1, -2) @ ray_cam.unsqueeze(-1)).squeeze(-1)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    origin = camera_center(R_cam_from_world, t).expand_as(direction)
    return origin, direction


def project_points(
    points_world: Tensor,
    K: Tensor,
    R_cam_from_world: Tensor,
    t: Tensor,
    dist: Tensor | None = None,
    eps: float = 1e-6,
) -> Tensor:
    """World points -> pixels (differentiable, batched).

    Args:
        points_world: (..., 3) in metres.
        K: (..., 3, 3) intrinsics; R_cam_from_world: (..., 3, 3); t: (..., 3);
        dist: (..., 5) OpenCV coefficients or None for none. Camera tensors broadcast against the
            points' leading dims, e.g. points (B, V, N, 3) with K (V, 1, 3, 3).
        eps: depths are clamped to at least this value so points behind the camera stay finite
            (their pixels are meaningless; test ``depth > 0`` with :func:`world_to_camera`).

    Returns:
        (..., 2) pixel coordinates.
    """
    points_cam = world_to_camera(points_world, R_cam_from_world, t)  # ...×3
    z = points_cam[..., 2:3].clamp_min(eps)
    xy = points_cam[..., :2] / z  # ...×2
    if dist is not None:
        xy = distort_normalized(xy, dist)
    return normalized_to_pixel(xy, K)


def camera_center(R_cam_from_world: Tensor, t: Tensor) -> Tensor:
    """Camera centre in world coordinates: ``-Rᵀ t``.  R: (..., 3, 3), t: (..., 3) -> (..., 3)."""
    return -(R_cam_from_world.transpose(-1, -2) @ t.unsqueeze(-1)).squeeze(-1)


def projection_matrix(K: Tensor, R_cam_from_world: Tensor, t: Tensor) -> Tensor:
    """``P = K [R | t]``.  K, R: (..., 3, 3), t: (..., 3) -> (..., 3, 4)."""
    return K @ torch.cat([R_cam_from_world, t.unsqueeze(-1)], dim=-1)


def _as_matrix(value: Any, shape: tuple[int, ...], what: str, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"camera {name!r}: {what} is not numeric ({exc})") from None
    if shape == (-1,):  # any length, flattened
        arr = arr.reshape(-1)
        shape = arr.shape
    elif arr.size == int(np.prod(shape)):
        arr = arr.reshape(shape)
    if arr.shape != shape:
        raise InputError(f"camera {name!r}: {what} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"camera {name!r}: {what} contains NaN or infinite values")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated camera in metres.

    Attributes:
        name: the camera's name as the dataset spells it (folder names of images/detections).
        K: (3, 3) intrinsics in pixels.
        R: (3, 3) rotation ``R_cam_from_world``.
        t: (3,) translation in metres (``x_cam = R x_world + t``).
        dist: (5,) OpenCV distortion (k1, k2, p1, p2, k3); zeros when there is none.
        width, height: image size in pixels.
    """

    name: str
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        name = str(self.name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "K", _as_matrix(self.K, (3, 3), "K", name))
        object.__setattr__(self, "R", _as_matrix(self.R, (3, 3), "R", name))
        object.__setattr__(self, "t", _as_matrix(self.t, (3,), "t", name))
        d = _as_matrix(np.zeros(5) if self.dist is None else self.dist, (-1,), "dist", name)
        if d.size > 5:
            if np.any(d[5:] != 0):
                raise InputError(
                    f"camera {name!r}: only the 5-coefficient OpenCV distortion model "
                    f"(k1, k2, p1, p2, k3) is supported, got {d.size} non-zero coefficients"
                )
            d = d[:5]
        d = np.pad(d, (0, 5 - d.size))
        object.__setattr__(self, "dist", _as_matrix(d, (5,), "dist", name))
        if abs(np.linalg.det(self.R) - 1.0) > 1e-3 or not np.allclose(
            self.R @ self.R.T, np.eye(3), atol=1e-3
        ):
            raise InputError(
                f"camera {name!r}: R is not a rotation matrix (det={np.linalg.det(self.R):.4f})"
            )
        if self.K[2, 2] == 0 or not np.allclose(self.K[[1, 2, 2], [0, 0, 1]], 0.0):
            raise InputError(
                f"camera {name!r}: K must be upper triangular with K[2, 2] != 0, got {self.K.tolist()}"
            )
        if self.K[2, 2] != 1.0:  # homogeneous scale: the projection code assumes K[2, 2] == 1
            object.__setattr__(self, "K", _as_matrix(self.K / self.K[2, 2], (3, 3), "K", name))
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise InputError(f"camera {name!r}: K has non-positive focal lengths")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        if self.width < 0 or self.height < 0:
            raise InputError(f"camera {name!r}: negative image size {self.width}x{self.height}")

    # -- derived quantities -------------------------------------------------------------------
    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world metres."""
        return -self.R.T @ self.t

    @property
    def P(self) -> np.ndarray:
        """(3, 4) projection matrix ``K [R | t]`` (no distortion)."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    def tensors(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> dict[str, Tensor]:
        """K (3,3), R (3,3), t (3,), dist (5,) as tensors."""
        return {
            k: torch.tensor(np.array(getattr(self, k)), dtype=dtype, device=device)
            for k in ("K", "R", "t", "dist")
        }

    def project(self, points_world: ArrayT) -> ArrayT:
        """(..., 3) world metres -> (..., 2) pixels; numpy in gives numpy out, torch gives torch."""
        if isinstance(points_world, Tensor):
            p = self.tensors(points_world.dtype, points_world.device)
            return project_points(points_world, p["K"], p["R"], p["t"], p["dist"])
        pts = torch.as_tensor(np.asarray(points_world, dtype=np.float64))
        p = self.tensors(torch.float64)
        return project_points(pts, p["K"], p["R"], p["t"], p["dist"]).numpy()

    def depth(self, points_world: ArrayT) -> ArrayT:
        """(..., 3) world metres -> (...,) depth along the optical axis (positive in front)."""
        if isinstance(points_world, Tensor):
            p = self.tensors(points_world.dtype, points_world.device)
            return world_to_camera(points_world, p["R"], p["t"])[..., 2]
        pts = np.asarray(points_world, dtype=np.float64)
        return pts @ self.R[2] + self.t[2]

    def unproject(self, uv: ArrayT) -> tuple[ArrayT, ArrayT]:
        """(..., 2) pixels -> world rays ``(origin (..., 3), unit direction (..., 3))``.

        Distortion is removed first; numpy in gives numpy out, torch gives torch.
        """
        if isinstance(uv, Tensor):
            p = self.tensors(uv.dtype, uv.device)
            return pixel_to_ray(uv, p["K"], p["R"], p["t"], p["dist"])
        p = self.tensors(torch.float64)
        pix = torch.as_tensor(np.asarray(uv, dtype=np.float64))
        origin, direction = pixel_to_ray(pix, p["K"], p["R"], p["t"], p["dist"])
        return origin.numpy(), direction.numpy()

    def undistort_pixels(self, uv: ArrayT) -> ArrayT:
        """(..., 2) distorted pixels -> (..., 2) pixels of the ideal pinhole camera with this K."""
        if isinstance(uv, Tensor):
            p = self.tensors(uv.dtype, uv.device)
            return undistort_pixels(uv, p["K"], p["dist"])
        p = self.tensors(torch.float64)
        pix = torch.as_tensor(np.asarray(uv, dtype=np.float64))
        return undistort_pixels(pix, p["K"], p["dist"]).numpy()

    def scaled(self, new_width: int, new_height: int) -> Camera:
        """The same camera for an image resized to ``new_width × new_height``."""
        if self.width <= 0 or self.height <= 0:
            raise InputError(
                f"camera {self.name!r}: cannot rescale a camera with unknown image size"
            )
        sx, sy = new_width / self.width, new_height / self.height
        S = np.diag([sx, sy, 1.0])
        # pixel centres: u' + 0.5 = sx (u + 0.5)
        S[0, 2], S[1, 2] = 0.5 * (sx - 1), 0.5 * (sy - 1)
        return Camera(self.name, S @ self.K, self.R, self.t, self.dist, new_width, new_height)

    def __repr__(self) -> str:
        c = self.center
        return (
            f"Camera({self.name!r}, {self.width}x{self.height}, f=({self.K[0, 0]:.1f}, {self.K[1, 1]:.1f}), "
            f"centre=({c[0]:.3f}, {c[1]:.3f}, {c[2]:.3f}) m)"
        )


def stack_cameras(
    cameras: list[Camera],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> dict[str, Tensor]:
    """Stack V cameras into tensors: K (V,3,3), R (V,3,3), t (V,3), dist (V,5), size (V,2) as (W,H)."""
    if not cameras:
        raise InputError("no cameras given")
    out = {
        k: torch.as_tensor(np.stack([getattr(c, k) for c in cameras]), dtype=dtype, device=device)
        for k in ("K", "R", "t", "dist")
    }
    out["size"] = torch.tensor([[c.width, c.height] for c in cameras], dtype=dtype, device=device)
    return out
