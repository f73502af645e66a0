"""Voxel grids in world metres: the one place where the voxel convention is written down.

Used by the person detection volume (paper §3.1, a grid over the whole capture space) and by the
tesseracts (§3.2, small cuboids centred on each detected person).

Convention
----------
A grid is a cuboid of edge lengths ``size = (sx, sy, sz)`` metres centred at ``center`` and cut into
``shape = (X, Y, Z)`` voxels. Voxel ``(i, j, k)`` covers
``[lo + i·vx, lo + (i+1)·vx) × …`` with ``lo = center - size/2`` and ``voxel_size = size / shape``;
its centre is::

    centre(i, j, k) = center - size/2 + ((i, j, k) + 0.5) · size / shape

Volumes are stored as ``(…, X, Y, Z)`` tensors: the first spatial dim is world x, the last world z.

``F.grid_sample`` on a volume ``B×C×X×Y×Z`` (its ``D×H×W``) expects a grid whose last coordinate
triple is ordered ``(w, h, d)``, i.e. ``(z, y, x)``: the *first* grid coordinate indexes the *last*
dim. With ``align_corners=False`` the normalised value -1 is the outer face of the first voxel and
+1 the outer face of the last one, so a world point maps to::

    g = 2 · (p - center) / size                 (per axis, then reversed to (z, y, x))

and a voxel centre maps to ``(2i + 1)/X - 1``, exactly where ``grid_sample`` reads voxel ``i``:
sampling a volume at its voxel centres returns the voxel values. :func:`world_to_grid_sample` is
the only function that writes this mapping.

Fractional voxel indices (NMS peaks with sub-voxel refinement) map back to metres by
:func:`index_to_world`: index ``i`` (a float) is the centre formula above with ``i`` not rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from tessetrack.errors import InputError

__all__ = [
    "VoxelGrid",
    "grid_centers",
    "world_to_grid_sample",
    "index_to_world",
    "world_to_index",
]


def _triple(value: Sequence[float] | Tensor, what: str, cast: type) -> tuple:
    if isinstance(value, Tensor):
        value = value.tolist()
    try:
        out = tuple(cast(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"voxel grid {what} must be three numbers, got {value!r}") from None
    if len(out) != 3:
        raise InputError(f"voxel grid {what} must have 3 entries, got {len(out)}")
    return out


@dataclass(frozen=True)
class VoxelGrid:
    """An axis-aligned voxel grid in world metres.

    Attributes:
        center: (3,) cuboid centre, metres.
        size: (3,) edge lengths, metres (all > 0).
        shape: (X, Y, Z) voxel counts (all >= 1).
    """

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", _triple(self.center, "center", float))
        object.__setattr__(self, "size", _triple(self.size, "size", float))
        object.__setattr__(self, "shape", _triple(self.shape, "shape", int))
        if any(s <= 0 for s in self.size):
            raise InputError(f"voxel grid size must be positive, got {self.size}")
        if any(n < 1 for n in self.shape):
            raise InputError(f"voxel grid shape must be >= 1 per axis, got {self.shape}")

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        """(3,) edge lengths of one voxel, metres: ``size / shape``."""
        return tuple(s / n for s, n in zip(self.size, self.shape, strict=True))  # type: ignore[return-value]

    @property
    def num_voxels(self) -> int:
        """X·Y·Z."""
        return self.shape[0] * self.shape[1] * self.shape[2]

    def center_tensor(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> Tensor:
        """(3,) ``center`` as a tensor."""
        return torch.tensor(self.center, dtype=dtype, device=device)

    def size_tensor(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> Tensor:
        """(3,) ``size`` as a tensor."""
        return torch.tensor(self.size, dtype=dtype, device=device)

    def centers(
        self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> Tensor:
        """(X, Y, Z, 3) world coordinates of the voxel centres, metres."""
        c = self.center_tensor(dtype, device)[None]  # 1×3
        return grid_centers(c, self.size_tensor(dtype, device), self.shape)[0]

    def world_to_grid_sample(self, points_world: Tensor) -> Tensor:
        """(..., 3) metres -> (..., 3) ``grid_sample`` coordinates ordered (z, y, x)."""
        c = self.center_tensor(points_world.dtype, points_world.device)
        return world_to_grid_sample(points_world, c, self.size_tensor(c.dtype, c.device))


def _axis_tensor(value: Tensor | Sequence[float], like: Tensor) -> Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def grid_centers(center: Tensor, size: Tensor | Sequence[float], shape: Sequence[int]) -> Tensor:
    """Voxel centres of B grids of equal size and shape but different centres.

    Args:
        center: (B, 3) grid centres, metres.
        size: (3,) edge lengths in metres (or (B, 3) for per-grid sizes).
        shape: (X, Y, Z) voxel counts.

    Returns:
        (B, X, Y, Z, 3) voxel centres, metres.
    """
    if center.ndim != 2 or center.shape[-1] != 3:
        raise InputError(f"grid centers must have shape (B, 3), got {tuple(center.shape)}")
    nx, ny, nz = (int(n) for n in shape)
    size_t = _axis_tensor(size, center).expand(center.shape[0], 3)  # B×3
    # unit offsets in [0, 1): (i + 0.5) / n per axis
    axes = [
        (torch.arange(n, dtype=center.dtype, device=center.device) + 0.5) / n for n in (nx, ny, nz)
    ]
    ix, iy, iz = torch.meshgrid(*axes, indexing="ij")  # X×Y×Z each
    frac = torch.stack([ix, iy, iz], dim=-1)  # X×Y×Z×3
    lo = center - size_t / 2  # B×3
    # centre(i) = lo + (i + 0.5)/n · size: B×1×1×1×3 + X×Y×Z×3 · B×1×1×1×3
    return lo[:, None, None, None] + frac[None] * size_t[:, None, None, None]


def _batched_like(value: Tensor, points: Tensor) -> Tensor:
    """Reshape (3,) or (B, 3) to broadcast against points (B, ..., 3)."""
    if value.ndim == 1:
        return value
    if value.ndim == 2 and points.ndim >= 2 and value.shape[0] == points.shape[0]:
        return value.reshape(value.shape[0], *([1] * (points.ndim - 2)), 3)
    if value.ndim == 2 and value.shape[0] == 1:
        return value[0]
    raise InputError(
        f"grid parameter of shape {tuple(value.shape)} does not broadcast against points "
        f"{tuple(points.shape)}: expected (3,) or (B, 3) with B = points.shape[0]"
    )


def world_to_grid_sample(
    points_world: Tensor, center: Tensor, size: Tensor | Sequence[float]
) -> Tensor:
    """World points -> normalised ``F.grid_sample`` coordinates (``align_corners=False``).

    Args:
        points_world: (B, ..., 3) metres (or (..., 3) when ``center`` is (3,)).
        center: (B, 3) grid centres, one per leading batch element of the points, or (3,).
        size: (3,) edge lengths in metres, or (B, 3).

    Returns:
        (B, ..., 3) coordinates ordered **(z, y, x)** for a volume stored ``B×C×X×Y×Z``; inside
        the grid each coordinate lies in [-1, 1].
    """
    if points_world.shape[-1] != 3:
        raise InputError(f"points must end in 3 coordinates, got {tuple(points_world.shape)}")
    c = _batched_like(_axis_tensor(center, points_world), points_world)
    s = _batched_like(_axis_tensor(size, points_world), points_world)
    g_xyz = 2 * (points_world - c) / s  # g = 2 (p - center) / size, ...×3 as (x, y, z)
    return g_xyz.flip(-1)  # ...×3 as (z, y, x): grid_sample reads (W, H, D)


def index_to_world(idx: Tensor, grid: VoxelGrid) -> Tensor:
    """Fractional voxel indices -> world metres.

    Args:
        idx: (..., 3) float (i, j, k) indices; integers are voxel centres, fractions sub-voxel.
        grid: the grid the indices refer to.

    Returns:
        (..., 3) metres: ``center - size/2 + (idx + 0.5) · voxel_size``.
    """
    idx = idx if idx.is_floating_point() else idx.to(torch.get_default_dtype())
    c = grid.center_tensor(idx.dtype, idx.device)
    s = grid.size_tensor(idx.dtype, idx.device)
    vs = torch.tensor(grid.voxel_size, dtype=idx.dtype, device=idx.device)
    return c - s / 2 + (idx + 0.5) * vs


def world_to_index(points_world: Tensor, grid: VoxelGrid) -> Tensor:
    """World metres -> fractional voxel indices, the inverse of :func:`index_to_world`.

    Args:
        points_world: (..., 3) metres.

    Returns:
        (..., 3) float indices; voxel ``i`` spans ``[i - 0.5, i + 0.5)``.
    """
    c = grid.center_tensor(points_world.dtype, points_world.device)
    s = grid.size_tensor(points_world.dtype, points_world.device)
    vs = torch.tensor(grid.voxel_size, dtype=points_world.dtype, device=points_world.device)
    return (points_world - (c - s / 2)) / vs - 0.5
