"""Real motion capture for synthetic scenes: DeepMimic clips, forward kinematics, motion variety.

The ``pybullet`` wheel ships 15 DeepMimic humanoid clips (``pybullet_data/data/motions/
humanoid3d_*.txt``, 33.6 s of real motion capture) and the humanoid they drive
(``pybullet_data/humanoid/humanoid.urdf``). A clip is JSON: ``"Loop"`` (``"wrap"`` or ``"none"``) and
``"Frames"``, rows of 44 numbers::

    duration, root position (3), root rotation (4, w x y z),
    chest (4), neck (4), r_hip (4), r_knee (1), r_ankle (4), r_shoulder (4), r_elbow (1),
    l_hip (4), l_knee (1), l_ankle (4), l_shoulder (4), l_elbow (1)

Quaternions are ``w x y z``; knees and elbows are angles (rad) about the joint's local z axis.

Conventions written down once here:

* **Clip frame**: DeepMimic's, y up, x forward (the feet point to +x), z to the person's right,
  metres. The URDF is written at 4× scale; DeepMimic loads it with ``globalScaling=0.25``, and the
  clips' root positions are in that scaled frame, so every URDF offset is multiplied by
  :data:`URDF_SCALE`.
* **Floor frame**: tessetrack's synthetic scene frame, z up, floor at ``z = 0``, metres:
  ``(x, y, z)_floor = (x, -z, y)_clip``. Rigs place the floor frame into their own world
  (:mod:`tessetrack.synth.rigs`).
* **Panoptic-19 joints** from the humanoid's link frames: ``neck`` = the neck joint, ``mid_hip`` =
  the root, hips/knees/ankles/shoulders/elbows = their joints, wrists = the fixed wrist joints.
  The face is rigidly attached to the neck link (the head) with one of the offset sets of
  :data:`FACE_MODELS` (metres, in the neck link's frame: forward, up, right):
  ``humanoid`` (:data:`FACE_OFFSETS`, the default) is drawn on the humanoid's head sphere (centre
  0.175 m above the neck joint, radius 0.1025 m), which sits low: its nose is 0.19 m from the neck
  against a median 0.245 m on real CMU Panoptic people; ``measured``
  (:data:`MEASURED_FACE_OFFSETS`) matches real people's neck→nose, neck→ears and ear width
  (``benchmarks/head_geometry.py``).

Clip split (disjoint, by clip): see :data:`CLIP_SPLITS` — 11 train, 2 val, 2 test clips.

Limb mixing (:attr:`MotionOptions.limb_mix_prob`) widens the pose variety beyond the 11 training
motions: a segment may take the local rotations of whole body parts (:data:`MIX_PARTS`) from another
clip of the pool, played at its own phase and speed, while the root and the legs (root motion, foot
contacts) stay with the segment's clip. Mixing happens on joint rotations before forward
kinematics, so every bone keeps its length.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tessetrack.errors import InputError
from tessetrack.skeletons import PANOPTIC19

__all__ = [
    "CLIP_NAMES",
    "CLIP_SPLITS",
    "FACE_MODELS",
    "FACE_OFFSETS",
    "MEASURED_FACE_OFFSETS",
    "URDF_SCALE",
    "DEEPMIMIC_JOINTS",
    "MIX_PARTS",
    "MocapClip",
    "HumanoidSkeleton",
    "MotionOptions",
    "clips_for_split",
    "data_path",
    "load_clip",
    "load_skeleton",
    "sample_clip",
    "forward_kinematics",
    "links_to_panoptic19",
    "clip_to_floor",
    "mirror_joints",
    "mirror_pose",
    "mix_parts",
    "heading_of",
    "synthesize_motion",
]

logger = logging.getLogger(__name__)

#: Scale DeepMimic applies to ``humanoid.urdf`` (``globalScaling=0.25``).
URDF_SCALE = 0.25

#: The 12 rotating joints of a clip row, in row order, and whether each is revolute (1 angle).
DEEPMIMIC_JOINTS: tuple[tuple[str, bool], ...] = (
    ("chest", False),
    ("neck", False),
    ("right_hip", False),
    ("right_knee", True),
    ("right_ankle", False),
    ("right_shoulder", False),
    ("right_elbow", True),
    ("left_hip", False),
    ("left_knee", True),
    ("left_ankle", False),
    ("left_shoulder", False),
    ("left_elbow", True),
)

#: Body parts that limb mixing takes from another clip, as :data:`DEEPMIMIC_JOINTS` names. Both arms
#: come from one donor (coordinated); the spine part moves the head and, through the chest, the
#: shoulders. The root and the legs are never mixed: they carry the root motion and foot contacts.
MIX_PARTS: dict[str, tuple[str, ...]] = {
    "arms": ("right_shoulder", "right_elbow", "left_shoulder", "left_elbow"),
    "spine": ("chest", "neck"),
}

CLIP_NAMES: tuple[str, ...] = (
    "backflip",
    "cartwheel",
    "crawl",
    "dance_a",
    "dance_b",
    "getup_facedown",
    "getup_faceup",
    "jump",
    "kick",
    "punch",
    "roll",
    "run",
    "spin",
    "spinkick",
    "walk",
)

#: Disjoint split by clip. ``walk`` (the clip that moves people around most) is in train; test
#: keeps ``run`` so that test scenes also have people crossing the floor.
CLIP_SPLITS: dict[str, tuple[str, ...]] = {
    "train": (
        "backflip",
        "cartwheel",
        "crawl",
        "dance_a",
        "getup_facedown",
        "getup_faceup",
        "punch",
        "roll",
        "spin",
        "spinkick",
        "walk",
    ),
    "val": ("jump", "kick"),
    "test": ("dance_b", "run"),
}

#: Face joints in the neck (head) link frame, metres: (forward, up, right). The head sphere of the
#: humanoid has its centre at (0, 0.175, 0) and radius 0.1025; the nose is on its front, the eyes
#: 3.2 cm either side above it, the ears 7.5 cm to the sides (a 15 cm wide head).
FACE_OFFSETS: dict[str, tuple[float, float, float]] = {
    "nose": (0.095, 0.160, 0.0),
    "l_eye": (0.085, 0.200, -0.032),
    "r_eye": (0.085, 0.200, 0.032),
    "l_ear": (0.000, 0.180, -0.075),
    "r_ear": (0.000, 0.180, 0.075),
}

#: Face joints in real people's proportions (same frame as :data:`FACE_OFFSETS`). The humanoid
#: at body scale 1 is 1.11× a median real person: shoulders 0.366 m apart against 0.329 m on the
#: real CMU Panoptic sample, and the torso over the shoulder width is the same (1.31 vs 1.34). The
#: real medians (``benchmarks/head_geometry.py``: neck→nose 0.245 m, ears' centre 0.197 m above the
#: mid-shoulder point, ears 0.162 m apart) are therefore set 1.11× larger here, the nose in the
#: humanoid's direction; the eyes are 4.4 cm above the nose and 1 cm behind it.
MEASURED_FACE_OFFSETS: dict[str, tuple[float, float, float]] = {
    "nose": (0.139, 0.234, 0.0),
    "l_eye": (0.129, 0.278, -0.035),
    "r_eye": (0.129, 0.278, 0.035),
    "l_ear": (-0.005, 0.238, -0.090),
    "r_ear": (-0.005, 0.238, 0.090),
}

#: Face offset sets by name (``MotionOptions.face``, ``tessetrack synth --face``).
FACE_MODELS: dict[str, dict[str, tuple[float, float, float]]] = {
    "humanoid": FACE_OFFSETS,
    "measured": MEASURED_FACE_OFFSETS,
}


def face_offsets(name: str) -> dict[str, tuple[float, float, float]]:
    """The face offset set called ``name`` (see :data:`FACE_MODELS`); InputError if unknown."""
    try:
        return FACE_MODELS[name]
    except KeyError:
        raise InputError(
            f"unknown face model {name!r}; choose one of {', '.join(FACE_MODELS)}"
        ) from None


# Panoptic-19 body joints -> humanoid link whose frame origin is the joint.
_BODY_LINKS: dict[str, str] = {
    "neck": "neck",
    "mid_hip": "root",
    "l_shoulder": "left_shoulder",
    "l_elbow": "left_elbow",
    "l_wrist": "left_wrist",
    "l_hip": "left_hip",
    "l_knee": "left_knee",
    "l_ankle": "left_ankle",
    "r_shoulder": "right_shoulder",
    "r_elbow": "right_elbow",
    "r_wrist": "right_wrist",
    "r_hip": "right_hip",
    "r_knee": "right_knee",
    "r_ankle": "right_ankle",
}


def data_path() -> Path:
    """Folder of ``pybullet_data`` (the clips and the humanoid URDF)."""
    import pybullet_data

    return Path(pybullet_data.getDataPath())


def clips_for_split(split: str) -> tuple[str, ...]:
    """Clip names of ``split`` (``train``, ``val``, ``test`` or ``all``)."""
    if split == "all":
        return CLIP_NAMES
    if split not in CLIP_SPLITS:
        raise InputError(f"unknown split {split!r}; choose one of train, val, test, all")
    return CLIP_SPLITS[split]


# -- quaternions (w, x, y, z), batched over leading dims --------------------------------------------


def _quat_normalize(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions w x y z -> (..., 3, 3) rotation matrices."""
    w, x, y, z = np.moveaxis(_quat_normalize(q), -1, 0)
    m = np.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return m.reshape(*q.shape[:-1], 3, 3)  # ...×3×3


def _quat_nlerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Normalized linear interpolation on the short arc. q0, q1: (..., 4); w: broadcastable (..., 1)."""
    sign = np.where(np.sum(q0 * q1, axis=-1, keepdims=True) < 0, -1.0, 1.0)
    return _quat_normalize((1 - w) * q0 + w * sign * q1)


# -- clips and skeleton -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MocapClip:
    """One DeepMimic clip in the clip frame (y up, metres).

    Attributes:
        name: e.g. ``"walk"``.
        frame_time: seconds between rows.
        loop: whether the clip is cyclic (``"Loop": "wrap"``).
        root_pos: (T, 3) root positions.
        root_rot: (T, 4) root rotations (w x y z).
        local_rot: (T, 12, 4) joint rotations (w x y z) in :data:`DEEPMIMIC_JOINTS` order;
            revolute angles are turned into rotations about z.
    """

    name: str
    frame_time: float
    loop: bool
    root_pos: np.ndarray
    root_rot: np.ndarray
    local_rot: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first to the last row."""
        return (self.num_frames - 1) * self.frame_time


def load_clip(name_or_path: str | Path) -> MocapClip:
    """Read a DeepMimic clip by name (``"walk"``) or from a ``humanoid3d_*.txt`` path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = data_path() / "data" / "motions" / f"humanoid3d_{name_or_path}.txt"
    if not path.is_file():
        raise InputError(f"no DeepMimic clip here; known clips: {', '.join(CLIP_NAMES)}", path)
    try:
        doc = json.loads(path.read_text())
        rows = np.asarray(doc["Frames"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a DeepMimic clip ({exc})", path) from None
    if rows.ndim != 2 or rows.shape[1] != 44 or rows.shape[0] < 2:
        raise InputError(f"expected rows of 44 numbers, got shape {rows.shape}", path)
    cols = 8
    rots = []
    for _, revolute in DEEPMIMIC_JOINTS:
        if revolute:
            a = rows[:, cols]
            zeros = np.zeros_like(a)
            rots.append(np.stack([np.cos(a / 2), zeros, zeros, np.sin(a / 2)], axis=-1))
            cols += 1
        else:
            rots.append(_quat_normalize(rows[:, cols : cols + 4]))
            cols += 4
    name = path.stem.removeprefix("humanoid3d_")
    return MocapClip(
        name=name,
        frame_time=float(np.median(rows[:-1, 0])),
        loop=str(doc.get("Loop", "none")).lower() == "wrap",
        root_pos=rows[:, 1:4],
        root_rot=_quat_normalize(rows[:, 4:8]),
        local_rot=np.stack(rots, axis=1),  # T×12×4
    )


@dataclass(frozen=True, eq=False)
class HumanoidSkeleton:
    """Kinematic tree of the DeepMimic humanoid, scaled to metres.

    Attributes:
        links: link names in topological order (``root`` first).
        parents: parent index per link (-1 for the root).
        offsets: (L, 3) joint origin of each link in its parent's frame (metres).
        rot_index: per link, the index into a clip's ``local_rot`` driving it, or -1 (fixed).
    """

    links: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    rot_index: tuple[int, ...]

    def index(self, link: str) -> int:
        return self.links.index(link)


def load_skeleton(urdf_path: str | Path | None = None) -> HumanoidSkeleton:
    """Parse the humanoid URDF's joints (parent, child, origin) into a :class:`HumanoidSkeleton`."""
    path = Path(urdf_path) if urdf_path is not None else data_path() / "humanoid" / "humanoid.urdf"
    try:
        # the shipped file ends with a NUL byte, which XML parsers reject
        root = ET.fromstring(path.read_bytes().rstrip(b"\x00\r\n \t"))
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"cannot read the humanoid URDF ({exc})", path) from None
    children: dict[str, tuple[str, np.ndarray]] = {}
    for joint in root.iter("joint"):
        parent = joint.find("parent").get("link")  # type: ignore[union-attr]
        child = joint.find("child").get("link")  # type: ignore[union-attr]
        origin = joint.find("origin")
        xyz = np.zeros(3) if origin is None else np.array(origin.get("xyz", "0 0 0").split(), float)
        children[child] = (parent, xyz * URDF_SCALE)
    rot_names = [n for n, _ in DEEPMIMIC_JOINTS]
    links: list[str] = ["root"]
    parents: list[int] = [-1]
    offsets: list[np.ndarray] = [np.zeros(3)]
    pending = [c for c in children if c != "root" and children[c][0] != "base"]
    while pending:
        progressed = False
        for child in list(pending):
            parent, xyz = children[child]
            if parent in links:
                links.append(child)
                parents.append(links.index(parent))
                offsets.append(xyz)
                pending.remove(child)
                progressed = True
        if not progressed:
            raise InputError(f"URDF links not connected to the root: {pending}", path)
    rot_index = tuple(rot_names.index(n) if n in rot_names else -1 for n in links)
    return HumanoidSkeleton(tuple(links), tuple(parents), np.stack(offsets), rot_index)


# -- sampling and forward kinematics ----------------------------------------------------------------


def _yaw_quat(angle: np.ndarray) -> np.ndarray:
    """(...,) angles about the clip frame's y (up) axis -> (..., 4) quaternions."""
    zeros = np.zeros_like(angle)
    return np.stack([np.cos(angle / 2), zeros, np.sin(angle / 2), zeros], axis=-1)


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def _clip_yaw(q: np.ndarray) -> np.ndarray:
    """Heading (rotation about y) of root quaternions (..., 4): angle of the rotated x axis."""
    R = _quat_to_matrix(q)
    fwd = R[..., :, 0]  # ...×3, the body's forward (x) axis in the clip frame
    return np.arctan2(-fwd[..., 2], fwd[..., 0])


def sample_clip(clip: MocapClip, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate a clip at arbitrary times (seconds).

    Looping clips continue past their end: each cycle is moved by the previous cycles' root
    displacement and turned by their heading change (as DeepMimic does), so walking goes on.
    Non-looping clips hold their first/last frame outside ``[0, duration]``.

    Args:
        clip: the clip.
        times: (T,) seconds.

    Returns:
        root_pos (T, 3), root_rot (T, 4), local_rot (T, 12, 4) in the clip frame.
    """
    times = np.asarray(times, dtype=np.float64)
    dur = clip.duration
    if clip.loop:
        times = np.clip(times, 0.0, None)
        cycle = np.floor(times / dur).astype(np.int64)
        local_t = times - cycle * dur
    else:
        cycle = np.zeros(times.shape, np.int64)
        local_t = np.clip(times, 0.0, dur)
    f = local_t / clip.frame_time
    i0 = np.clip(np.floor(f).astype(np.int64), 0, clip.num_frames - 2)
    w = np.clip(f - i0, 0.0, 1.0)[:, None]  # T×1
    root_pos = (1 - w) * clip.root_pos[i0] + w * clip.root_pos[i0 + 1]  # T×3
    root_rot = _quat_nlerp(clip.root_rot[i0], clip.root_rot[i0 + 1], w)  # T×4
    local_rot = _quat_nlerp(clip.local_rot[i0], clip.local_rot[i0 + 1], w[:, :, None])  # T×12×4
    if clip.loop and np.any(cycle > 0):
        # after c cycles: turn by c·dyaw about the first frame's root, shift by the cycles' steps
        dyaw = float(_clip_yaw(clip.root_rot[-1]) - _clip_yaw(clip.root_rot[0]))
        start = clip.root_pos[0]
        step = clip.root_pos[-1] - start
        step[1] = 0.0
        for c in np.unique(cycle[cycle > 0]):
            sel = cycle == c
            origin = start.copy()
            for k in range(int(c)):
                origin = origin + _quat_to_matrix(_yaw_quat(np.array(k * dyaw))) @ step
            yaw = float(c) * dyaw
            Rc = _quat_to_matrix(_yaw_quat(np.array(yaw)))
            moved = (root_pos[sel] - start) @ Rc.T + origin  # n×3
            moved[:, 1] = root_pos[sel, 1]
            root_pos[sel] = moved
            root_rot[sel] = _quat_mul(_yaw_quat(np.full(int(sel.sum()), yaw)), root_rot[sel])
    return root_pos, root_rot, local_rot


def forward_kinematics(
    skeleton: HumanoidSkeleton,
    root_pos: np.ndarray,
    root_rot: np.ndarray,
    local_rot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Link frames of the humanoid (vectorized over time).

    ``T_link = T_parent · Trans(offset) · Rot(q_joint)``; the root frame is ``Trans(root_pos) ·
    Rot(root_rot)``.

    Args:
        skeleton: the kinematic tree.
        root_pos: (T, 3); root_rot: (T, 4) w x y z; local_rot: (T, 12, 4) w x y z.

    Returns:
        positions (T, L, 3) of each link frame's origin (= its joint) and rotations (T, L, 3, 3),
        both in the clip frame.
    """
    T = root_pos.shape[0]
    L = len(skeleton.links)
    local_R = _quat_to_matrix(local_rot)  # T×12×3×3
    pos = np.zeros((T, L, 3))
    rot = np.zeros((T, L, 3, 3))
    pos[:, 0] = root_pos
    rot[:, 0] = _quat_to_matrix(root_rot)
    for i in range(1, L):
        p = skeleton.parents[i]
        pos[:, i] = pos[:, p] + rot[:, p] @ skeleton.offsets[i]  # T×3
        r = skeleton.rot_index[i]
        rot[:, i] = rot[:, p] if r < 0 else rot[:, p] @ local_R[:, r]  # T×3×3
    return pos, rot


def links_to_panoptic19(
    skeleton: HumanoidSkeleton,
    link_pos: np.ndarray,
    link_rot: np.ndarray,
    *,
    face: str = "humanoid",
) -> np.ndarray:
    """Panoptic-19 joints from link frames (clip frame). (T, L, 3), (T, L, 3, 3) -> (T, 19, 3).

    ``face`` names the face offsets (:data:`FACE_MODELS`).
    """
    offsets = face_offsets(face)
    out = np.zeros((link_pos.shape[0], PANOPTIC19.num_joints, 3))
    neck = skeleton.index("neck")
    for j, name in enumerate(PANOPTIC19.joints):
        if name in _BODY_LINKS:
            out[:, j] = link_pos[:, skeleton.index(_BODY_LINKS[name])]
        else:
            offset = np.asarray(offsets[name])  # forward, up, right = clip-frame x, y, z
            out[:, j] = link_pos[:, neck] + link_rot[:, neck] @ offset
    return out


def clip_to_floor(points_clip: np.ndarray) -> np.ndarray:
    """Clip frame (y up) -> floor frame (z up): ``(x, y, z) -> (x, -z, y)``. (..., 3) -> (..., 3)."""
    return np.stack([points_clip[..., 0], -points_clip[..., 2], points_clip[..., 1]], axis=-1)


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """Mirror Panoptic-19 joints (..., 19, 3) in the floor frame's x–z plane and swap left/right."""
    out = joints.copy()
    out[..., 1] = -out[..., 1]
    perm = list(range(PANOPTIC19.num_joints))
    for a, b in PANOPTIC19.flip_pairs:
        perm[a], perm[b] = b, a
    return out[..., perm, :]


def _swap_side(name: str) -> str:
    if name.startswith("right_"):
        return "left_" + name.removeprefix("right_")
    if name.startswith("left_"):
        return "right_" + name.removeprefix("left_")
    return name


# joint k of a mirrored pose is driven by joint _MIRROR_PERM[k] of the original (left <-> right)
_MIRROR_PERM: tuple[int, ...] = tuple(
    [n for n, _ in DEEPMIMIC_JOINTS].index(_swap_side(n)) for n, _ in DEEPMIMIC_JOINTS
)


def mirror_pose(
    root_pos: np.ndarray, root_rot: np.ndarray, local_rot: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a clip-frame pose in the x–y plane (``z -> -z``) at the rotation level.

    The humanoid is left/right symmetric (its left offsets are its right ones with z negated), so the
    mirrored pose is the original's left/right joints swapped, each rotation conjugated by the
    reflection ``M = diag(1, 1, -1)``: ``M·R·M``, which for a quaternion is ``(w, -x, -y, z)``
    (revolute knees and elbows, about z, keep their angle). After forward kinematics this equals
    :func:`mirror_joints` of the original in the floor frame.

    Args:
        root_pos: (T, 3); root_rot: (T, 4) w x y z; local_rot: (T, 12, 4) w x y z.

    Returns:
        the mirrored root_pos (T, 3), root_rot (T, 4), local_rot (T, 12, 4).
    """
    flip = np.array([1.0, -1.0, -1.0, 1.0])
    return (
        root_pos * np.array([1.0, 1.0, -1.0]),
        root_rot * flip,
        local_rot[..., _MIRROR_PERM, :] * flip,  # T×12×4
    )


def heading_of(joints: np.ndarray) -> np.ndarray:
    """Facing direction (angle about z, rad) of floor-frame Panoptic-19 joints (..., 19, 3) -> (...,).

    Forward = left × up, with left = l_hip − r_hip (a person facing +x has its left at +y).
    """
    left = joints[..., PANOPTIC19.index("l_hip"), :] - joints[..., PANOPTIC19.index("r_hip"), :]
    # (lx, ly, 0) × (0, 0, 1) = (ly, -lx, 0)
    return np.arctan2(-left[..., 0], left[..., 1])


# -- motion synthesis ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MotionOptions:
    """How one person's motion is varied.

    Attributes:
        scale_range: per-person body scale (uniform).
        time_warp: playback speed factor range (``±20 %``).
        mirror_prob: probability that a clip segment is mirrored (left ↔ right).
        segment_seconds: length range of a segment of a looping clip; non-looping clips play once.
        crossfade_seconds: overlap in which consecutive segments are blended.
        max_turn: largest heading change (rad) at a transition between segments.
        heading_candidates: random headings tried to keep a segment inside the area.
        limb_mix_prob: per segment and per body part of :data:`MIX_PARTS`, the probability that
            the part's rotations come from another clip of the pool (limb mixing). 0 (default)
            draws nothing extra from the generator, so older scenes are reproduced exactly.
        face: the face offsets (:data:`FACE_MODELS`): ``humanoid`` (default, every scene made
            before it existed) or ``measured`` (real people's proportions). It moves only the
            five face joints; the random draws are the same.
    """

    scale_range: tuple[float, float] = (0.85, 1.15)
    time_warp: tuple[float, float] = (0.8, 1.2)
    mirror_prob: float = 0.5
    segment_seconds: tuple[float, float] = (2.0, 5.0)
    crossfade_seconds: float = 0.4
    max_turn: float = np.pi / 4
    heading_candidates: int = 12
    limb_mix_prob: float = 0.0
    face: str = "humanoid"


def _rotate_z(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return points @ R.T


def _excess(xy: np.ndarray, center: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Distance (m) by which each point of (..., 2) lies outside the axis-aligned area (0 inside)."""
    return np.clip(np.abs(xy - center) - half, 0.0, None).max(axis=-1)


def _outside(xy: np.ndarray, center: np.ndarray, half: np.ndarray) -> float:
    """Largest distance (m) by which points (..., 2) leave the axis-aligned area."""
    return float(np.max(_excess(xy, center, half), initial=0.0))


def mix_parts(local_rot: np.ndarray, donor_rot: np.ndarray, parts: list[str]) -> np.ndarray:
    """Joint rotations with the joints of ``parts`` (:data:`MIX_PARTS` keys) taken from a donor.

    Args:
        local_rot: (T, 12, 4) the segment's rotations; donor_rot: (T, 12, 4) the donor's.
        parts: names of the parts to take from the donor.

    Returns:
        (T, 12, 4) a new array; ``local_rot`` is not modified.
    """
    names = [n for n, _ in DEEPMIMIC_JOINTS]
    out = local_rot.copy()
    for part in parts:
        if part not in MIX_PARTS:
            raise InputError(f"unknown body part {part!r}; choose from {', '.join(MIX_PARTS)}")
        idx = [names.index(n) for n in MIX_PARTS[part]]
        out[:, idx] = donor_rot[:, idx]  # T×k×4
    return out


#: Donors drawn per mixed part before the part is left unmixed (see :func:`_mix_limbs`).
_MIX_ATTEMPTS = 4
#: Metres a mixed joint may go below the floor (and below the unmixed pose's lowest joint).
_MIX_FLOOR_TOLERANCE = 0.02


def _donor_times(clip: MocapClip, t0: float, speed: float, n: int, fps: float) -> np.ndarray:
    """(n,) times at which a donor clip is played from ``t0``: looping clips go on (their joint
    rotations repeat), non-looping ones play back and forth so that the part never freezes."""
    times = t0 + np.arange(n) * speed / fps
    if clip.loop:
        return times
    dur = clip.duration
    u = np.mod(times, 2 * dur)
    return np.where(u > dur, 2 * dur - u, u)  # triangle wave in [0, duration]


def _lowest_joint(
    skeleton: HumanoidSkeleton, root_pos: np.ndarray, root_rot: np.ndarray, local_rot: np.ndarray
) -> np.ndarray:
    """(T,) height (clip-frame y, metres) of each frame's lowest Panoptic-19 joint.

    Always with the ``humanoid`` face, so the limb-mixing draws do not depend on the face model.
    """
    pos, rot = forward_kinematics(skeleton, root_pos, root_rot, local_rot)
    return links_to_panoptic19(skeleton, pos, rot)[..., 1].min(axis=-1)


def _mix_limbs(
    clips: list[MocapClip],
    main: MocapClip,
    skeleton: HumanoidSkeleton,
    root_pos: np.ndarray,
    root_rot: np.ndarray,
    local_rot: np.ndarray,
    fps: float,
    rng: np.random.Generator,
    options: MotionOptions,
) -> tuple[np.ndarray, list[dict]]:
    """Limb mixing of one segment (clip frame).

    Each part of :data:`MIX_PARTS` is, with ``limb_mix_prob``, taken from another clip of the pool
    (the same clip when it is the only one) at a random phase, speed and side. A donor that pushes
    a joint through the floor (more than :data:`_MIX_FLOOR_TOLERANCE` below both the floor and the
    unmixed pose's lowest joint, in any frame) — a crawl's arms on a person already lying down — is
    redrawn, up to :data:`_MIX_ATTEMPTS` times, then the part stays unmixed.

    Args:
        root_pos: (n, 3); root_rot: (n, 4); local_rot: (n, 12, 4): the segment's sampled clip.

    Returns:
        the mixed rotations (n, 12, 4) and a record per mixed part.
    """
    others = [c for c in clips if c.name != main.name] or [main]
    n = local_rot.shape[0]
    floor = np.minimum(_lowest_joint(skeleton, root_pos, root_rot, local_rot), 0.0)  # n
    records: list[dict] = []
    for part in MIX_PARTS:
        if not rng.random() < options.limb_mix_prob:
            continue
        for _ in range(_MIX_ATTEMPTS):
            donor = others[int(rng.integers(len(others)))]
            speed = float(rng.uniform(*options.time_warp))
            t0 = float(rng.uniform(0.0, donor.duration))
            mirrored = bool(rng.random() < options.mirror_prob)
            rp, rr, lr = sample_clip(donor, _donor_times(donor, t0, speed, n, fps))
            if mirrored:  # the donor's other side: a punch with the left arm instead of the right
                lr = mirror_pose(rp, rr, lr)[2]
            mixed = mix_parts(local_rot, lr, [part])
            low = _lowest_joint(skeleton, root_pos, root_rot, mixed)  # n
            if np.all(low >= floor - _MIX_FLOOR_TOLERANCE):
                local_rot = mixed
                records.append(
                    {
                        "part": part,
                        "clip": donor.name,
                        "start_time": round(t0, 4),
                        "speed": round(speed, 4),
                        "mirrored": mirrored,
                    }
                )
                break
    return local_rot, records


def _draw_segment(
    clips: list[MocapClip],
    skeleton: HumanoidSkeleton,
    fps: float,
    fade: int,
    scale: float,
    rng: np.random.Generator,
    mix_rng: np.random.Generator | None,
    options: MotionOptions,
) -> tuple[np.ndarray, dict]:
    """One random segment of a clip as (n, 19, 3) floor-frame joints starting at the origin and
    facing +x (time-warped, scaled, maybe mirrored, limbs maybe mixed), and what was drawn."""
    clip = clips[int(rng.integers(len(clips)))]
    speed = float(rng.uniform(*options.time_warp))
    mirrored = bool(rng.random() < options.mirror_prob)
    if clip.loop:
        seconds = float(rng.uniform(*options.segment_seconds))
        t0 = float(rng.uniform(0.0, clip.duration))
    else:
        seconds = clip.duration / speed
        t0 = 0.0
    n = max(fade + 2, int(round(seconds * fps)))
    rp, rr, lr = sample_clip(clip, t0 + np.arange(n) * speed / fps)
    info: dict = {"clip": clip.name, "speed": round(speed, 4), "mirrored": mirrored}
    if mix_rng is not None:
        lr, info["mixed"] = _mix_limbs(clips, clip, skeleton, rp, rr, lr, fps, mix_rng, options)
    pos, rot = forward_kinematics(skeleton, rp, rr, lr)
    seg = clip_to_floor(links_to_panoptic19(skeleton, pos, rot, face=options.face)) * scale
    if mirrored:
        seg = mirror_joints(seg)
    mid_hip = PANOPTIC19.index("mid_hip")
    seg[..., :2] -= seg[0, mid_hip, :2].copy()
    return _rotate_z(seg, -float(heading_of(seg[0]))), info


def _place_segment(
    seg: np.ndarray,
    anchor: np.ndarray,
    heading: float | None,
    area: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    options: MotionOptions,
) -> np.ndarray:
    """(n, 19, 3) segment (starting at the origin, facing +x) turned and moved to ``anchor``: among
    headings (base + uniform(±spread)) tried in rounds — a turn of at most ``max_turn`` from
    ``heading`` first (any heading for the first segment, ``heading`` None), then any heading (a
    person turning round) — the first whose root path stays inside ``area``, else the one that
    leaves it least."""
    mid_hip = PANOPTIC19.index("mid_hip")
    rounds = [(0.0, np.pi)] if heading is None else [(heading, options.max_turn), (0.0, np.pi)]
    best: tuple[float, np.ndarray] | None = None
    for base, spread in rounds:
        for _ in range(options.heading_candidates):
            cand = _rotate_z(seg, base + float(rng.uniform(-spread, spread)))
            cand[..., :2] += anchor
            bad = _outside(cand[:, mid_hip, :2], *area)
            if best is None or bad < best[0]:
                best = (bad, cand)
            if bad == 0.0:
                return cand
    assert best is not None
    return best[1]


def _blend_into(out: np.ndarray, seg: np.ndarray, start: int, overlap: int) -> None:
    """Write the (k, 19, 3) segment ``seg`` into ``out`` from frame ``start``, cross-fading its
    first ``overlap`` frames with what ``out`` holds there (smoothstep weights)."""
    if overlap > 0:
        s = (np.arange(overlap) + 1) / (overlap + 1)
        w = (s * s * (3 - 2 * s))[:, None, None]  # smoothstep, overlap×1×1
        out[start : start + overlap] = (1 - w) * out[start : start + overlap] + w * seg[:overlap]
    out[start + overlap : start + len(seg)] = seg[overlap:]


def synthesize_motion(
    clips: list[MocapClip],
    skeleton: HumanoidSkeleton,
    num_frames: int,
    fps: float,
    rng: np.random.Generator,
    *,
    start_xy: np.ndarray,
    area_center: np.ndarray,
    area_half_size: np.ndarray,
    options: MotionOptions = MotionOptions(),
) -> tuple[np.ndarray, dict]:
    """One person's Panoptic-19 trajectory in the floor frame from chained, varied clips.

    Segments (random clip, mirrored or not, time-warped, scaled by the person's scale) are chained:
    each starts where the previous one is at the start of the cross-fade, turned so that its root
    stays inside the area (:func:`_place_segment`), or ends where it leaves it. Over the cross-fade
    the two segments' joints are blended with a smoothstep weight. With ``limb_mix_prob > 0`` a segment's arms and/or spine may come from
    another clip (:func:`mix_parts`); those draws come from a generator of their own, seeded once
    per person from ``rng``, so the root and leg motion do not depend on the probability's value.

    Args:
        clips: the pool of clips to draw from.
        skeleton: the humanoid.
        num_frames: T.
        fps: output frame rate.
        rng: random generator (all randomness comes from it).
        start_xy: (2,) where the person's root starts on the floor.
        area_center, area_half_size: (2,) the capture area on the floor (axis-aligned).
        options: variety settings.

    Returns:
        joints (T, 19, 3) floor-frame metres, and a dict describing the person (scale, segments;
        with limb mixing on, each segment lists its ``"mixed"`` parts: part, donor clip, start
        time, speed, mirrored).
    """
    if not clips:
        raise InputError("no motion clips to draw from")
    if not 0.0 <= options.limb_mix_prob <= 1.0:
        raise InputError(f"limb_mix_prob must be in [0, 1], got {options.limb_mix_prob}")
    face_offsets(options.face)  # an unknown name fails before any work
    scale = float(rng.uniform(*options.scale_range))
    mix_rng = None
    if options.limb_mix_prob > 0:
        mix_rng = np.random.default_rng(int(rng.integers(2**63)))
    fade = max(1, int(round(options.crossfade_seconds * fps)))
    out = np.zeros((num_frames, PANOPTIC19.num_joints, 3))
    segments: list[dict] = []
    filled = 0  # frames of ``out`` that are final up to the cross-fade window
    heading = float(rng.uniform(-np.pi, np.pi))
    anchor = np.asarray(start_xy, dtype=np.float64)
    mid_hip = PANOPTIC19.index("mid_hip")
    while filled < num_frames:
        seg, info = _draw_segment(clips, skeleton, fps, fade, scale, rng, mix_rng, options)
        n = len(seg)
        first = not segments
        area = (area_center, area_half_size)
        seg = _place_segment(seg, anchor, None if first else heading, area, rng, options)
        if _outside(seg[:, mid_hip, :2], *area) > 0.0:
            # still leaves the area (a long straight run): end the segment where the root leaves,
            # so nobody walks out of the capture area; the next segment turns from there
            leaves = _excess(seg[:, mid_hip, :2], *area) > 0.0
            out_frames = np.flatnonzero(leaves)
            n = max(fade + 2, int(out_frames[0])) if out_frames.size else n
            seg = seg[:n]
        start = 0 if first else max(0, filled - fade)
        stop = min(num_frames, start + n)
        k = stop - start
        _blend_into(out, seg[:k], start, 0 if first else min(fade, k, filled - start))
        segments.append(
            {"clip": info.pop("clip"), "start_frame": int(start), "frames": int(k), **info}
        )
        filled = stop
        if filled < num_frames:
            # the next segment starts at the beginning of the cross-fade window
            ref = out[max(0, filled - fade)]
            anchor = ref[mid_hip, :2].copy()
            heading = float(heading_of(ref))
    return out, {"scale": round(scale, 4), "segments": segments}
