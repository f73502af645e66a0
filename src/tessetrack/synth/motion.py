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

Bodies and poses beyond the humanoid's (both off by default):

* **Proportions** (:attr:`MotionOptions.proportions` ``measured``): the humanoid is not an average
  person (broad shoulders, narrow hips, long thighs, a low head). Each person gets a factor per
  body segment group on the humanoid's offsets, drawn around real people's mean proportions with
  their spread (:data:`REAL_PROPORTIONS`, :func:`sample_proportions`), applied to a copy of the
  skeleton (:func:`proportioned_skeleton`) and to the face (:func:`proportioned_face`), so bones
  keep their lengths along time.
* **Pose variation** (:attr:`MotionOptions.pose_variation`): smooth random offsets on the joint
  rotations of shoulders, elbows, hips, knees, spine and neck, within human joint limits
  (:data:`JOINT_LIMITS_DEG`, :func:`vary_pose`): reaching, bending, crouching poses the clips do
  not have.

Either way the person is then moved up or down per frame to touch the floor as the humanoid does
(:func:`keep_ground_contact`): bent knees lower the body instead of sinking the feet.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tessetrack.anthropometry import REAL_PROPORTIONS
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
    "PROPORTIONS",
    "PROPORTION_GROUPS",
    "REAL_PROPORTIONS",
    "PROPORTION_CORRELATION",
    "BodyProportions",
    "body_measures",
    "mean_proportions",
    "sample_proportions",
    "proportioned_skeleton",
    "proportioned_face",
    "JOINT_LIMITS_DEG",
    "POSE_AMPLITUDE_DEG",
    "HINGE_AMPLITUDE_DEG",
    "POSE_PERIODS",
    "pose_offsets",
    "apply_pose_offsets",
    "vary_pose",
    "keep_ground_contact",
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
    face: str | Mapping[str, Sequence[float]] = "humanoid",
) -> np.ndarray:
    """Panoptic-19 joints from link frames (clip frame). (T, L, 3), (T, L, 3, 3) -> (T, 19, 3).

    ``face`` names the face offsets (:data:`FACE_MODELS`) or gives them (e.g. a person's own,
    :func:`proportioned_face`).
    """
    offsets = face_offsets(face) if isinstance(face, str) else face
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


# -- body proportions -------------------------------------------------------------------------------

#: Names of :attr:`MotionOptions.proportions`.
PROPORTIONS: tuple[str, ...] = ("humanoid", "measured")

#: Body segment groups that :func:`sample_proportions` varies, each a factor on the humanoid's
#: offsets: the two breadths (shoulder and hip joints apart), the four limb bones, ``spine`` (root
#: to neck joint, with the shoulders' height), ``neck`` (neck joint to the ears' centre) and
#: ``head`` (the face joints around the ears' centre, measured as the ears' breadth).
PROPORTION_GROUPS: tuple[str, ...] = (
    "shoulder_breadth",
    "hip_breadth",
    "upper_arm",
    "forearm",
    "thigh",
    "shank",
    "spine",
    "neck",
    "head",
)

#: Bones of one limb that vary together (correlation of their factors, size removed): a long
#: forearm comes more often with a long upper arm, a long shank with a long thigh.
PROPORTION_CORRELATION: dict[tuple[str, str], float] = {
    ("upper_arm", "forearm"): 0.5,
    ("thigh", "shank"): 0.5,
}

#: Groups with a left and a right side: the same factor on both, times ``1 ± a/2`` with the
#: asymmetry ``a`` (normal, SD 0.4 %, cut at :data:`_MAX_ASYMMETRY`).
_SIDED_GROUPS: tuple[str, ...] = PROPORTION_GROUPS[:6]
_ASYMMETRY_SD = 0.004
_MAX_ASYMMETRY = 0.01
#: Standard scores are cut here, so that no bone is drawn absurdly long or short.
_MAX_Z = 2.5
#: Metres from the humanoid's ankle joint to its sole (the URDF's foot box).
_SOLE_DEPTH = 0.05
#: The top of the head above the ears' centre, per metre of the ears' breadth (the humanoid's head
#: sphere: 0.0975 m over ears 0.15 m apart).
_CROWN_PER_EAR_BREADTH = 0.65


@dataclass(frozen=True)
class BodyProportions:
    """One person's factors on the humanoid's offsets (:data:`PROPORTION_GROUPS` order).

    Attributes:
        factors: (9,) per group, the mean of both sides.
        asymmetry: (6,) per sided group (:data:`PROPORTION_GROUPS`' first six), ``a``: the right
            side gets ``factor * (1 + a/2)``, the left ``factor * (1 - a/2)``.
    """

    factors: tuple[float, ...]
    asymmetry: tuple[float, ...]

    def factor(self, group: str, side: str | None = None) -> float:
        """The factor of ``group`` (``side``: ``"right"``, ``"left"`` or None for the mean)."""
        f = self.factors[PROPORTION_GROUPS.index(group)]
        if side is None or group not in _SIDED_GROUPS:
            return f
        a = self.asymmetry[_SIDED_GROUPS.index(group)]
        return f * (1.0 + (0.5 * a if side == "right" else -0.5 * a))

    def as_dict(self) -> dict[str, float]:
        """Rounded factors by group, and the asymmetries as ``"<group>_asymmetry"``."""
        out = {g: round(f, 4) for g, f in zip(PROPORTION_GROUPS, self.factors, strict=True)}
        out.update(
            {
                f"{g}_asymmetry": round(a, 4)
                for g, a in zip(_SIDED_GROUPS, self.asymmetry, strict=True)
            }
        )
        return out


def body_measures(
    skeleton: HumanoidSkeleton, face: str | Mapping[str, Sequence[float]] = "humanoid"
) -> dict[str, float]:
    """Lengths (metres) of the :data:`PROPORTION_GROUPS` and the stature of a skeleton standing in
    its rest pose (arms down); limb lengths are the mean of both sides.

    ``spine`` is the root's height below the neck joint, ``neck`` the ears' centre's distance from
    it, ``head`` the ears' breadth; ``stature`` is from the sole (:data:`_SOLE_DEPTH` under the
    ankles) to the crown (:data:`_CROWN_PER_EAR_BREADTH` × the ears' breadth over their centre).
    """
    rest = np.zeros((1, len(DEEPMIMIC_JOINTS), 4))
    rest[..., 0] = 1.0
    pos, rot = forward_kinematics(skeleton, np.zeros((1, 3)), rest[:, 0], rest)
    j = links_to_panoptic19(skeleton, pos, rot, face=face)[0]  # 19×3, clip frame

    def dist(a: str, b: str) -> float:
        return float(np.linalg.norm(j[PANOPTIC19.index(a)] - j[PANOPTIC19.index(b)]))

    def sides(a: str, b: str) -> float:
        return 0.5 * (dist(f"l_{a}", f"l_{b}") + dist(f"r_{a}", f"r_{b}"))

    ears = 0.5 * (j[PANOPTIC19.index("l_ear")] + j[PANOPTIC19.index("r_ear")])
    neck = j[PANOPTIC19.index("neck")]
    out = {
        "shoulder_breadth": dist("l_shoulder", "r_shoulder"),
        "hip_breadth": dist("l_hip", "r_hip"),
        "upper_arm": sides("shoulder", "elbow"),
        "forearm": sides("elbow", "wrist"),
        "thigh": sides("hip", "knee"),
        "shank": sides("knee", "ankle"),
        "spine": float(neck[1] - j[PANOPTIC19.index("mid_hip"), 1]),
        "neck": float(np.linalg.norm(ears - neck)),
        "head": dist("l_ear", "r_ear"),
    }
    sole = 0.5 * (j[PANOPTIC19.index("l_ankle"), 1] + j[PANOPTIC19.index("r_ankle"), 1])
    crown = ears[1] + _CROWN_PER_EAR_BREADTH * out["head"]
    out["stature"] = float(crown - (sole - _SOLE_DEPTH))
    return out


def mean_proportions(skeleton: HumanoidSkeleton, face: str = "humanoid") -> dict[str, float]:
    """Per group, the factor that gives the humanoid real people's mean proportions
    (:data:`REAL_PROPORTIONS` × the humanoid's stature / its own length). ``neck`` and ``head``
    are for the face model ``face``; the stature is always the ``humanoid`` face's."""
    stature = body_measures(skeleton)["stature"]
    own = body_measures(skeleton, face)
    return {g: REAL_PROPORTIONS[g][0] * stature / own[g] for g in PROPORTION_GROUPS}


def sample_proportions(
    rng: np.random.Generator, skeleton: HumanoidSkeleton, face: str = "humanoid"
) -> BodyProportions:
    """One person's proportions: per group ``mean × (1 + CV × z)`` (:func:`mean_proportions`,
    :data:`REAL_PROPORTIONS`), ``z`` standard normal, correlated within a limb
    (:data:`PROPORTION_CORRELATION`) and cut at ±:data:`_MAX_Z`; sided groups get a small
    left/right asymmetry. Draws 17 numbers from ``rng``."""
    mean = mean_proportions(skeleton, face)
    z = rng.standard_normal(len(PROPORTION_GROUPS))
    shared = rng.standard_normal(len(PROPORTION_CORRELATION))
    for k, (pair, rho) in enumerate(PROPORTION_CORRELATION.items()):
        for g in pair:
            i = PROPORTION_GROUPS.index(g)
            z[i] = np.sqrt(rho) * shared[k] + np.sqrt(1.0 - rho) * z[i]
    z = np.clip(z, -_MAX_Z, _MAX_Z)
    factors = [
        mean[g] * (1.0 + REAL_PROPORTIONS[g][1] * z[i]) for i, g in enumerate(PROPORTION_GROUPS)
    ]
    asym = np.clip(
        rng.normal(0.0, _ASYMMETRY_SD, len(_SIDED_GROUPS)), -_MAX_ASYMMETRY, _MAX_ASYMMETRY
    )
    return BodyProportions(tuple(float(f) for f in factors), tuple(float(a) for a in asym))


def proportioned_skeleton(
    skeleton: HumanoidSkeleton, body: BodyProportions, *, mirrored: bool = False
) -> HumanoidSkeleton:
    """A copy of the skeleton with the person's bone lengths (``skeleton`` is not modified).

    ``spine`` scales the chest and neck offsets and the shoulders' forward/up offsets, the
    breadths the shoulders' and hips' sideways offsets, the limb groups their bones. With
    ``mirrored``, each side takes the other side's factors: after :func:`mirror_joints` the
    person's left bones are then their left bones again.
    """
    offsets = skeleton.offsets.copy()  # L×3
    i = skeleton.index
    spine = body.factor("spine")
    offsets[i("chest")] *= spine
    offsets[i("neck")] *= spine
    for side in ("right", "left"):
        own = ("left" if side == "right" else "right") if mirrored else side
        offsets[i(f"{side}_shoulder"), :2] *= spine
        offsets[i(f"{side}_shoulder"), 2] *= body.factor("shoulder_breadth", own)
        offsets[i(f"{side}_hip"), 2] *= body.factor("hip_breadth", own)
        offsets[i(f"{side}_elbow")] *= body.factor("upper_arm", own)
        offsets[i(f"{side}_wrist")] *= body.factor("forearm", own)
        offsets[i(f"{side}_knee")] *= body.factor("thigh", own)
        offsets[i(f"{side}_ankle")] *= body.factor("shank", own)
    return replace(skeleton, offsets=offsets)


def proportioned_face(
    offsets: Mapping[str, Sequence[float]], body: BodyProportions
) -> dict[str, tuple[float, float, float]]:
    """Face offsets (neck link frame) of a person: the ears' centre ``c`` moved by the ``neck``
    factor, every face joint around it by the ``head`` factor: ``neck·c + head·(p − c)``."""
    p = {name: np.asarray(v, dtype=np.float64) for name, v in offsets.items()}
    c = 0.5 * (p["l_ear"] + p["r_ear"])
    neck, head = body.factor("neck"), body.factor("head")
    return {name: tuple(float(x) for x in neck * c + head * (v - c)) for name, v in p.items()}


# -- pose variation ---------------------------------------------------------------------------------

#: Human joint limits (degrees): average active ranges of motion of healthy adults. Hip, shoulder
#: and thoracolumbar spine after the American Academy of Orthopaedic Surgeons (Greene & Heckman
#: 1994, *The Clinical Measurement of Joint Motion*; the shoulder's adduction here is across the
#: front of the body, its horizontal adduction of 135°); the cervical spine after the AMA *Guides
#: to the Evaluation of Permanent Impairment*; knee and elbow flexion capped at 145° (Soucie et
#: al. 2011, *Haemophilia* 17: 500–507, measured 135–150° on healthy adults), and neither
#: straightens past 0°.
JOINT_LIMITS_DEG: dict[str, dict[str, float]] = {
    "hip": {"flexion": 120, "extension": 30, "abduction": 45, "adduction": 30, "rotation": 45},
    "knee": {"flexion": 145, "extension": 0},
    "shoulder": {
        "flexion": 180,
        "extension": 60,
        "abduction": 180,
        "adduction": 45,
        "rotation": 70,
    },
    "elbow": {"flexion": 145, "extension": 0},
    "spine": {"flexion": 80, "extension": 25, "lateral": 35, "rotation": 45},
    "neck": {"flexion": 50, "extension": 60, "lateral": 45, "rotation": 80},
}

#: Pose variation at ``pose_variation = 1``: per ball joint, the largest rotation (degrees) added
#: about its parent's x (forward: ab/adduction, bending sideways), y (up: twist) and z (right:
#: flexion/extension) axes; the twists stay inside :data:`JOINT_LIMITS_DEG`'s rotation ranges.
POSE_AMPLITUDE_DEG: dict[str, tuple[float, float, float]] = {
    "chest": (10.0, 15.0, 20.0),
    "neck": (15.0, 25.0, 20.0),
    "right_hip": (15.0, 15.0, 35.0),
    "left_hip": (15.0, 15.0, 35.0),
    "right_shoulder": (35.0, 30.0, 45.0),
    "left_shoulder": (35.0, 30.0, 45.0),
}
#: The largest flexion (degrees) added to (or taken from) each hinge at ``pose_variation = 1``.
HINGE_AMPLITUDE_DEG: dict[str, float] = {
    "right_knee": 40.0,
    "left_knee": 40.0,
    "right_elbow": 45.0,
    "left_elbow": 45.0,
}
#: Periods (seconds) of the sinusoids that make up each joint's offset over time.
POSE_PERIODS: tuple[float, float] = (0.7, 2.5)
#: Sinusoids summed per degree of freedom.
_POSE_WAVES = 3
#: Seconds over which the reduction of an offset at a joint limit is spread (see _limit_scale).
_LIMIT_SMOOTHING = 0.2
#: Metres a varied joint may go below the floor and below the unvaried pose's lowest joint.
_POSE_FLOOR_TOLERANCE = 0.02


def _joint_kind(name: str) -> str:
    """``right_hip`` -> ``hip``; ``chest`` -> ``spine``."""
    return "spine" if name == "chest" else name.removeprefix("right_").removeprefix("left_")


def _swing_limits(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ball joint's limits as half-spaces for its bone's direction ``d`` in the parent frame.

    Returns the bone's rest direction (3,), axes ``a`` (k, 3) and bounds ``b`` (k,) with
    ``d·a ≤ b``: "the bone leans at most L° beyond the plane normal to ``a``", ``b = sin L``.
    Free of the singularities of Euler angles. The twist is bounded by its amplitude only.
    """
    lim = {k: np.radians(v) for k, v in JOINT_LIMITS_DEG[_joint_kind(name)].items()}
    lat = np.array([0.0, 0.0, -1.0 if name.startswith("left_") else 1.0])  # away from the midline
    fwd, up = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    if name in ("chest", "neck"):  # the bone points up; bending forward tilts it to +x
        rows = [(fwd, lim["flexion"]), (-fwd, lim["extension"])]
        rows += [(lat, lim["lateral"]), (-lat, lim["lateral"])]
        rest = up
    elif _joint_kind(name) == "hip":  # flexion past 90° lifts the thigh above the horizontal
        rows = [(-fwd, lim["extension"]), (up, lim["flexion"] - np.pi / 2)]
        rows += [(lat, lim["abduction"]), (-lat, lim["adduction"])]
        rest = -up
    else:  # shoulder: flexion and abduction reach 180°; extension and adduction are limited
        rows = [(-fwd, lim["extension"]), (-lat, lim["adduction"])]
        rest = -up
    axes = np.stack([a for a, _ in rows])
    return rest, axes, np.sin([angle for _, angle in rows])


def _rotvec_quat(r: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors (axis × angle, rad) -> (..., 4) quaternions w x y z."""
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    half_sinc = 0.5 * np.sinc(angle / (2 * np.pi))  # sin(angle/2) / angle, 1/2 at 0
    return np.concatenate([np.cos(angle / 2), r * half_sinc], axis=-1)


def _running_min_mean(x: np.ndarray, w: int) -> np.ndarray:
    """(T,) -> (T,): the minimum over ±w frames, then the mean of that over ±w frames. The result
    never exceeds ``x`` at any frame (each mean term is a minimum over a window holding it)."""
    if w < 1:
        return x
    pad = np.pad(x, w, mode="edge")
    low = np.lib.stride_tricks.sliding_window_view(pad, 2 * w + 1).min(axis=-1)  # T
    return np.lib.stride_tricks.sliding_window_view(np.pad(low, w, mode="edge"), 2 * w + 1).mean(-1)


def _limit_scale(q: np.ndarray, r: np.ndarray, name: str, w: int) -> np.ndarray:
    """(T,) factors λ ∈ [0, 1] such that the offset ``λ·r`` keeps the joint within its limits.

    Args:
        q: (T, 4) the joint's rotation; r: (T, 3) the offset (rotation vector, parent frame).
        name: the joint (:data:`DEEPMIMIC_JOINTS`); w: frames over which a reduction is spread.

    A limit that the motion itself passes is relaxed to the motion's own value there. λ comes from
    :func:`_smoothed_scale`, so that limits bend the offset in time rather than cut it.
    """
    rest, axes, bound = _swing_limits(name)
    own = (_quat_to_matrix(q) @ rest) @ axes.T  # T×k
    bound = np.maximum(bound, own) + 1e-9

    def inside(lam: np.ndarray) -> np.ndarray:
        varied = _quat_mul(_rotvec_quat(r * lam[:, None]), q)  # T×4
        return np.all((_quat_to_matrix(varied) @ rest) @ axes.T <= bound, axis=-1)  # T

    return _smoothed_scale(inside, len(q), w, steps=12)


def _bisect(ok: Callable[[np.ndarray], np.ndarray], hi: np.ndarray, steps: int) -> np.ndarray:
    """(T,) per frame a λ in [0, hi] with ``ok(λ)`` true (``ok(0)`` must be), by bisection
    towards where ``ok`` stops holding."""
    lo = np.zeros_like(hi)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        good = ok(mid)
        lo, hi = np.where(good, mid, lo), np.where(good, hi, mid)
    return lo


def _smoothed_scale(
    ok: Callable[[np.ndarray], np.ndarray], num_frames: int, w: int, steps: int
) -> np.ndarray:
    """(T,) factors λ ∈ [0, 1] on an offset with ``ok(λ)`` (T,) true at every frame: 1 where the
    full offset is fine, else found by :func:`_bisect`, smoothed by :func:`_running_min_mean`;
    the rare frames where the smoothed value is not fine (a path that leaves the allowed region
    and comes back) get a bisection below it."""
    ones = np.ones(num_frames)
    full = ok(ones)
    if full.all():
        return ones
    lam = _running_min_mean(np.where(full, 1.0, _bisect(ok, ones, steps)), w)
    bad = ~ok(lam)
    return np.where(bad, _bisect(ok, lam, steps), lam) if bad.any() else lam


def _smooth_waves(rng: np.random.Generator, num_frames: int, fps: float, dims: int) -> np.ndarray:
    """(T, dims) smooth random signals in [-1, 1]: per column a sum of :data:`_POSE_WAVES`
    sinusoids with periods log-uniform in :data:`POSE_PERIODS`, random phases and weights
    proportional to the period (slow swings are larger than quick ones), adding up to 1."""
    t = np.arange(num_frames) / fps  # T
    lo, hi = np.log(POSE_PERIODS)
    periods = np.exp(rng.uniform(lo, hi, (_POSE_WAVES, dims)))  # K×D
    phases = rng.uniform(0.0, 2 * np.pi, (_POSE_WAVES, dims))  # K×D
    weights = periods / periods.sum(axis=0)  # K×D
    waves = np.sin(2 * np.pi * t[:, None, None] / periods + phases)  # T×K×D
    return np.einsum("kd,tkd->td", weights, waves)


def _vary_hinge(q: np.ndarray, delta: np.ndarray, name: str) -> np.ndarray:
    """(T, 4) rotations of a knee or elbow with ``delta`` (T,) rad of flexion added, clipped to
    [0, limit] (or to the motion's own angle where it already lies outside).

    Both are revolute about their link's z axis (the URDF's ``<axis xyz="0 0 1">``, limits
    −3.14…0 for knees, 0…3.14 for elbows): knees flex to negative angles, elbows to positive."""
    sign = -1.0 if _joint_kind(name) == "knee" else 1.0  # knees flex to negative angles
    angle = 2 * np.arctan2(q[:, 3], q[:, 0])
    flex = sign * np.arctan2(np.sin(angle), np.cos(angle))  # T, wrapped to (-pi, pi]
    limit = np.radians(JOINT_LIMITS_DEG[_joint_kind(name)]["flexion"])
    varied = sign * np.clip(flex + delta, np.minimum(flex, 0.0), np.maximum(flex, limit))
    zeros = np.zeros_like(varied)
    return np.stack([np.cos(varied / 2), zeros, zeros, np.sin(varied / 2)], axis=-1)


def pose_offsets(
    rng: np.random.Generator, num_frames: int, fps: float, amount: float
) -> np.ndarray:
    """(T, 22) smooth random joint offsets (rad): per ball joint of :data:`POSE_AMPLITUDE_DEG` a
    rotation vector about its parent's x, y, z, then per hinge of :data:`HINGE_AMPLITUDE_DEG` a
    flexion; ``amount`` × amplitude × :func:`_smooth_waves`. Draws 2 × 3 × 22 numbers, whatever T.
    """
    amp = np.radians([a for n in POSE_AMPLITUDE_DEG for a in POSE_AMPLITUDE_DEG[n]])  # 18
    amp = np.concatenate([amp, np.radians(list(HINGE_AMPLITUDE_DEG.values()))])  # 22
    return _smooth_waves(rng, num_frames, fps, amp.size) * (amount * amp)  # T×22


def apply_pose_offsets(local_rot: np.ndarray, offsets: np.ndarray, fps: float) -> np.ndarray:
    """Joint rotations (T, 12, 4) with :func:`pose_offsets` (T, 22) added within human joint limits.

    A ball joint's rotation is turned about its parent's axes by its offset, reduced where it would
    take the bone past :data:`JOINT_LIMITS_DEG` (:func:`_limit_scale`); a hinge's flexion about z
    is clipped to 0–145° (:func:`_vary_hinge`). Root and ankles are unchanged. Returns a new array.
    """
    names = [n for n, _ in DEEPMIMIC_JOINTS]
    w = int(round(_LIMIT_SMOOTHING * fps))
    out = local_rot.copy()
    for i, name in enumerate(POSE_AMPLITUDE_DEG):
        j = names.index(name)
        r = offsets[:, 3 * i : 3 * i + 3]  # T×3, about x, y, z
        r = r * _limit_scale(local_rot[:, j], r, name, w)[:, None]
        out[:, j] = _quat_mul(_rotvec_quat(r), local_rot[:, j])
    for k, name in enumerate(HINGE_AMPLITUDE_DEG):
        j = names.index(name)
        out[:, j] = _vary_hinge(local_rot[:, j], offsets[:, 3 * len(POSE_AMPLITUDE_DEG) + k], name)
    return out


def vary_pose(
    local_rot: np.ndarray, rng: np.random.Generator, amount: float, fps: float
) -> np.ndarray:
    """Joint rotations (T, 12, 4) with smooth random offsets within human joint limits:
    :func:`apply_pose_offsets` of :func:`pose_offsets` (``amount`` 1: the amplitudes as listed)."""
    return apply_pose_offsets(local_rot, pose_offsets(rng, local_rot.shape[0], fps, amount), fps)


def _vary_above_floor(
    skeleton: HumanoidSkeleton,
    face: Mapping[str, Sequence[float]],
    sampled: tuple[np.ndarray, np.ndarray, np.ndarray],
    offsets: np.ndarray,
    fps: float,
) -> np.ndarray:
    """Joint rotations (T, 12, 4) with the offsets (T, 22) added, scaled down per frame where they
    would take a joint more than :data:`_POSE_FLOOR_TOLERANCE` below both the floor and the unvaried
    pose's lowest joint (a leg stretched into the floor while crawling, the head pressed into it
    while lying); the scale is smoothed like the joint limits' (:func:`_running_min_mean`).

    ``sampled``: root_pos (T, 3), root_rot (T, 4), local_rot (T, 12, 4) on ``skeleton``."""
    root_pos, root_rot, local_rot = sampled

    def lowest(scale: np.ndarray) -> np.ndarray:
        rot = apply_pose_offsets(local_rot, offsets * scale[:, None], fps)
        pos, link_rot = forward_kinematics(skeleton, root_pos, root_rot, rot)
        return links_to_panoptic19(skeleton, pos, link_rot, face=face)[..., 1].min(axis=-1)

    T = local_rot.shape[0]
    floor = np.minimum(lowest(np.zeros(T)), 0.0) - _POSE_FLOOR_TOLERANCE  # T
    w = int(round(_LIMIT_SMOOTHING * fps))
    scale = _smoothed_scale(lambda lam: lowest(lam) >= floor, T, w, steps=6)
    return apply_pose_offsets(local_rot, offsets * scale[:, None], fps)


def keep_ground_contact(varied: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Shift a varied pose vertically, per frame, so that it touches the floor as the unvaried one.

    The lowest joint keeps the unvaried lowest joint's height (standing: the lower ankle, so that
    bent knees lower the body; on hands and knees or lying: whatever is lowest), and no ankle goes
    lower than both the floor and the unvaried lower ankle.

    Args:
        varied, reference: (T, 19, 3) clip-frame joints (y up, floor at 0), varied and unvaried.

    Returns:
        (T, 19, 3) a new array.
    """
    feet = [PANOPTIC19.index("l_ankle"), PANOPTIC19.index("r_ankle")]
    shift = reference[..., 1].min(axis=-1) - varied[..., 1].min(axis=-1)  # T
    floor = np.minimum(reference[:, feet, 1].min(axis=-1), 0.0)  # T
    shift += np.clip(floor - (varied[:, feet, 1].min(axis=-1) + shift), 0.0, None)
    out = varied.copy()
    out[..., 1] += shift[:, None]
    return out


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
        proportions: ``humanoid`` (default: everyone has the humanoid's limb ratios, only the
            uniform ``scale_range``) or ``measured``: each person gets their own bone lengths
            around real people's mean proportions (:func:`sample_proportions`,
            :data:`REAL_PROPORTIONS`), the overall size still from ``scale_range``.
        pose_variation: amplitude of the smooth joint-angle offsets added to shoulders, elbows,
            hips, knees, spine and neck within human joint limits (:func:`vary_pose`); 1 means
            up to about ±45° at the shoulders, ±35° at the hips, ±20° at spine and neck, ±40–45°
            of knee and elbow flexion (kept within 0–145°); at most 2. 0 (default) varies nothing.

    With the defaults nothing is drawn for ``proportions`` and ``pose_variation``, so older scenes
    are reproduced exactly; when on, each draws from a generator of its own, seeded once per
    person.
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
    proportions: str = "humanoid"
    pose_variation: float = 0.0


@dataclass(frozen=True, eq=False)
class _Body:
    """What makes one person's body and poses differ from the humanoid's (see
    :func:`_person_body`).

    Attributes:
        skeletons: the person's skeleton for unmirrored and for mirrored segments.
        face: the person's face offsets (neck link frame).
        pose_rng: draws of the pose variation (None: no variation).
        pose_variation: its amplitude.
    """

    skeletons: tuple[HumanoidSkeleton, HumanoidSkeleton]
    face: Mapping[str, Sequence[float]]
    pose_rng: np.random.Generator | None
    pose_variation: float


def _person_body(
    skeleton: HumanoidSkeleton, rng: np.random.Generator, options: MotionOptions
) -> tuple[_Body | None, dict]:
    """A person's body (None when it is the humanoid's, drawing nothing) and what to record.

    Proportions and pose variation each seed a generator of their own from ``rng`` (one draw each,
    only when on)."""
    if options.proportions == "humanoid" and options.pose_variation == 0:
        return None, {}
    skeletons, face, info = (skeleton, skeleton), face_offsets(options.face), {}
    if options.proportions == "measured":
        body = sample_proportions(
            np.random.default_rng(int(rng.integers(2**63))), skeleton, options.face
        )
        skeletons = (
            proportioned_skeleton(skeleton, body),
            proportioned_skeleton(skeleton, body, mirrored=True),
        )
        face = proportioned_face(face, body)
        info["proportions"] = body.as_dict()
    pose_rng = None
    if options.pose_variation > 0:
        pose_rng = np.random.default_rng(int(rng.integers(2**63)))
    return _Body(skeletons, face, pose_rng, float(options.pose_variation)), info


def _vary_segment(
    body: _Body,
    joints: np.ndarray,
    sampled: tuple[np.ndarray, np.ndarray, np.ndarray],
    mirrored: bool,
    fps: float,
) -> np.ndarray:
    """A segment's clip-frame joints (n, 19, 3) on the person's body, joint angles varied, kept on
    the floor like the humanoid's ``joints`` (:func:`keep_ground_contact`).

    ``sampled``: the segment's root_pos (n, 3), root_rot (n, 4), local_rot (n, 12, 4)."""
    root_pos, root_rot, local_rot = sampled
    skeleton = body.skeletons[int(mirrored)]
    if body.pose_rng is not None:
        offsets = pose_offsets(body.pose_rng, local_rot.shape[0], fps, body.pose_variation)
        local_rot = _vary_above_floor(skeleton, body.face, sampled, offsets, fps)
    pos, rot = forward_kinematics(skeleton, root_pos, root_rot, local_rot)
    varied = links_to_panoptic19(skeleton, pos, rot, face=body.face)
    return keep_ground_contact(varied, joints)


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
    body: _Body | None = None,
) -> tuple[np.ndarray, dict]:
    """One random segment of a clip as (n, 19, 3) floor-frame joints starting at the origin and
    facing +x (time-warped, scaled, maybe mirrored, limbs maybe mixed, on the person's ``body``
    with joint angles varied), and what was drawn."""
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
    joints = links_to_panoptic19(skeleton, pos, rot, face=options.face)  # n×19×3
    if body is not None:
        joints = _vary_segment(body, joints, (rp, rr, lr), mirrored, fps)
    seg = clip_to_floor(joints) * scale
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


def _cut_at_area_edge(
    seg: np.ndarray, area: tuple[np.ndarray, np.ndarray], fade: int
) -> np.ndarray:
    """A placed (n, 19, 3) segment whose root still leaves the area (a long straight run) ends where
    it leaves (at least ``fade + 2`` frames), so nobody walks out of the capture area; the next
    segment turns from there."""
    root = seg[:, PANOPTIC19.index("mid_hip"), :2]
    if _outside(root, *area) == 0.0:
        return seg
    out_frames = np.flatnonzero(_excess(root, *area) > 0.0)
    return seg[: max(fade + 2, int(out_frames[0]))] if out_frames.size else seg


def _blend_into(out: np.ndarray, seg: np.ndarray, start: int, overlap: int) -> None:
    """Write the (k, 19, 3) segment ``seg`` into ``out`` from frame ``start``, cross-fading its
    first ``overlap`` frames with what ``out`` holds there (smoothstep weights)."""
    if overlap > 0:
        s = (np.arange(overlap) + 1) / (overlap + 1)
        w = (s * s * (3 - 2 * s))[:, None, None]  # smoothstep, overlap×1×1
        out[start : start + overlap] = (1 - w) * out[start : start + overlap] + w * seg[:overlap]
    out[start + overlap : start + len(seg)] = seg[overlap:]


def _check_options(options: MotionOptions) -> None:
    """InputError for settings out of range, before any work."""
    if not 0.0 <= options.limb_mix_prob <= 1.0:
        raise InputError(f"limb_mix_prob must be in [0, 1], got {options.limb_mix_prob}")
    face_offsets(options.face)  # an unknown name fails before any work
    if options.proportions not in PROPORTIONS:
        raise InputError(
            f"unknown proportions {options.proportions!r}; choose one of {', '.join(PROPORTIONS)}"
        )
    if not 0.0 <= options.pose_variation <= 2.0:
        raise InputError(f"pose_variation must be in [0, 2], got {options.pose_variation}")


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
    Measured proportions and pose variation (:class:`MotionOptions`) likewise draw from generators
    of their own, seeded after it.

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
        time, speed, mirrored; with measured proportions, ``"proportions"``: the factors of
        :class:`BodyProportions`).
    """
    if not clips:
        raise InputError("no motion clips to draw from")
    _check_options(options)
    scale = float(rng.uniform(*options.scale_range))
    mix_rng = None
    if options.limb_mix_prob > 0:
        mix_rng = np.random.default_rng(int(rng.integers(2**63)))
    body, body_info = _person_body(skeleton, rng, options)
    fade = max(1, int(round(options.crossfade_seconds * fps)))
    out = np.zeros((num_frames, PANOPTIC19.num_joints, 3))
    segments: list[dict] = []
    filled = 0  # frames of ``out`` that are final up to the cross-fade window
    heading = float(rng.uniform(-np.pi, np.pi))
    anchor = np.asarray(start_xy, dtype=np.float64)
    mid_hip = PANOPTIC19.index("mid_hip")
    while filled < num_frames:
        seg, info = _draw_segment(clips, skeleton, fps, fade, scale, rng, mix_rng, options, body)
        first = not segments
        area = (area_center, area_half_size)
        seg = _place_segment(seg, anchor, None if first else heading, area, rng, options)
        seg = _cut_at_area_edge(seg, area, fade)
        n = len(seg)
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
    return out, {"scale": round(scale, 4), **body_info, "segments": segments}
