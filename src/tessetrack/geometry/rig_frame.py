"""A rig's own frame and capture volume, found from its calibration (and its people).

A model learns in one world: z up, the floor at z = 0, people within its training volume. A user's
calibration may be y-down (CMU Panoptic), centred anywhere, its floor anywhere. This module finds

* **up**: the calibration's +z when the cameras' mean image-up direction lies within 25° of it
  (Shelf, Campus, Qualisys and our own files are z-up), else that mean direction itself, snapped to
  a world axis when within 15° of one;
* **the floor**: where the people stand — the median over people of their lowest ankle or heel,
  0.08 m below it (:func:`floor_from_people`, from triangulated 2D detections); without people, 0
  in a z-up calibration, else 1.5 m below the lowest camera (a guess, said so);
* **the capture area**: the floor cells seen by at least two cameras at a person's height
  (0.1, 0.9 and 1.7 m above the floor), plus the people found, widened by 1 m; the volume spans it,
  at the model's voxel size, between the floor and the model's own height range;
* **the walk area** (synthetic scenes): the largest rectangle of floor, at most twice as long as it
  is wide and turned to fit, where two or more cameras see a standing person whole
  (:func:`walk_area`).

:class:`RigFrame` moves cameras and poses into that frame (x right, z up, origin on the floor at the
area's centre) and back. Written by hand: the geometry is a few lines of linear algebra over our
:class:`~tessetrack.geometry.camera.Camera`; no library has a notion of a capture volume.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.geometry.voxel_grid import VoxelGrid

__all__ = [
    "RigFrame",
    "camera_up",
    "choose_up",
    "floor_from_people",
    "capture_area",
    "walk_area",
    "rig_frame",
    "volume_for",
]

_Z = np.array([0.0, 0.0, 1.0])


#: How far (metres) the capture area reaches beyond the people found in a recording.
PEOPLE_REACH = 3.0


@dataclass(frozen=True, eq=False)
class RigFrame:
    """The canonical frame: ``x_canonical = R @ x_world + t`` (z up, floor at 0).

    Attributes:
        R: (3, 3) rotation; t: (3,) metres.
        area: (2, 2) [[x_min, y_min], [x_max, y_max]] of the capture area in the canonical frame.
        notes: how up, floor and area were chosen (printed for the user).
    """

    R: np.ndarray
    t: np.ndarray
    area: np.ndarray
    notes: tuple[str, ...] = field(default=())

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world metres → canonical metres (NaN stays NaN)."""
        return np.asarray(points, float) @ self.R.T + self.t

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) canonical metres → world metres."""
        return (np.asarray(points, float) - self.t) @ self.R

    def camera(self, cam: Camera) -> Camera:
        """The same camera seen from the canonical frame."""
        R = cam.R @ self.R.T
        return replace(cam, R=R, t=cam.t - R @ self.t)


def camera_up(cameras: Sequence[Camera]) -> np.ndarray:
    """(3,) unit mean of the cameras' image-up directions in the world (−y of each camera)."""
    ups = np.stack([-c.R[1] for c in cameras])
    m = ups.mean(0)
    n = np.linalg.norm(m)
    if n < 1e-6:
        raise InputError("the cameras' image-up directions cancel out: cannot tell which way is up")
    return m / n


def choose_up(
    cameras: Sequence[Camera], given: Sequence[float] | None = None
) -> tuple[np.ndarray, str]:
    """The rig's up direction and how it was chosen (see the module docstring)."""
    if given is not None:
        g = np.asarray(given, float)
        if g.shape != (3,) or not np.isfinite(g).all() or np.linalg.norm(g) < 1e-9:
            raise InputError(f"up must be three numbers, not all zero, got {given!r}")
        return g / np.linalg.norm(g), "given"
    mean = camera_up(cameras)
    if math.degrees(math.acos(np.clip(mean @ _Z, -1, 1))) <= 25:
        return _Z.copy(), "the calibration's +z (the cameras look level)"
    for axis in np.concatenate([np.eye(3), -np.eye(3)]):
        if math.degrees(math.acos(np.clip(mean @ axis, -1, 1))) <= 15:
            name = "+-"[int(axis.sum() < 0)] + "xyz"[int(np.argmax(np.abs(axis)))]
            return axis, f"the calibration's {name} (the cameras' mean image-up)"
    return mean, "the cameras' mean image-up direction"


def floor_from_people(
    poses: Sequence[np.ndarray], feet: Sequence[int], up: np.ndarray
) -> float | None:
    """Floor height along ``up`` from people's poses (J, 3): 0.08 m below the median over people of
    their lowest foot joint (``feet`` indices); None without any foot."""
    lows = []
    for p in poses:
        f = np.asarray(p, float)[list(feet)]
        f = f[np.isfinite(f).all(-1)]
        if len(f):
            lows.append(float((f @ up).min()))
    return float(np.median(lows)) - 0.08 if lows else None


def _basis(up: np.ndarray) -> np.ndarray:
    """Rotation whose third row is ``up`` and first row the world x (or y) made perpendicular."""
    ref = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - (ref @ up) * up
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(up, x), up])


def capture_area(
    cameras: Sequence[Camera],
    R: np.ndarray,
    floor: float,
    people: np.ndarray | None = None,
    *,
    step: float = 0.25,
    max_extent: float = 30.0,
    margin: float = 1.0,
    people_reach: float = PEOPLE_REACH,
) -> np.ndarray:
    """[[x_min, y_min], [x_max, y_max]] (metres, in the frame ``R`` with the floor at ``floor``
    along its z) of the floor cells at least two cameras see at 0.1, 0.9 or 1.7 m, widened by
    ``margin`` metres (people at its edge are seen by fewer cameras, not by none); None seen: a
    6 m square around the cameras' centre.

    With ``people`` (N, 2) positions found in the recording, the area is also kept within
    ``people_reach`` metres of them (and always holds them): cameras far apart overlap over far
    more floor than people walk on, and the person volume's cost grows with the area."""
    centres = np.stack([R @ c.center for c in cameras])
    mid = centres[:, :2].mean(0)
    half = min(max(float(np.ptp(centres[:, :2], 0).max()) * 0.75, 4.0), max_extent / 2)
    xs = np.arange(mid[0] - half, mid[0] + half + 1e-9, step)
    ys = np.arange(mid[1] - half, mid[1] + half + 1e-9, step)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    heights = (floor + 0.1, floor + 0.9, floor + 1.7)
    seen = (_seen_by(cameras, lambda p: p @ R, gx, gy, heights).sum(0) >= 2).any(0)
    xy = np.stack([gx[seen], gy[seen]], -1)
    found = np.zeros((0, 2)) if people is None else np.asarray(people, float).reshape(-1, 2)
    if len(xy) == 0 and len(found) == 0:
        return np.array([mid - 3.0, mid + 3.0])
    lo, hi = (xy.min(0) - step, xy.max(0) + step) if len(xy) else (found.min(0), found.max(0))
    if len(found):
        lo = np.minimum(np.maximum(lo, found.min(0) - people_reach), found.min(0))
        hi = np.maximum(np.minimum(hi, found.max(0) + people_reach), found.max(0))
    return np.array([lo - margin, hi + margin])


def _seen_by(
    cameras: Sequence[Camera],
    to_world: Callable[[np.ndarray], np.ndarray],
    gx: np.ndarray,
    gy: np.ndarray,
    heights: Sequence[float],
) -> np.ndarray:
    """(V, H, ...) whether each of the V ``cameras`` sees each floor point (``gx``, ``gy``: (...)
    coordinates of a frame that ``to_world`` maps (..., 3) to world points) at each of the H
    ``heights``."""
    pts = [to_world(np.stack([gx, gy, np.full_like(gx, h)], -1)) for h in heights]
    return np.stack([np.stack([_visible(cam, p) for p in pts]) for cam in cameras])


def _visible(cam: Camera, pts: np.ndarray) -> np.ndarray:
    """(...) whether world points (..., 3) are in front of ``cam`` and inside its image."""
    depth = cam.depth(pts)
    uv = cam.project(pts)
    w, h = (cam.width, cam.height) if cam.width > 0 else (2 * cam.K[0, 2], 2 * cam.K[1, 2])
    with np.errstate(invalid="ignore"):
        return (
            (depth > 0.1)
            & (uv[..., 0] >= 0)
            & (uv[..., 0] < w)
            & (uv[..., 1] >= 0)
            & (uv[..., 1] < h)
        )


def _largest_rectangle(mask: np.ndarray, aspect: float = 2.0) -> tuple[int, int, int, int] | None:
    """(i0, i1, j0, j1), inclusive, of the largest all-True axis-aligned rectangle of a 2D bool
    ``mask`` at most ``aspect`` times as long as it is wide; None if nothing is True.

    Every maximal all-True rectangle is met once as the histogram of True runs above a row is
    scanned with a stack; the best capped rectangle inside one of h × w cells is
    min(h, aspect·w) × min(w, aspect·h), kept centred in it (of equal ones, the one in the larger
    maximal rectangle)."""
    heights = np.zeros(mask.shape[1], int)
    best: tuple[int, int] = (0, 0)
    box = None
    for i, row in enumerate(mask):
        heights = np.where(row, heights + 1, 0)
        stack: list[int] = []  # columns of increasing height
        for j in range(len(heights) + 1):
            h_now = int(heights[j]) if j < len(heights) else 0
            while stack and heights[stack[-1]] >= h_now:
                h = int(heights[stack.pop()])
                left = stack[-1] + 1 if stack else 0
                w = j - left
                hc, wc = min(h, int(aspect * w)), min(w, int(aspect * h))
                if (hc * wc, h * w) > best:  # ties: the one with more room around it
                    top = i - h + 1 + (h - hc) // 2
                    first = left + (w - wc) // 2
                    best, box = (hc * wc, h * w), (top, top + hc - 1, first, first + wc - 1)
            stack.append(j)
    return box


def walk_area(
    frame: RigFrame,
    cameras: Sequence[Camera],
    *,
    step: float = 0.1,
    clearance: float = 0.3,
    heights: Sequence[float] = (0.1, 0.9, 1.7),
    headings: int = 18,
) -> tuple[float, np.ndarray] | None:
    """The largest rectangle of floor (at most twice as long as wide) where a standing person is
    seen whole by two or more cameras.

    Args:
        frame: the rig's frame; its capture area bounds the search.
        cameras: the rig's cameras.
        step: grid step, metres (coarser where the capture area is over 21 m across: at most
            300 × 300 cells).
        clearance: metres (a body's reach) the rectangle keeps from where the view of two cameras
            stops.
        heights: metres above the floor at which every point of a person's column must be seen
            by the same two (or more) cameras.
        headings: rectangle headings tried over 90°.

    Returns:
        (yaw, [[x_min, y_min], [x_max, y_max]]): the rectangle in ``frame``'s coordinates turned by
        −yaw about z (``q = Rz(−yaw) p``), metres; None where no such floor exists in the capture
        area.

    Raises:
        InputError: a step that is not positive, a negative clearance, or no headings.
    """
    from scipy.ndimage import binary_erosion

    if step <= 0 or clearance < 0 or headings < 1:
        raise InputError(f"walk area: the step must be positive, the clearance not negative and "
                         f"headings ≥ 1, got {step}, {clearance}, {headings}")  # fmt: skip
    reach = float(np.abs(frame.area).max()) * math.sqrt(2)
    step = max(step, 2 * reach / 300)
    r = int(math.ceil(clearance / step))
    disk = np.hypot(*np.mgrid[-r : r + 1, -r : r + 1]) <= r
    grid = np.arange(-reach, reach + 1e-9, step)
    gx, gy = np.meshgrid(grid, grid, indexing="ij")
    best: tuple[int, float, np.ndarray] | None = None
    for yaw in np.arange(headings) * (math.pi / 2) / headings:
        c, s = math.cos(yaw), math.sin(yaw)
        px, py = c * gx - s * gy, s * gx + c * gy  # Rz(yaw) q
        seen = (px >= frame.area[0, 0]) & (px <= frame.area[1, 0])
        seen &= (py >= frame.area[0, 1]) & (py <= frame.area[1, 1])
        # cameras that see the whole column, two of them at least
        seen &= _seen_by(cameras, frame.to_world, px, py, heights).all(1).sum(0) >= 2
        box = _largest_rectangle(binary_erosion(seen, disk, border_value=0))
        if box is not None:
            i0, i1, j0, j1 = box
            size = (i1 - i0 + 1) * (j1 - j0 + 1)
            if best is None or size > best[0]:
                best = (size, float(yaw), np.array([[grid[i0], grid[j0]], [grid[i1], grid[j1]]]))
    return None if best is None else (best[1], best[2])


def rig_frame(
    cameras: Mapping[str, Camera],
    *,
    people: Sequence[np.ndarray] = (),
    feet: Sequence[int] = (),
    up: Sequence[float] | None = None,
    floor: float | None = None,
) -> RigFrame:
    """The canonical frame of a rig (module docstring).

    Args:
        cameras: the rig.
        people: (J, 3) world poses of people found in it (e.g. triangulated), for the floor and area.
        feet: indices of the foot joints of those poses (ankles, heels).
        up, floor: given instead of found (floor: height along ``up``, world metres).
    """
    cams = list(cameras.values())
    if not cams:
        raise InputError("no cameras to find the rig's frame from")
    up_vec, up_note = choose_up(cams, up)
    notes = [f"up: {up_note}"]
    found = floor_from_people(people, feet, up_vec) if floor is None else None
    if floor is not None:
        level, how = float(floor), "given"
    elif found is not None:
        level, how = found, f"0.08 m below the lowest feet of {len(people)} people found"
    elif up_note.startswith("the calibration's +z"):
        level, how = 0.0, "z = 0 (a z-up calibration)"
    else:
        level = float(min(c.center @ up_vec for c in cams)) - 1.5
        how = "1.5 m below the lowest camera (a guess: no people found; pass --floor)"
    notes.append(f"floor: {level:+.2f} m along up, {how}")
    R = _basis(up_vec)
    positions = []
    for p in people:
        q = np.asarray(p, float)
        q = q[np.isfinite(q).all(-1)]
        if len(q):
            positions.append((q @ R.T)[:, :2].mean(0))
    area = capture_area(cams, R, level, np.array(positions) if positions else None)
    centre = area.mean(0)
    t = -np.array([centre[0], centre[1], level])
    notes.append(
        f"capture area: {area[1, 0] - area[0, 0]:.1f} m × {area[1, 1] - area[0, 1]:.1f} m "
        "(seen by two or more cameras"
        + (f", within {PEOPLE_REACH:g} m of {len(positions)} people found" if positions else "")
        + ", and 1 m around)"
    )
    return RigFrame(R=R, t=t, area=area - centre, notes=tuple(notes))


def volume_for(frame: RigFrame, model_grid: VoxelGrid, multiple: int = 8) -> VoxelGrid:
    """The model's voxel grid stretched over ``frame``'s capture area: the same voxel size, the
    same height range, x and y spanning the area (voxel counts rounded up to ``multiple``)."""
    size = np.asarray(model_grid.size, float)
    shape = np.asarray(model_grid.shape, int)
    voxel = size / shape
    extent = frame.area[1] - frame.area[0]
    counts = [
        int(math.ceil(e / v / multiple) * multiple) for e, v in zip(extent, voxel[:2], strict=True)
    ]
    new_size = (counts[0] * voxel[0], counts[1] * voxel[1], size[2])
    centre = (*frame.area.mean(0), model_grid.center[2])
    return VoxelGrid(
        center=tuple(float(c) for c in centre),
        size=tuple(float(s) for s in new_size),
        shape=(counts[0], counts[1], int(shape[2])),
    )
