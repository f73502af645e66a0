"""Joint sets (SPEC.md), their limbs and left/right pairs, and conversions between them.

The canonical joint set of tessetrack's outputs is ``panoptic19``. Conversions
(:func:`convert_joints`, :func:`conversion_matrix`) copy joints whose names match and build the
others from documented recipes (:data:`JOINT_RECIPES`, e.g. the Shelf/Campus head); a joint that
cannot be formed is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from tessetrack.errors import InputError

__all__ = [
    "convert_people",
    "JointSet",
    "JOINT_SETS",
    "PANOPTIC19",
    "COCO17",
    "COCO18",
    "BODY25",
    "SHELF14",
    "H36M17",
    "BLAZEPOSE33",
    "get_joint_set",
    "JOINT_RECIPES",
    "conversion_matrix",
    "convert_joints",
]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


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
        "neck",
        "nose",
        "mid_hip",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "r_hip",
        "r_knee",
        "r_ankle",
        "l_eye",
        "l_ear",
        "r_eye",
        "r_ear",
    ),
    (
        ("neck", "nose"),
        ("neck", "mid_hip"),
        ("neck", "l_shoulder"),
        ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"),
        ("mid_hip", "l_hip"),
        ("l_hip", "l_knee"),
        ("l_knee", "l_ankle"),
        ("neck", "r_shoulder"),
        ("r_shoulder", "r_elbow"),
        ("r_elbow", "r_wrist"),
        ("mid_hip", "r_hip"),
        ("r_hip", "r_knee"),
        ("r_knee", "r_ankle"),
        ("nose", "l_eye"),
        ("l_eye", "l_ear"),
        ("nose", "r_eye"),
        ("r_eye", "r_ear"),
    ),
)

COCO17 = JointSet(
    "coco17",
    (
        "nose",
        "l_eye",
        "r_eye",
        "l_ear",
        "r_ear",
        "l_shoulder",
        "r_shoulder",
        "l_elbow",
        "r_elbow",
        "l_wrist",
        "r_wrist",
        "l_hip",
        "r_hip",
        "l_knee",
        "r_knee",
        "l_ankle",
        "r_ankle",
    ),
    (
        ("l_ankle", "l_knee"),
        ("l_knee", "l_hip"),
        ("r_ankle", "r_knee"),
        ("r_knee", "r_hip"),
        ("l_hip", "r_hip"),
        ("l_shoulder", "l_hip"),
        ("r_shoulder", "r_hip"),
        ("l_shoulder", "r_shoulder"),
        ("l_shoulder", "l_elbow"),
        ("r_shoulder", "r_elbow"),
        ("l_elbow", "l_wrist"),
        ("r_elbow", "r_wrist"),
        ("l_eye", "r_eye"),
        ("nose", "l_eye"),
        ("nose", "r_eye"),
        ("l_eye", "l_ear"),
        ("r_eye", "r_ear"),
    ),
)

#: OpenPose's COCO-18 (the older OpenPose model, 18 joints with a neck).
COCO18 = JointSet(
    "coco18",
    (
        "nose",
        "neck",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "r_hip",
        "r_knee",
        "r_ankle",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_eye",
        "l_eye",
        "r_ear",
        "l_ear",
    ),
    (
        ("neck", "nose"),
        ("neck", "r_shoulder"),
        ("r_shoulder", "r_elbow"),
        ("r_elbow", "r_wrist"),
        ("neck", "l_shoulder"),
        ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"),
        ("neck", "r_hip"),
        ("r_hip", "r_knee"),
        ("r_knee", "r_ankle"),
        ("neck", "l_hip"),
        ("l_hip", "l_knee"),
        ("l_knee", "l_ankle"),
        ("nose", "r_eye"),
        ("r_eye", "r_ear"),
        ("nose", "l_eye"),
        ("l_eye", "l_ear"),
    ),
)

BODY25 = JointSet(
    "body25",
    (
        "nose",
        "neck",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "mid_hip",
        "r_hip",
        "r_knee",
        "r_ankle",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_eye",
        "l_eye",
        "r_ear",
        "l_ear",
        "l_big_toe",
        "l_small_toe",
        "l_heel",
        "r_big_toe",
        "r_small_toe",
        "r_heel",
    ),
    (
        ("neck", "nose"),
        ("neck", "mid_hip"),
        ("neck", "r_shoulder"),
        ("r_shoulder", "r_elbow"),
        ("r_elbow", "r_wrist"),
        ("neck", "l_shoulder"),
        ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"),
        ("mid_hip", "r_hip"),
        ("r_hip", "r_knee"),
        ("r_knee", "r_ankle"),
        ("mid_hip", "l_hip"),
        ("l_hip", "l_knee"),
        ("l_knee", "l_ankle"),
        ("nose", "r_eye"),
        ("r_eye", "r_ear"),
        ("nose", "l_eye"),
        ("l_eye", "l_ear"),
        ("l_ankle", "l_big_toe"),
        ("l_big_toe", "l_small_toe"),
        ("l_ankle", "l_heel"),
        ("r_ankle", "r_big_toe"),
        ("r_big_toe", "r_small_toe"),
        ("r_ankle", "r_heel"),
    ),
)

SHELF14 = JointSet(
    "shelf14",
    (
        "r_ankle",
        "r_knee",
        "r_hip",
        "l_hip",
        "l_knee",
        "l_ankle",
        "r_wrist",
        "r_elbow",
        "r_shoulder",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "bottom_head",
        "top_head",
    ),
    (
        ("r_ankle", "r_knee"),
        ("r_knee", "r_hip"),
        ("l_hip", "l_knee"),
        ("l_knee", "l_ankle"),
        ("r_wrist", "r_elbow"),
        ("r_elbow", "r_shoulder"),
        ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"),
        ("bottom_head", "top_head"),
        ("r_hip", "l_hip"),
        ("r_shoulder", "l_shoulder"),
        ("bottom_head", "r_shoulder"),
        ("bottom_head", "l_shoulder"),
    ),
)

#: Human3.6M's 17-joint set in the order of the common preprocessed files (mmpose, VideoPose3D).
H36M17 = JointSet(
    "h36m17",
    (
        "pelvis",
        "r_hip",
        "r_knee",
        "r_ankle",
        "l_hip",
        "l_knee",
        "l_ankle",
        "spine",
        "thorax",
        "neck_base",
        "head",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
        "r_shoulder",
        "r_elbow",
        "r_wrist",
    ),
    (
        ("pelvis", "r_hip"),
        ("r_hip", "r_knee"),
        ("r_knee", "r_ankle"),
        ("pelvis", "l_hip"),
        ("l_hip", "l_knee"),
        ("l_knee", "l_ankle"),
        ("pelvis", "spine"),
        ("spine", "thorax"),
        ("thorax", "neck_base"),
        ("neck_base", "head"),
        ("thorax", "l_shoulder"),
        ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"),
        ("thorax", "r_shoulder"),
        ("r_shoulder", "r_elbow"),
        ("r_elbow", "r_wrist"),
    ),
)

#: MediaPipe BlazePose's 33 landmarks, in its order (the built-in 2D detector,
#: :mod:`tessetrack.detector`). ``l_``/``r_`` are the person's own left and right.
BLAZEPOSE33 = JointSet(
    "blazepose33",
    (
        "nose",
        "l_eye_inner",
        "l_eye",
        "l_eye_outer",
        "r_eye_inner",
        "r_eye",
        "r_eye_outer",
        "l_ear",
        "r_ear",
        "l_mouth",
        "r_mouth",
        "l_shoulder",
        "r_shoulder",
        "l_elbow",
        "r_elbow",
        "l_wrist",
        "r_wrist",
        "l_pinky",
        "r_pinky",
        "l_index",
        "r_index",
        "l_thumb",
        "r_thumb",
        "l_hip",
        "r_hip",
        "l_knee",
        "r_knee",
        "l_ankle",
        "r_ankle",
        "l_heel",
        "r_heel",
        "l_foot_index",
        "r_foot_index",
    ),
    (
        ("l_shoulder", "r_shoulder"),
        ("l_shoulder", "l_elbow"),
        ("l_elbow", "l_wrist"),
        ("r_shoulder", "r_elbow"),
        ("r_elbow", "r_wrist"),
        ("l_shoulder", "l_hip"),
        ("r_shoulder", "r_hip"),
        ("l_hip", "r_hip"),
        ("l_hip", "l_knee"),
        ("l_knee", "l_ankle"),
        ("r_hip", "r_knee"),
        ("r_knee", "r_ankle"),
        ("l_ankle", "l_heel"),
        ("l_heel", "l_foot_index"),
        ("r_ankle", "r_heel"),
        ("r_heel", "r_foot_index"),
        ("nose", "l_eye"),
        ("l_eye", "l_ear"),
        ("nose", "r_eye"),
        ("r_eye", "r_ear"),
    ),
)

JOINT_SETS: dict[str, JointSet] = {
    js.name: js for js in (PANOPTIC19, COCO17, COCO18, BODY25, SHELF14, H36M17, BLAZEPOSE33)
}


def get_joint_set(name: str) -> JointSet:
    """Look a joint set up by name (``panoptic19``, ``coco17``, ``coco18``, ``body25``, ``shelf14``, ``h36m17``, ``blazepose33``)."""
    key = name.lower().replace("-", "").replace("_", "")
    aliases = {
        "panoptic": "panoptic19",
        "coco": "coco17",
        "shelf": "shelf14",
        "campus": "shelf14",
        "campus14": "shelf14",
        "h36m": "h36m17",
        "openpose": "body25",
        "blazepose": "blazepose33",
        "mediapipe": "blazepose33",
    }
    key = aliases.get(key, key)
    if key not in JOINT_SETS:
        raise InputError(f"unknown joint set {name!r}; known: {', '.join(JOINT_SETS)}")
    return JOINT_SETS[key]


# -- conversions between joint sets ---------------------------------------------------------------
#
# Every joint of a target set is a linear combination of source joints, chosen by name:
#   1. a joint with the same name is copied (weight 1);
#   2. otherwise the first recipe of ``JOINT_RECIPES[name]`` whose joints all exist in the source
#      set is used; recipes are documented approximations;
#   3. otherwise the joint cannot be formed and comes out as NaN (never silently wrong).

_MID_SHOULDER = (("l_shoulder", 0.5), ("r_shoulder", 0.5))
_MID_HIP = (("l_hip", 0.5), ("r_hip", 0.5))

#: Recipes for joints that a source set lacks, in order of preference: ``name -> alternatives``,
#: each alternative a tuple of ``(source joint, weight)`` pairs whose weights sum to 1.
#:
#: * ``neck`` (Panoptic/OpenPose, base of the neck): Human3.6M's ``thorax`` (same landmark on a
#:   different marker model, a few cm apart), else the mid-shoulder point.
#: * ``mid_hip``/``pelvis``: the mean of the hips (exact in Human3.6M: its pelvis is the hips' mean
#:   to 1e-6 m), else each other.
#: * ``thorax``: the Panoptic/OpenPose ``neck``, else the mid-shoulder point (Human3.6M's own thorax
#:   lies 4–8 cm from the mid-shoulder point on the real sample).
#: * ``bottom_head``/``top_head`` (Shelf/Campus): VoxelPose's evaluation head model, written from
#:   the mid-shoulder point ``S``, the nose ``N`` and the ears' centre ``E``. VoxelPose blends a
#:   nose-based guess (weight 0.75) with an ear-based guess (weight 0.25):
#:   bottom = 0.75·(S + 0.5·(N − S)) + 0.25·(S + E)/2 = 0.5·S + 0.375·N + 0.125·E  (used as is);
#:   its nose-based head top scales (N − S) by per-axis factors (0.75, 0.75, 1.5), which assumes
#:   z-up world coordinates and is not a per-joint linear combination, so we keep its ear-based
#:   head top only: top = S' + 2·(E − S') with S' = (S + E)/2, i.e. 1.5·E − 0.5·S.
#:   From Human3.6M, ``neck_base``/``head`` are the fallbacks.
#: * Joints with no recipe (e.g. ``nose``, the eyes and ears from Shelf or Human3.6M, Human3.6M's
#:   ``spine``/``neck_base``/``head`` from Panoptic, the OpenPose feet) are NaN.
JOINT_RECIPES: dict[str, tuple[tuple[tuple[str, float], ...], ...]] = {
    "neck": ((("thorax", 1.0),), _MID_SHOULDER),
    "mid_hip": (_MID_HIP, (("pelvis", 1.0),)),
    "pelvis": (_MID_HIP, (("mid_hip", 1.0),)),
    "thorax": ((("neck", 1.0),), _MID_SHOULDER),
    "bottom_head": (
        (
            ("l_shoulder", 0.25),
            ("r_shoulder", 0.25),
            ("nose", 0.375),
            ("l_ear", 0.0625),
            ("r_ear", 0.0625),
        ),
        (("neck_base", 1.0),),
    ),
    "top_head": (
        (("l_shoulder", -0.25), ("r_shoulder", -0.25), ("l_ear", 0.75), ("r_ear", 0.75)),
        (("head", 1.0),),
    ),
    # BlazePose's foot tip is the big toe's tip region; it has no small toe (those stay NaN)
    "l_big_toe": ((("l_foot_index", 1.0),),),
    "r_big_toe": ((("r_foot_index", 1.0),),),
}


def conversion_matrix(src: str, dst: str) -> np.ndarray:
    """Linear weights turning ``src`` joints into ``dst`` joints.

    Args:
        src, dst: joint set names (see :func:`get_joint_set`).

    Returns:
        (J_dst, J_src) float64 matrix ``W`` with ``joints_dst = W @ joints_src``; a row of NaN marks
        a target joint that cannot be formed from ``src`` (see :data:`JOINT_RECIPES`).

    Raises:
        InputError: for an unknown joint set name.
    """
    src_set, dst_set = get_joint_set(src), get_joint_set(dst)
    W = np.zeros((dst_set.num_joints, src_set.num_joints))
    for i, name in enumerate(dst_set.joints):
        if name in src_set.joints:
            W[i, src_set.index(name)] = 1.0
            continue
        for recipe in JOINT_RECIPES.get(name, ()):
            if all(j in src_set.joints for j, _ in recipe):
                for j, w in recipe:
                    W[i, src_set.index(j)] += w
                break
        else:
            W[i] = np.nan
    return W


def convert_joints(joints: ArrayT, src: str, dst: str) -> ArrayT:
    """Convert joints (3D points, 2D pixels, or any per-joint vectors) between joint sets.

    Every channel is combined with the same weights (:func:`conversion_matrix`). A target joint is
    NaN when it cannot be formed from ``src`` or when a source joint it uses (non-zero weight) is
    NaN; unused NaN source joints do not spread.

    Args:
        joints: (..., J_src, D) numpy array or torch tensor.
        src, dst: joint set names.

    Returns:
        (..., J_dst, D) of the same array type, dtype and device (floating point).

    Raises:
        InputError: for an unknown joint set or a joint axis that does not match ``src``.
    """
    W_np = conversion_matrix(src, dst)  # J_dst×J_src
    shape = tuple(joints.shape)
    if len(shape) < 2 or shape[-2] != W_np.shape[1]:
        raise InputError(
            f"convert_joints: expected joints of shape (..., {W_np.shape[1]}, D) for {src!r}, "
            f"got {shape}"
        )
    unformable = np.isnan(W_np).any(axis=1)  # J_dst
    W_np = np.nan_to_num(W_np)
    used = (W_np != 0).astype(np.float64)  # J_dst×J_src
    if isinstance(joints, torch.Tensor):
        x = joints if joints.is_floating_point() else joints.double()
        W = torch.as_tensor(W_np, dtype=x.dtype, device=x.device)
        nan_in = torch.isnan(x).to(x.dtype)  # ...×J_src×D
        out = torch.einsum("ij,...jd->...id", W, torch.nan_to_num(x, nan=0.0))  # ...×J_dst×D
        used_t = torch.as_tensor(used, dtype=x.dtype, device=x.device)
        bad = torch.einsum("ij,...jd->...id", used_t, nan_in) > 0  # ...×J_dst×D
        bad = bad | torch.as_tensor(unformable, device=x.device)[:, None]
        return torch.where(bad, torch.full_like(out, float("nan")), out)
    x_np = np.asarray(joints)
    if not np.issubdtype(x_np.dtype, np.floating):
        x_np = x_np.astype(np.float64)
    out_np = np.einsum("ij,...jd->...id", W_np.astype(x_np.dtype), np.nan_to_num(x_np, nan=0.0))
    bad_np = np.einsum("ij,...jd->...id", used, np.isnan(x_np).astype(np.float64)) > 0
    bad_np |= unformable[:, None]
    out_np[bad_np] = np.nan
    return out_np


def convert_people(people: np.ndarray, src: str | None, dst: str) -> np.ndarray:
    """2D people from one joint set to another, missing joints kept missing.

    Args:
        people: (P, J_src, 3) (u, v, confidence); confidence 0 marks a missing joint.
        src, dst: joint set names (``src`` None: already ``dst``).

    Returns:
        (P, J_dst, 3) float64: a target joint built from a missing joint, or one ``src`` cannot
        form, is ``(0, 0, 0)``; one built from several (e.g. ``mid_hip`` from the hips) has their
        weighted mean position and confidence.
    """
    x = np.asarray(people, dtype=np.float64)
    if src is None or get_joint_set(src).name == get_joint_set(dst).name:
        return np.where(np.isfinite(x), x, 0.0)
    x = np.where(x[..., 2:] > 0, x, np.nan)  # missing -> NaN: it spreads to what it builds
    return np.nan_to_num(convert_joints(x, src, dst), nan=0.0)
