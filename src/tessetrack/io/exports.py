"""Exports of tracks to motion-capture formats: C3D (marker trajectories) and BVH (skeletons).

**C3D** (:func:`export_c3d`, with the ``c3d`` package): one 3D point per joint per track, labelled
``<id>_<joint>`` (e.g. ``3_l_wrist``), in **millimetres** (``POINT:UNITS = "mm"``, float storage),
world axes unchanged (tessetrack's world is right-handed, z up where the rig allows). One C3D frame
per tracks frame: the tracks' frames must be evenly spaced (a ``--stride`` run is fine, the point
rate is then ``fps / stride``); missing frames inside the range are filled with invalid points. A
joint that is unknown, or a track absent at a frame, is an *invalid* point (residual −1, the C3D
convention for gaps); valid points have residual 0 ("modelled" data: these are estimates, not
measured markers). C3D frame numbers start at 1: C3D frame ``k`` is tracks frame ``f0 + (k − 1) ·
step`` with ``f0`` the first tracks frame.

**BVH** (:func:`export_bvh`, :func:`fit_bvh_motion`, :func:`bvh_text`): one file per track with a
fixed-bone-length skeleton fitted to the Panoptic-19 joints (other registered joint sets are
converted first). The hierarchy (each joint's parent)::

    mid_hip (ROOT: 3 translation + 3 rotation channels)
    ├── neck ── nose ──┬── l_eye ── l_ear
    │        │         └── r_eye ── r_ear
    │        ├── l_shoulder ── l_elbow ── l_wrist
    │        └── r_shoulder ── r_elbow ── r_wrist
    ├── l_hip ── l_knee ── l_ankle
    └── r_hip ── r_knee ── r_ankle

Fitting, per track:

1. Gaps (frames where the track is absent, unknown joints) are filled by linear interpolation of
   each joint over time (held constant before the first / after the last observation). A joint
   never observed keeps its rest-pose direction (identity local rotation).
2. Bone lengths are the median over the track's frames of the observed parent–child distances
   (a default length when never observed). The rest pose is a T-pose built from those lengths:
   the person faces −y (world), left is +x, up is +z. The bones of a joint with several children
   (pelvis, shoulder girdle, head) keep the rigid shape that best fits the whole track
   (generalised Procrustes), turned as a whole onto the T-pose directions.
3. Per frame, the root translation is the observed ``mid_hip``. A joint with one child gets the
   *smallest* rotation (relative to its parent) that turns the rest bone onto the observed bone
   direction — the twist about the bone is **not observed** by 3D joint positions and is set to
   zero. A joint with several children (``mid_hip``: neck and hips; ``neck``: nose and shoulders;
   ``nose``: eyes) gets the rotation that best aligns all its rest bones with the observed ones
   (weighted least squares, Kabsch/Wahba); those children are then only approximately in place
   when the pelvis, the shoulder girdle or the head deform relative to the T-pose. Leaf joints
   (wrists, ankles, ears) have identity rotations.

The BVH file is Y-up (``x_bvh = x``, ``y_bvh = z``, ``z_bvh = −y`` of the world, so the rest pose
faces +Z with the left side on +X), in **centimetres** by default (``scale`` = 100 BVH units per
metre), rotation channels ``Zrotation Xrotation Yrotation`` (R = Rz · Rx · Ry, degrees), the
convention of most BVH tools.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from functools import reduce
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from tessetrack.errors import DependencyError, InputError
from tessetrack.io.atomic import atomic_path, atomic_write_text
from tessetrack.structures import Tracks

__all__ = [
    "EXPORT_SUFFIXES",
    "BVH_PARENTS",
    "BvhMotion",
    "export_tracks",
    "export_c3d",
    "track_joints",
    "fit_bvh_motion",
    "bvh_text",
    "export_bvh",
    "check_fps",
    "require_export_packages",
]

logger = logging.getLogger(__name__)

#: Suffixes :func:`export_tracks` understands.
EXPORT_SUFFIXES = (".c3d", ".bvh")
#: Frame rate assumed when the tracks do not know theirs.
DEFAULT_FPS = 30.0

PANOPTIC19 = (
    "neck", "nose", "mid_hip", "l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee", "l_ankle",
    "r_shoulder", "r_elbow", "r_wrist", "r_hip", "r_knee", "r_ankle", "l_eye", "l_ear", "r_eye",
    "r_ear",
)  # fmt: skip

#: BVH hierarchy over Panoptic-19: joint → parent (the root ``mid_hip`` has none).
BVH_PARENTS: dict[str, str | None] = {
    "mid_hip": None,
    "neck": "mid_hip",
    "nose": "neck",
    "l_eye": "nose",
    "l_ear": "l_eye",
    "r_eye": "nose",
    "r_ear": "r_eye",
    "l_shoulder": "neck",
    "l_elbow": "l_shoulder",
    "l_wrist": "l_elbow",
    "r_shoulder": "neck",
    "r_elbow": "r_shoulder",
    "r_wrist": "r_elbow",
    "l_hip": "mid_hip",
    "l_knee": "l_hip",
    "l_ankle": "l_knee",
    "r_hip": "mid_hip",
    "r_knee": "r_hip",
    "r_ankle": "r_knee",
}

# Rest (T-pose) bone directions in world axes: person faces -y, left is +x, up is +z.
_REST_DIR_LEFT = {
    "neck": (0.0, 0.0, 1.0),
    "nose": (0.0, -0.5, 1.0),
    "l_eye": (0.6, 0.3, 0.7),
    "l_ear": (0.7, 0.7, 0.0),
    "l_shoulder": (1.0, 0.0, 0.0),
    "l_elbow": (1.0, 0.0, 0.0),
    "l_wrist": (1.0, 0.0, 0.0),
    "l_hip": (1.0, 0.0, 0.0),
    "l_knee": (0.0, 0.0, -1.0),
    "l_ankle": (0.0, 0.0, -1.0),
}
# Bone lengths (metres) used when a bone is never observed.
_DEFAULT_LENGTH = {
    "neck": 0.50, "nose": 0.20, "l_eye": 0.05, "l_ear": 0.08, "l_shoulder": 0.18,
    "l_elbow": 0.28, "l_wrist": 0.26, "l_hip": 0.10, "l_knee": 0.42, "l_ankle": 0.40,
}  # fmt: skip

# World (z up) -> BVH (y up) axes: x_b = x, y_b = z, z_b = -y (a proper rotation).
_WORLD_TO_BVH = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _left_key(joint: str) -> str:
    return "l_" + joint[2:] if joint.startswith("r_") else joint


def _rest_direction(joint: str) -> np.ndarray:
    d = np.array(_REST_DIR_LEFT[_left_key(joint)])
    if joint.startswith("r_"):
        d[0] = -d[0]
    return d / np.linalg.norm(d)


def _bvh_order() -> list[str]:
    """Depth-first order of the hierarchy (the order of the MOTION channels)."""
    children: dict[str | None, list[str]] = {}
    for j, p in BVH_PARENTS.items():
        children.setdefault(p, []).append(j)
    order: list[str] = []

    def visit(j: str) -> None:
        order.append(j)
        for c in children.get(j, []):
            visit(c)

    visit("mid_hip")
    return order


# --- shared helpers --------------------------------------------------------------------------------


def _check_suffix(path: Path, suffix: str) -> None:
    if path.suffix.lower() != suffix:
        raise InputError(f"expected a {suffix} file name", path)


def _frame_grid(tracks: Tracks, where: Path) -> tuple[np.ndarray, int]:
    """The evenly spaced frame indices covering the tracks (F,) and their step."""
    frames = np.array([f.frame for f in tracks.frames], dtype=np.int64)
    if len(frames) == 0:
        raise InputError("the tracks have no frames to export", where)
    if len(frames) == 1:
        return frames, 1
    step = int(reduce(math.gcd, np.diff(np.sort(frames)).tolist()))
    if step < 1:
        raise InputError("the tracks have duplicate frames", where)
    return np.arange(frames.min(), frames.max() + 1, step), step


def track_joints(tracks: Tracks, where: str | PathLike[str] = "tracks") -> tuple[
    np.ndarray, list[int], np.ndarray, int
]:  # fmt: skip
    """Dense arrays of the tracks over an evenly spaced frame grid.

    Returns:
        frames: (F,) frame indices (the grid, gaps included).
        ids: track IDs, ascending.
        joints: (N, F, J, 3) world metres, NaN where the track is absent or the joint unknown.
        step: frame step of the grid (1 unless the tracks were made with a stride).
    """
    frames, step = _frame_grid(tracks, Path(where))
    ids = sorted({p.id for f in tracks.frames for p in f.people})
    row = {tid: i for i, tid in enumerate(ids)}
    col = {int(f): t for t, f in enumerate(frames)}
    joints = np.full((len(ids), len(frames), len(tracks.joint_names), 3), np.nan)  # N×F×J×3
    for f in tracks.frames:
        for p in f.people:
            joints[row[p.id], col[f.frame]] = p.joints
    return frames, ids, joints, step


def check_fps(fps: float | None, where: str | PathLike[str] | None = None) -> None:
    """Refuse a frame rate that is not a finite positive number (None: the tracks' own)."""
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError(f"the frame rate must be a positive number of frames per second, got {fps:g}",
                         where)  # fmt: skip


C3D_INSTALL = 'C3D export needs the optional package c3d: pip install "tessetrack[export]"'


def _c3d() -> Any:
    """The ``c3d`` module, or a :class:`DependencyError` saying what to install."""
    try:
        import c3d
    except ImportError:
        raise DependencyError(C3D_INSTALL) from None
    return c3d


def require_export_packages(path: str | PathLike[str]) -> None:
    """Before any work: the optional package the export to ``path`` needs (C3D: ``c3d``)."""
    if Path(path).suffix.lower() == ".c3d":
        _c3d()


def _rate(tracks: Tracks, fps: float | None, step: int) -> float:
    check_fps(fps)
    base = fps or tracks.fps
    if not base:
        logger.warning("the tracks carry no frame rate; assuming %g fps", DEFAULT_FPS)
        base = DEFAULT_FPS
    return float(base) / step


# --- C3D -------------------------------------------------------------------------------------------


def export_c3d(tracks: Tracks, path: str | PathLike[str], *, fps: float | None = None) -> Path:
    """Write the tracks as C3D marker trajectories (see the module docstring).

    Args:
        tracks: world-metre tracks (any joint names).
        path: the ``.c3d`` file.
        fps: frame rate of the tracks' frame numbering; default ``tracks.fps`` (else 30).

    Returns:
        The file written (atomically).

    Raises:
        DependencyError: the optional ``c3d`` package is missing (says what to install).
    """
    c3d = _c3d()
    path = Path(path)
    _check_suffix(path, ".c3d")
    frames, ids, joints, step = track_joints(tracks, path)
    if not ids:
        raise InputError("the tracks hold nobody: a C3D file needs at least one point", path)
    n, f, j = joints.shape[:3]
    labels = [f"{tid}_{name}" for tid in ids for name in tracks.joint_names]
    points = joints.transpose(1, 0, 2, 3).reshape(f, n * j, 3) * 1000.0  # F×(N·J)×3 mm
    valid = np.all(np.isfinite(points), axis=-1)  # F×(N·J)
    data = np.zeros((f, n * j, 5), np.float32)  # x, y, z, residual, camera mask
    data[..., :3] = np.where(valid[..., None], points, 0.0)
    data[..., 3] = np.where(valid, 0.0, -1.0)
    writer = c3d.Writer(point_rate=_rate(tracks, fps, step), point_scale=-1.0, point_units="mm  ")
    writer.set_point_labels(labels)
    no_analog = np.zeros((0, 0), np.float32)
    writer.add_frames([(data[t], no_analog) for t in range(f)])
    with atomic_path(path) as tmp, tmp.open("wb") as handle, warnings.catch_warnings():
        # markers only: the c3d package's "no analog data" warning is expected here
        warnings.filterwarnings("ignore", message="No analog data")
        writer.write(handle)
    logger.info("wrote %d points × %d frames to %s", n * j, f, path)
    return path


# --- BVH -------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BvhMotion:
    """A skeleton fitted to one track (world axes, metres; see the module docstring).

    Attributes:
        joint_names: joints in BVH (depth-first) order; ``joint_names[0]`` is the root.
        parents: (J,) index of each joint's parent in ``joint_names``, −1 for the root.
        offsets: (J, 3) rest offset of each joint from its parent, world axes, metres.
        root_positions: (T, 3) root translation per frame, world metres.
        local_rotations: (T, J, 3, 3) rotation of each joint relative to its parent (world axes).
        positions: (T, J, 3) joint positions the skeleton reaches (forward kinematics), metres.
        frames: (T,) tracks frame indices.
        frame_time: seconds per frame.
    """

    joint_names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    root_positions: np.ndarray
    local_rotations: np.ndarray
    positions: np.ndarray
    frames: np.ndarray
    frame_time: float


def _fill_gaps(joints: np.ndarray) -> np.ndarray:
    """(T, J, 3) with NaN → linear interpolation over time per joint, ends held; unseen stay NaN."""
    out = joints.copy()
    t = np.arange(len(joints))
    seen = np.all(np.isfinite(joints), axis=-1)  # T×J
    for j in range(joints.shape[1]):
        ok = seen[:, j]
        if ok.any() and not ok.all():
            for k in range(3):
                out[:, j, k] = np.interp(t, t[ok], joints[ok, j, k])
    return out


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations taking unit vectors a (..., 3) onto unit vectors b (..., 3) → (..., 3, 3)."""
    v = np.cross(a, b)  # ...×3 axis · sin
    c = np.sum(a * b, axis=-1)  # ... cos
    vx = np.zeros(v.shape[:-1] + (3, 3))
    vx[..., 0, 1], vx[..., 0, 2], vx[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    vx[..., 1, 0], vx[..., 2, 0], vx[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    # Rodrigues: R = I + [v]x + [v]x² / (1 + cos); ill-defined at 180°, handled below.
    denom = np.where(c > -1 + 1e-9, 1.0 + c, 1.0)
    R = np.eye(3) + vx + vx @ vx / denom[..., None, None]
    flip = c <= -1 + 1e-9
    if flip.any():
        # half turn about any axis perpendicular to a
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        axis = np.cross(a, helper)
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        half = 2 * axis[..., :, None] * axis[..., None, :] - np.eye(3)  # ...×3×3
        R = np.where(flip[..., None, None], half, R)
    return R


def _kabsch(rest: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Rotations R (T, 3, 3) minimising Σ_c w_c |R rest_c − target_c|².

    rest: (C, 3); target: (T, C, 3); weight: (T, C) (0 for unknown targets).
    """
    H = np.einsum("tc,ci,tcj->tij", weight, rest, target)  # T×3×3, Σ w rest target^T
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.transpose(0, 2, 1) @ U.transpose(0, 2, 1)))  # T
    D = np.tile(np.eye(3), (len(H), 1, 1))
    D[:, 2, 2] = np.where(d == 0, 1.0, d)
    return Vt.transpose(0, 2, 1) @ D @ U.transpose(0, 2, 1)


def _unit_bones(x: np.ndarray, joint: int, kids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Observed unit bones (T, C, 3) from ``joint`` to its children (zero when unknown) and (T, C) ok."""
    bones = x[:, kids] - x[:, joint, None]  # T×C×3
    norm = np.linalg.norm(bones, axis=-1, keepdims=True)
    ok = np.all(np.isfinite(bones), axis=-1) & (norm[..., 0] > 1e-9)  # T×C
    return np.where(ok[..., None], bones / np.where(norm > 1e-9, norm, 1.0), 0.0), ok


def _rigid_template(
    canonical: np.ndarray, target: np.ndarray, weight: np.ndarray, iterations: int = 5
) -> np.ndarray:
    """Rest directions (C, 3) of a joint's several bones that best fit all frames rigidly.

    Generalised Procrustes: align the template to each frame (Kabsch), average the frames' bones
    brought back into the template frame, renormalise; the result is finally turned as a whole
    onto ``canonical`` (C, 3) so that the rest pose keeps its T-pose orientation.
    target: (T, C, 3) unit bones (zero where unknown); weight: (T, C).
    """
    template = canonical.copy()
    for _ in range(iterations):
        R = _kabsch(template, target, weight)  # T×3×3
        back = np.einsum("tji,tcj->tci", R, target) * weight[..., None]  # T×C×3, Rᵀ d
        mean = back.sum(axis=0)  # C×3
        norm = np.linalg.norm(mean, axis=-1, keepdims=True)
        template = np.where(norm > 1e-9, mean / np.where(norm > 1e-9, norm, 1.0), canonical)
    R0 = _kabsch(template, canonical[None], np.ones((1, len(canonical))))[0]
    return template @ R0.T


def _bone_offsets(
    x: np.ndarray, order: list[str], parents: np.ndarray, children: dict[int, list[int]]
) -> np.ndarray:
    """(J, 3) rest offsets of the skeleton fitted to the (T, J, 3) track ``x``: each bone's median
    length along its rest direction; where a joint has several bones, their directions are the
    best rigid template of the track."""
    J = x.shape[1]
    offsets = np.zeros((J, 3))
    for c in range(1, J):
        length = np.nanmedian(np.linalg.norm(x[:, c] - x[:, parents[c]], axis=-1))
        if not np.isfinite(length) or length <= 0:
            length = _DEFAULT_LENGTH[_left_key(order[c])]
        offsets[c] = length * _rest_direction(order[c])
    for i in range(J):
        kids = children[i]
        if len(kids) > 1:
            target, ok = _unit_bones(x, i, kids)
            if np.all(ok.sum(axis=1) >= 2):
                canonical = offsets[kids] / np.linalg.norm(offsets[kids], axis=-1, keepdims=True)
                template = _rigid_template(canonical, target, ok.astype(np.float64))
                offsets[kids] = template * np.linalg.norm(offsets[kids], axis=-1, keepdims=True)
    return offsets


def fit_bvh_motion(
    joints: np.ndarray, *, fps: float, frames: np.ndarray | None = None
) -> BvhMotion:
    """Fit the fixed-bone-length BVH skeleton to one track (see the module docstring).

    Args:
        joints: (T, 19, 3) Panoptic-19 world metres; NaN where unknown (gaps are interpolated).
        fps: frames per second.
        frames: (T,) frame indices (default 0..T−1).

    Raises:
        InputError: when the track never shows its hips (no root to place).
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (len(PANOPTIC19), 3):
        raise InputError(f"expected (T, 19, 3) Panoptic-19 joints, got {joints.shape}")
    order = _bvh_order()
    src = [PANOPTIC19.index(j) for j in order]
    x = _fill_gaps(joints[:, src])  # T×J×3 in BVH order
    if not np.all(np.isfinite(x[:, 0])):
        hips = _fill_gaps(joints[:, [PANOPTIC19.index("l_hip"), PANOPTIC19.index("r_hip")]])
        x[:, 0] = hips.mean(axis=1)
        if not np.all(np.isfinite(x[:, 0])):
            raise InputError("a track never shows mid_hip or both hips: no root to export")
    T, J = x.shape[:2]
    idx = {j: i for i, j in enumerate(order)}
    parents = np.array([-1 if BVH_PARENTS[j] is None else idx[BVH_PARENTS[j]] for j in order])
    children = {i: [c for c in range(J) if parents[c] == i] for i in range(J)}

    offsets = _bone_offsets(x, order, parents, children)

    glob = np.zeros((T, J, 3, 3))  # global rotations
    local = np.tile(np.eye(3), (T, J, 1, 1))  # T×J×3×3
    pos = np.zeros((T, J, 3))
    pos[:, 0] = x[:, 0]
    for i in range(J):  # depth-first order: parents come first
        parent_rot = np.eye(3) if parents[i] < 0 else glob[:, parents[i]]  # (T×)3×3
        if parents[i] >= 0:
            pos[:, i] = pos[:, parents[i]] + parent_rot @ offsets[i]
        kids = children[i]
        rest = np.stack([offsets[c] / np.linalg.norm(offsets[c]) for c in kids]) if kids else None
        if not kids:
            glob[:, i] = parent_rot
            continue
        target, ok = _unit_bones(x, i, kids)  # T×C×3, T×C
        if len(kids) == 1:
            # bone direction in the parent's frame; swing only (twist unobserved → zero)
            in_parent = (np.swapaxes(parent_rot, -1, -2) @ target[:, 0, :, None])[..., 0]  # T×3
            loc = _swing(np.broadcast_to(rest[0], in_parent.shape), in_parent)
            loc[~ok[:, 0]] = np.eye(3)
        else:
            g = _kabsch(rest, target, ok.astype(np.float64))  # T×3×3 global
            few = ok.sum(axis=1) < 2  # T: too few bones seen to fix a rotation → parent's
            if few.any():
                g[few] = parent_rot if parent_rot.ndim == 2 else parent_rot[few]
            loc = np.swapaxes(parent_rot, -1, -2) @ g  # T×3×3, R_pᵀ G
        local[:, i] = loc
        glob[:, i] = parent_rot @ loc
    frames = np.arange(T) if frames is None else np.asarray(frames)
    return BvhMotion(
        joint_names=tuple(order),
        parents=parents,
        offsets=offsets,
        root_positions=x[:, 0].copy(),
        local_rotations=local,
        positions=pos,
        frames=frames,
        frame_time=1.0 / fps,
    )


def bvh_text(motion: BvhMotion, *, scale: float = 100.0) -> str:
    """The BVH file of a fitted motion (Y up; ``scale`` BVH units per metre, 100 = centimetres)."""
    C = _WORLD_TO_BVH
    names, parents = motion.joint_names, motion.parents
    offsets = motion.offsets @ C.T * scale  # J×3 BVH axes/units
    J = len(names)
    children = {i: [c for c in range(J) if parents[c] == i] for i in range(J)}
    lines = ["HIERARCHY"]

    def fmt(v: np.ndarray) -> str:
        return " ".join(f"{a:.6f}" for a in v)

    def emit(i: int, depth: int) -> None:
        pad = "  " * depth
        if parents[i] < 0:
            lines.append(f"{pad}ROOT {names[i]}")
            lines.append(f"{pad}{{")
            lines.append(f"{pad}  OFFSET 0.000000 0.000000 0.000000")
            lines.append(
                f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
            )
        else:
            lines.append(f"{pad}JOINT {names[i]}")
            lines.append(f"{pad}{{")
            lines.append(f"{pad}  OFFSET {fmt(offsets[i])}")
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        for c in children[i]:
            emit(c, depth + 1)
        if not children[i]:
            # End Site a quarter of the incoming bone further on (a visible bone tip in viewers)
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET {fmt(0.25 * offsets[i])}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}}}")

    emit(0, 0)
    T = len(motion.root_positions)
    rot_bvh = C @ motion.local_rotations @ C.T  # T×J×3×3, the same rotations in BVH axes
    euler = Rotation.from_matrix(rot_bvh.reshape(-1, 3, 3)).as_euler("ZXY", degrees=True)
    euler = euler.reshape(T, J, 3)  # T×J×(z, x, y): intrinsic Z·X·Y = channel order
    root = motion.root_positions @ C.T * scale  # T×3
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {motion.frame_time:.8f}"]
    for t in range(T):
        lines.append(fmt(np.concatenate([root[t], euler[t].reshape(-1)])))
    return "\n".join(lines) + "\n"


def export_bvh(
    tracks: Tracks,
    path: str | PathLike[str],
    *,
    track_id: int | None = None,
    fps: float | None = None,
    scale: float = 100.0,
) -> list[Path]:
    """Write one BVH file per track (see the module docstring).

    A track spans the frames from its first to its last appearance; its gaps are interpolated.
    With one track (or ``track_id``) the file is ``path``; with several, ``<stem>_<id>.bvh`` beside
    it.

    Args:
        tracks: world-metre tracks in Panoptic-19 or a joint set convertible to it.
        path: the ``.bvh`` file (or name pattern).
        track_id: export only this track.
        fps: frame rate; default ``tracks.fps`` (else 30), divided by the frame step.
        scale: BVH units per metre (100: centimetres).

    Returns:
        The files written.
    """
    from tessetrack.eval.evaluate import convert_tracks

    path = Path(path)
    _check_suffix(path, ".bvh")
    if tuple(tracks.joint_names) != PANOPTIC19:
        try:
            tracks = convert_tracks(tracks, "panoptic19", what="tracks")
        except InputError as exc:
            raise InputError(f"BVH export needs Panoptic-19 joints: {exc}", path) from None
    frames, ids, joints, step = track_joints(tracks, path)
    if track_id is not None:
        if track_id not in ids:
            raise InputError(f"no track with id {track_id}; ids are {ids}", path)
        ids_out = [track_id]
    else:
        ids_out = ids
    if not ids_out:
        raise InputError("the tracks hold nobody: nothing to export", path)
    rate = _rate(tracks, fps, step)
    written = []
    for tid in ids_out:
        x = joints[ids.index(tid)]  # F×19×3
        seen = np.flatnonzero(np.any(np.isfinite(x).all(-1), axis=-1))
        span = slice(seen[0], seen[-1] + 1)
        motion = fit_bvh_motion(x[span], fps=rate, frames=frames[span])
        out = path if len(ids_out) == 1 else path.with_name(f"{path.stem}_{tid}{path.suffix}")
        atomic_write_text(out, bvh_text(motion, scale=scale))
        written.append(out)
        logger.info("wrote track %d (%d frames) to %s", tid, len(motion.frames), out)
    return written


def export_tracks(
    tracks: Tracks, path: str | PathLike[str], *, fps: float | None = None
) -> list[Path]:
    """Export by suffix: ``.c3d`` (:func:`export_c3d`) or ``.bvh`` (:func:`export_bvh`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    check_fps(fps, path)
    if suffix == ".c3d":
        return [export_c3d(tracks, path, fps=fps)]
    if suffix == ".bvh":
        return export_bvh(tracks, path, fps=fps)
    raise InputError(
        f"unknown export type {suffix or '(none)'!r}; use one of {', '.join(EXPORT_SUFFIXES)}",
        path,
    )
