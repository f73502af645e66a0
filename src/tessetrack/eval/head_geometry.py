"""The Shelf/Campus head (``bottom_head`` → ``top_head``) and the face, measured on poses.

Shelf/Campus PCP scores the head as one of its ten parts, and predictions reach it through the
Panoptic-19 → Shelf-14 recipe of :data:`tessetrack.skeletons.JOINT_RECIPES` (VoxelPose's head model
from the shoulders, nose and ears). These functions give rotation-free median lengths (so z-up and
y-down worlds compare) of annotated Shelf-14 poses, of Panoptic-19 poses and of Panoptic-19 poses
through that recipe; ``benchmarks/head_geometry.py`` prints them for real and synthetic people.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tessetrack.data.panoptic import read_body3d_scene
from tessetrack.errors import InputError
from tessetrack.skeletons import convert_joints, get_joint_set

__all__ = ["face_stats", "head_stats", "panoptic_joints", "recipe_stats"]

_SHELF = get_joint_set("shelf14")
_PANOPTIC = get_joint_set("panoptic19")


def _median_length(vectors: np.ndarray) -> float:
    """Median Euclidean length of (N, 3) vectors; NaN for N = 0."""
    return float(np.median(np.linalg.norm(vectors, axis=-1))) if len(vectors) else float("nan")


def head_stats(poses: np.ndarray) -> dict[str, float]:
    """Median lengths (m) of (N, 14, 3) Shelf-14 poses; rows with a NaN joint are left out.

    Keys: ``people`` (rows used), ``head`` |top − bottom|, ``bottom_to_shoulders`` |bottom − S|,
    ``top_to_shoulders`` |top − S| with S the mid-shoulder point, ``torso`` |S − mid-hip|,
    ``shoulder_width``, and ``top_to_shoulders / shoulder_width`` (size-free).
    """
    poses = poses[np.isfinite(poses).all(axis=(1, 2))]
    i = _SHELF.index
    mid_sh = (poses[:, i("r_shoulder")] + poses[:, i("l_shoulder")]) / 2
    mid_hip = (poses[:, i("r_hip")] + poses[:, i("l_hip")]) / 2
    bottom, top = poses[:, i("bottom_head")], poses[:, i("top_head")]
    across = poses[:, i("r_shoulder")] - poses[:, i("l_shoulder")]
    per_width = np.linalg.norm(top - mid_sh, axis=1) / np.linalg.norm(across, axis=1)
    return {
        "people": int(len(poses)),
        "head": _median_length(top - bottom),
        "bottom_to_shoulders": _median_length(bottom - mid_sh),
        "top_to_shoulders": _median_length(top - mid_sh),
        "torso": _median_length(mid_sh - mid_hip),
        "shoulder_width": _median_length(across),
        "top_to_shoulders_per_width": float(np.median(per_width)) if len(poses) else float("nan"),
    }


def face_stats(joints: np.ndarray) -> dict[str, float]:
    """Median face lengths (m) of (N, 19, 3) Panoptic-19 poses; rows with a NaN joint left out.

    Keys: ``neck_to_nose``, ``neck_to_ears`` (the ears' centre), ``ear_width``, ``nose_to_eye``
    and ``eye_to_ear`` (both sides pooled), ``eye_width``.
    """
    joints = joints[np.isfinite(joints).all(axis=(1, 2))]
    i = _PANOPTIC.index
    neck = joints[:, i("neck")]
    ears = (joints[:, i("l_ear")] + joints[:, i("r_ear")]) / 2
    nose = joints[:, i("nose")]
    eyes = np.concatenate([joints[:, i("l_eye")], joints[:, i("r_eye")]])
    return {
        "neck_to_nose": _median_length(nose - neck),
        "neck_to_ears": _median_length(ears - neck),
        "ear_width": _median_length(joints[:, i("l_ear")] - joints[:, i("r_ear")]),
        "nose_to_eye": _median_length(eyes - np.concatenate([nose, nose])),
        "eye_to_ear": _median_length(
            np.concatenate([joints[:, i("l_ear")], joints[:, i("r_ear")]]) - eyes
        ),
        "eye_width": _median_length(joints[:, i("l_eye")] - joints[:, i("r_eye")]),
    }


def panoptic_joints(root: Path, every: int = 1) -> np.ndarray:
    """(N, 19, 3) Panoptic-19 joints of every body in every ``body3DScene_*.json`` under ``root``."""
    files = sorted(root.rglob("body3DScene_*.json"))[::every]
    joints = [p.joints for f in files for p in read_body3d_scene(f)]
    if not joints:
        raise InputError("no body3DScene_*.json files", root)
    return np.stack(joints)


def recipe_stats(joints: np.ndarray) -> dict[str, float]:
    """:func:`head_stats` of (N, 19, 3) Panoptic-19 poses through the Shelf-14 recipe, and their
    :func:`face_stats`."""
    return {**head_stats(convert_joints(joints, "panoptic19", "shelf14")), **face_stats(joints)}
