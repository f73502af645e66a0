"""Joint sets (SPEC.md), their limbs and left/right pairs, and conversions between them.

The canonical joint set of tessetrack's outputs is ``panoptic19``. Conversions that approximate a
joint say so in :data:`CONVERSIONS`' docstring entries (e.g. the Shelf/Campus head top).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JointSet", "JOINT_SETS", "PANOPTIC19", "COCO17", "COCO18", "BODY25", "SHELF14", "H36M17", "get_joint_set"]


@dataclass(frozen=True)
class JointSet:
    """An ordered set of named joints.

    Attributes:
        name: registry key, e.g. ``"panoptic19"``.
        joints: joint names in array order.
        limbs: pairs of joint names drawn as bones.
    """

    name: str
    joints: tuple[str, ...]
    limbs: tuple[tuple[str, str], ...] = ()

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    @property
    def limb_indices(self) -> tuple[tuple[int, int], ...]:
        return tuple((self.index(a), self.index(b)) for a, b in self.limbs)

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        """Index pairs (left, right) of mirrored joints (``l_x`` ↔ ``r_x``)."""
        pairs = []
        for i, j in enumerate(self.joints):
            if j.startswith("l_") and ("r_" + j[2:]) in self.joints:
                pairs.append((i, self.index("r_" + j[2:])))
        return tuple(pairs)


PANOPTIC19 = JointSet(
    "panoptic19",
    (
        "neck", "nose", "mid_hip", "l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee", "l_ankle",
        "r_shoulder", "r_elbow", "r_wrist", "r_hip", "r_knee", "r_ankle", "l_eye", "l_ear", "r_eye", "r_ear",
    ),
    (
        ("neck", "nose"), ("neck", "mid_hip"), ("neck", "l_shoulder"), ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"), ("mid_hip", "l_hip"), ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
        ("neck", "r_shoulder"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"), ("mid_hip", "r_hip"),
        ("r_hip", "r_knee"), ("r_knee", "r_ankle"), ("nose", "l_eye"), ("l_eye", "l_ear"),
        ("nose", "r_eye"), ("r_eye", "r_ear"),
    ),
)

COCO17 = JointSet(
    "coco17",
    (
        "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
        "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    ),
    (
        ("l_ankle", "l_knee"), ("l_knee", "l_hip"), ("r_ankle", "r_knee"), ("r_knee", "r_hip"),
        ("l_hip", "r_hip"), ("l_shoulder", "l_hip"), ("r_shoulder", "r_hip"), ("l_shoulder", "r_shoulder"),
        ("l_shoulder", "l_elbow"), ("r_shoulder", "r_elbow"), ("l_elbow", "l_wrist"), ("r_elbow", "r_wrist"),
        ("l_eye", "r_eye"), ("nose", "l_eye"), ("nose", "r_eye"), ("l_eye", "l_ear"), ("r_eye", "r_ear"),
    ),
)

#: OpenPose's COCO-18 (the older OpenPose model, 18 joints with a neck).
COCO18 = JointSet(
    "coco18",
    (
        "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip",
        "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
    ),
    (
        ("neck", "nose"), ("neck", "r_shoulder"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"),
        ("neck", "l_shoulder"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"), ("neck", "r_hip"),
        ("r_hip", "r_knee"), ("r_knee", "r_ankle"), ("neck", "l_hip"), ("l_hip", "l_knee"),
        ("l_knee", "l_ankle"), ("nose", "r_eye"), ("r_eye", "r_ear"), ("nose", "l_eye"), ("l_eye", "l_ear"),
    ),
)

BODY25 = JointSet(
    "body25",
    (
        "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "mid_hip",
        "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
        "l_big_toe", "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel",
    ),
    (
        ("neck", "nose"), ("neck", "mid_hip"), ("neck", "r_shoulder"), ("r_shoulder", "r_elbow"),
        ("r_elbow", "r_wrist"), ("neck", "l_shoulder"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
        ("mid_hip", "r_hip"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"), ("mid_hip", "l_hip"),
        ("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("nose", "r_eye"), ("r_eye", "r_ear"),
        ("nose", "l_eye"), ("l_eye", "l_ear"), ("l_ankle", "l_big_toe"), ("l_big_toe", "l_small_toe"),
        ("l_ankle", "l_heel"), ("r_ankle", "r_big_toe"), ("r_big_toe", "r_small_toe"), ("r_ankle", "r_heel"),
    ),
)

SHELF14 = JointSet(
    "shelf14",
    (
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "r_shoulder",
        "l_shoulder", "l_elbow", "l_wrist", "bottom_head", "top_head",
    ),
    (
        ("r_ankle", "r_knee"), ("r_knee", "r_hip"), ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
        ("r_wrist", "r_elbow"), ("r_elbow", "r_shoulder"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
        ("bottom_head", "top_head"), ("r_hip", "l_hip"), ("r_shoulder", "l_shoulder"),
        ("bottom_head", "r_shoulder"), ("bottom_head", "l_shoulder"),
    ),
)

#: Human3.6M's 17-joint set in the order of the common preprocessed files (mmpose, VideoPose3D).
H36M17 = JointSet(
    "h36m17",
    (
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
        "neck_base", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    ),
    (
        ("pelvis", "r_hip"), ("r_hip", "r_knee"), ("r_knee", "r_ankle"), ("pelvis", "l_hip"),
        ("l_hip", "l_knee"), ("l_knee", "l_ankle"), ("pelvis", "spine"), ("spine", "thorax"),
        ("thorax", "neck_base"), ("neck_base", "head"), ("thorax", "l_shoulder"), ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"), ("thorax", "r_shoulder"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"),
    ),
)

JOINT_SETS: dict[str, JointSet] = {
    js.name: js for js in (PANOPTIC19, COCO17, COCO18, BODY25, SHELF14, H36M17)
}


def get_joint_set(name: str) -> JointSet:
    """Look a joint set up by name (``panoptic19``, ``coco17``, ``coco18``, ``body25``, ``shelf14``, ``h36m17``)."""
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {"panoptic": "panoptic19", "coco": "coco17", "shelf": "shelf14", "campus": "shelf14",
               "campus14": "shelf14", "h36m": "h36m17", "openpose": "body25"}
    key = aliases.get(key, key)
    if key not in JOINT_SETS:
        from tessetrack.errors import InputError

        raise InputError(f"unknown joint set {name!r}; known: {', '.join(JOINT_SETS)}")
    return JOINT_SETS[key]
