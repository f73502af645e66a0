"""Views → voxels: sampling image features at projected voxel centres and fusing the views (§3.1).

"Using the camera calibration data, each voxel center is projected into the camera views. We
aggregate all the feature vectors picked in image space [...] through a shallow network with a
softmax layer. This produces a unique feature vector of size R." :func:`sample_views` does the
projection and bilinear sampling for all views and points at once; :class:`ViewFusion` scores each
view's feature per voxel with a shallow network and takes the softmax-weighted sum over the views
that see the voxel.

Pixel convention (as in ``geometry/camera.py``): pixel ``(0, 0)`` is the *centre* of the top-left
pixel of the ORIGINAL image the camera refers to, of size ``W×H``. A feature map of size ``w×h``
covers the same field of view, so its pixel centres sit at the image coordinates
``u = (u_f + 0.5) · W / w - 0.5`` (the rule of ``Camera.scaled``). ``F.grid_sample`` with
``align_corners=False`` puts -1 and +1 on the outer edges of the first and last pixel, so an
image pixel ``u`` maps to the normalised coordinate ``(2u + 1) / W - 1`` whatever the feature
resolution; a voxel projecting onto the centre of feature pixel ``u_f`` reads exactly that
feature.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tessetrack.errors import InputError
from tessetrack.geometry.camera import project_points, world_to_camera

__all__ = ["pixels_to_grid_sample", "sample_views", "ViewFusion"]


def pixels_to_grid_sample(uv: Tensor, image_size: Tensor) -> Tensor:
    """Image pixels -> ``grid_sample`` coordinates (``align_corners=False``).

    Args:
        uv: (..., 2) pixel coordinates in the original image (pixel centres at integers).
        image_size: (..., 2) (W, H) of that image, broadcastable against ``uv``.

    Returns:
        (..., 2) normalised (x, y); the image spans [-1, 1] edge to edge.
    """
    return (2 * uv + 1) / image_size - 1  # (2u + 1) / W - 1


def sample_views(
    features: Tensor,
    points_world: Tensor,
    K: Tensor,
    R: Tensor,
    t: Tensor,
    dist: Tensor | None,
    image_size: Tensor,
    view_mask: Tensor | None = None,
    min_depth: float = 1e-3,
) -> tuple[Tensor, Tensor]:
    """Bilinearly sample every view's feature map at the projections of world points.

    Args:
        features: (B, V, C, h, w) feature maps (any resolution covering the full image).
        points_world: (B, N, 3) points in metres (e.g. voxel centres).
        K: (B, V, 3, 3) intrinsics of the ORIGINAL image; R: (B, V, 3, 3) ``R_cam_from_world``;
            t: (B, V, 3) metres; dist: (B, V, 5) OpenCV (k1, k2, p1, p2, k3) or None.
        image_size: (B, V, 2) (W, H) of the original image the cameras refer to.
        view_mask: (B, V) bool, False for missing/padded views; None = all present.
        min_depth: points closer than this (metres, along the optical axis) are invalid.

    Returns:
        sampled: (B, V, C, N) features at the projected points (zeros where invalid), in
            ``features.dtype``.
        valid: (B, V, N) bool: in front of the camera AND inside the image AND the view present.
    """
    if features.ndim != 5:
        raise InputError(f"features must have shape (B, V, C, h, w), got {tuple(features.shape)}")
    b, v, c, h, w = features.shape
    if points_world.ndim != 3 or points_world.shape[0] != b or points_world.shape[-1] != 3:
        raise InputError(
            f"points_world must have shape ({b}, N, 3), got {tuple(points_world.shape)}"
        )
    cams = {"K": (K, (3, 3)), "R": (R, (3, 3)), "t": (t, (3,)), "image_size": (image_size, (2,))}
    if dist is not None:
        cams["dist"] = (dist, (5,))
    for name, (x, tail) in cams.items():
        if tuple(x.shape) != (b, v, *tail):
            raise InputError(f"{name} must have shape {(b, v, *tail)}, got {tuple(x.shape)}")
    n = points_world.shape[1]
    if view_mask is None:
        view_mask = torch.ones(b, v, dtype=torch.bool, device=features.device)
    elif tuple(view_mask.shape) != (b, v):
        raise InputError(f"view_mask must have shape {(b, v)}, got {tuple(view_mask.shape)}")

    cam_dtype = K.dtype
    pts = points_world.to(cam_dtype)[:, None]  # B×1×N×3, broadcast over views
    Rv, tv = R[:, :, None], t[:, :, None]  # B×V×1×3×3, B×V×1×3
    depth = world_to_camera(pts, Rv, tv)[..., 2]  # B×V×N
    dv = None if dist is None else dist[:, :, None]  # B×V×1×5
    uv = project_points(pts, K[:, :, None], Rv, tv, dv)  # B×V×N×2
    g = pixels_to_grid_sample(uv, image_size[:, :, None].to(cam_dtype))  # B×V×N×2
    inside = (g.abs() <= 1).all(dim=-1)  # B×V×N
    valid = (depth > min_depth) & inside & view_mask[:, :, None].bool()  # B×V×N

    # out-of-range coordinates (points behind a camera) are parked outside [-1, 1]
    g = torch.where(valid[..., None], g, torch.full_like(g, -2.0)).to(features.dtype)
    sampled = F.grid_sample(
        features.reshape(b * v, c, h, w),  # (B·V)×C×h×w
        g.reshape(b * v, 1, n, 2),  # (B·V)×1×N×2
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # (B·V)×C×1×N
    sampled = sampled.reshape(b, v, c, n) * valid[:, :, None].to(features.dtype)  # B×V×C×N
    return sampled, valid


class ViewFusion(nn.Module):
    """Softmax-weighted fusion of per-view features (the "shallow network with a softmax layer").

    A shallow per-voxel network scores each view's feature vector; the scores are normalised
    with a softmax over the views that see the voxel, and the fused feature is the weighted sum.
    A voxel seen by no view gets zeros.

    On CPU, the scoring network (two 1×1 ``nn.Conv1d``) runs in one call on inputs of up to
    ``4 · chunk`` positions (rows of B·V × voxels), and on blocks of at most ``chunk`` positions
    beyond: a whole tesseract batch of a ``cpu-small`` training step (30 rows × 19 channels ×
    24 576 voxels) outgrows the CPU cache, and its single call is ~5× slower, forward +
    backward, than the same work in blocks whose input, hidden layer and gradients stay in cache
    (``benchmarks/hotspots.py``); on small inputs the blocks only add overhead, and on a GPU
    only kernel launches. The result is the same up to float rounding.

    Args:
        channels: C, the feature size (R in the paper).
        hidden: width of the scoring network's hidden layer.
        chunk: positions per call of the scoring network on large CPU inputs (speed only).
    """

    def __init__(self, channels: int, hidden: int = 32, chunk: int = 32768) -> None:
        super().__init__()
        if chunk < 1:
            raise InputError(f"ViewFusion chunk must be >= 1, got {chunk}")
        self.channels = channels
        self.chunk = chunk
        self.score = nn.Sequential(
            nn.Conv1d(channels, hidden, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, 1, kernel_size=1),
        )

    def scores(self, x: Tensor) -> Tensor:
        """(M, C, N) per-view features -> (M, 1, N) logits of the scoring network."""
        m, _, n = x.shape
        if x.device.type != "cpu" or m * n <= 4 * self.chunk:  # GPU, or fits in the CPU cache
            return self.score(x)
        rows = max(1, self.chunk // n)  # whole rows per block, or one row cut along N
        cols = min(n, self.chunk)
        return torch.cat(
            [
                torch.cat([self.score(block) for block in xr.split(cols, dim=2)], dim=2)
                for xr in x.split(rows)  # each rows'×C×N
            ]
        )  # M×1×N

    def weights(self, sampled: Tensor, valid: Tensor) -> Tensor:
        """(B, V, C, N), (B, V, N) -> (B, V, N) view weights: softmax over valid views, else 0."""
        b, v, c, n = sampled.shape
        logits = self.scores(sampled.reshape(b * v, c, n)).reshape(b, v, n)  # B×V×N
        # invalid views get the most negative finite logit (exp underflows to exactly 0 next to a
        # valid view); -inf would make voxels seen by no view NaN, here they are zeroed below
        logits = logits.masked_fill(~valid, torch.finfo(logits.dtype).min)
        return torch.softmax(logits, dim=1) * valid.to(logits.dtype)  # B×V×N

    def forward(self, sampled: Tensor, valid: Tensor) -> Tensor:
        """sampled (B, V, C, N), valid (B, V, N) bool -> fused (B, C, N)."""
        if sampled.ndim != 4 or sampled.shape[2] != self.channels:
            raise InputError(
                f"ViewFusion expects (B, V, {self.channels}, N) features, got {tuple(sampled.shape)}"
            )
        if tuple(valid.shape) != (sampled.shape[0], sampled.shape[1], sampled.shape[3]):
            raise InputError(f"valid must have shape (B, V, N), got {tuple(valid.shape)}")
        wts = self.weights(sampled, valid.bool())  # B×V×N
        return torch.einsum("bvn,bvcn->bcn", wts, sampled)  # Σ_v w_v f_v: B×C×N

    def extra_repr(self) -> str:
        return f"channels={self.channels}, chunk={self.chunk}"
