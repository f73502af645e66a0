"""A person's bones keep their length: tracked joints moved back onto each track's own skeleton.

Per track, the length of every bone (a limb of the joint set, oriented away from the hips) is the
median over the frames where both its joints are well supported (score ≥ ``min_score``). In every
frame, walking the skeleton from the hips outwards, a bone more than ``tolerance`` (a share of
that length) too long or too short is brought back to it along its own direction, and everything
beyond it moves with it (a wrist follows a corrected elbow). Corrected joints' scores are halved.
Written by hand: a tree walk over our joint sets.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from tessetrack.anthropometry import REAL_PROPORTIONS
from tessetrack.errors import InputError
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import FramePoses, PersonPose, Tracks

__all__ = [
    "BoneConfig",
    "bone_tree",
    "bone_lengths",
    "track_bone_lengths",
    "keep_bone_lengths",
    "PROPORTION_BONES",
    "NOT_STATURE",
    "stature_shares",
    "stature",
]

#: Bones whose length real people's proportions give (:data:`~tessetrack.anthropometry.
#: REAL_PROPORTIONS`, fractions of the stature): bone (joint names) → (group, share of the
#: group's length). A breadth is shared by the two bones from the middle to either side.
PROPORTION_BONES: dict[tuple[str, str], tuple[str, float]] = {
    ("mid_hip", "neck"): ("spine", 1.0),
    **{("mid_hip", f"{s}_hip"): ("hip_breadth", 0.5) for s in "lr"},
    **{("neck", f"{s}_shoulder"): ("shoulder_breadth", 0.5) for s in "lr"},
    **{(f"{s}_shoulder", f"{s}_elbow"): ("upper_arm", 1.0) for s in "lr"},
    **{(f"{s}_elbow", f"{s}_wrist"): ("forearm", 1.0) for s in "lr"},
    **{(f"{s}_hip", f"{s}_knee"): ("thigh", 1.0) for s in "lr"},
    **{(f"{s}_knee", f"{s}_ankle"): ("shank", 1.0) for s in "lr"},
    ("neck", "nose"): ("neck_to_nose", 1.0),
    **{("nose", f"{s}_eye"): ("nose_to_eye", 1.0) for s in "lr"},
    **{(f"{s}_eye", f"{s}_ear"): ("eye_to_ear", 1.0) for s in "lr"},
}

#: Groups of :data:`PROPORTION_BONES` that give a length but do not measure the stature: the face's
#: keypoints lie centimetres apart (a pixel of noise is a large share of them), and the nose moves
#: against the neck as the head nods.
NOT_STATURE = frozenset({"neck_to_nose", "nose_to_eye", "eye_to_ear"})


@dataclass(frozen=True)
class BoneConfig:
    """Settings of :func:`keep_bone_lengths`.

    Attributes:
        tolerance: a bone off its track's length by more than this share is corrected.
        min_score: joints scored below this do not count towards a track's bone lengths.
        min_frames: a bone needs this many well-supported frames to have a length.
    """

    tolerance: float = 0.2
    min_score: float = 0.5
    min_frames: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.tolerance < 1 or self.min_frames < 1:
            raise InputError("bones: tolerance must lie in (0, 1) and min_frames be >= 1")


def bone_tree(joint_set: str, root: str = "mid_hip") -> list[tuple[int, int]]:
    """(parent, child) joint indices of the joint set's limbs, breadth first from ``root``."""
    js = get_joint_set(joint_set)
    if root not in js.joints:
        raise InputError(f"{js.name} has no {root!r} joint to walk the skeleton from")
    links: dict[int, list[int]] = {}
    for a, b in js.limb_indices:
        links.setdefault(a, []).append(b)
        links.setdefault(b, []).append(a)
    order, seen, queue = [], {js.index(root)}, deque([js.index(root)])
    while queue:
        parent = queue.popleft()
        for child in links.get(parent, []):
            if child not in seen:
                seen.add(child)
                order.append((parent, child))
                queue.append(child)
    return order


def bone_lengths(
    joints: np.ndarray, scores: np.ndarray, tree: list[tuple[int, int]], config: BoneConfig
) -> np.ndarray:
    """(E,) median length of each bone of ``tree`` over the frames of one person (F, J, 3) whose
    scores (F, J) at both ends reach ``min_score``; NaN with fewer than ``min_frames`` such
    frames."""
    if not tree or len(joints) == 0:
        return np.full(len(tree), np.nan)
    a, b = np.array(tree).T  # E each
    d = np.linalg.norm(joints[:, b] - joints[:, a], axis=-1)  # F×E
    ok = (scores[:, a] >= config.min_score) & (scores[:, b] >= config.min_score) & np.isfinite(d)
    out = np.full(len(tree), np.nan)
    for e in np.nonzero(ok.sum(0) >= config.min_frames)[0]:
        out[e] = np.median(d[ok[:, e], e])
    return out


def track_bone_lengths(
    people: list[PersonPose], tree: list[tuple[int, int]], config: BoneConfig
) -> np.ndarray:
    """(E,) median length of each bone over one track's well-supported frames (NaN: too few;
    :func:`bone_lengths`)."""
    if not people:
        return np.full(len(tree), np.nan)
    joints = np.stack([np.asarray(p.joints, float) for p in people])  # F×J×3
    scores = np.stack([np.ones(len(p.joints)) if p.scores is None else np.asarray(p.scores, float)
                       for p in people])  # fmt: skip
    return bone_lengths(joints, scores, tree, config)


def _fix(
    person: PersonPose, tree: list[tuple[int, int]], lengths: np.ndarray, tol: float
) -> PersonPose:
    """One pose walked from the hips outwards, bones brought back to ``lengths``."""
    old = np.asarray(person.joints, float)
    new = old.copy()
    scores = None if person.scores is None else np.asarray(person.scores, float).copy()
    shift = np.zeros_like(old)  # how far each joint has been moved with its parents
    for e, (a, b) in enumerate(tree):
        moved = old[b] + shift[a]
        bone = old[b] - old[a]
        n = float(np.linalg.norm(bone))
        if (
            np.isfinite(lengths[e])
            and np.isfinite(n)
            and n > 1e-9
            and abs(n - lengths[e]) > tol * lengths[e]
        ):
            moved = new[a] + bone / n * lengths[e]
            if scores is not None:
                scores[b] *= 0.5
        if np.isfinite(moved).all():
            new[b] = moved
            shift[b] = moved - old[b]
        else:
            shift[b] = shift[a] if np.isfinite(shift[a]).all() else 0.0
    return dataclasses.replace(person, joints=new, scores=scores)


def keep_bone_lengths(
    tracks: Tracks, joint_set: str, config: BoneConfig | None = None
) -> tuple[Tracks, int]:
    """``tracks`` with every pose's bones brought back to its track's lengths (module docstring).

    Returns:
        (the tracks, how many joints were moved).
    """
    config = config or BoneConfig()
    tree = bone_tree(joint_set)
    by_id: dict[int, list[PersonPose]] = {}
    for f in tracks.frames:
        for p in f.people:
            by_id.setdefault(p.id, []).append(p)
    lengths = {i: track_bone_lengths(ps, tree, config) for i, ps in by_id.items()}
    moved = 0
    frames = []
    for f in tracks.frames:
        people = []
        for p in f.people:
            q = _fix(p, tree, lengths[p.id], config.tolerance)
            moved += int(np.any(np.abs(np.nan_to_num(q.joints - p.joints)) > 1e-12, axis=-1).sum())
            people.append(q)
        frames.append(FramePoses(f.frame, tuple(people)))
    return dataclasses.replace(tracks, frames=tuple(frames)), moved


def stature_shares(
    joint_set: str, tree: list[tuple[int, int]], *, for_stature: bool = False
) -> np.ndarray:
    """(E,) each bone of ``tree``'s mean length as a fraction of the stature by real people's
    proportions (:data:`PROPORTION_BONES`); NaN for the bones they do not give (the feet), and
    with ``for_stature`` for those that do not measure it (:data:`NOT_STATURE`: the face)."""
    names = get_joint_set(joint_set).joints
    out = np.full(len(tree), np.nan)
    for e, (a, b) in enumerate(tree):
        group = PROPORTION_BONES.get((names[a], names[b]))
        if group is not None and not (for_stature and group[0] in NOT_STATURE):
            out[e] = REAL_PROPORTIONS[group[0]][0] * group[1]
    return out


def stature(
    joints: np.ndarray,
    good: np.ndarray,
    tree: list[tuple[int, int]],
    shares: np.ndarray,
    min_groups: int = 3,
) -> float:
    """A person's stature (metres) from the bones they show: the median over the frames and
    bones whose both ends are ``good`` of the bone's length / its share of the stature; NaN where
    they show bones of fewer than ``min_groups`` kinds (the two forearms, or the two halves of the
    shoulders' breadth, are one kind: they have one share).

    Args:
        joints: (F, J, 3) one person's joints; good: (F, J) which of them are known well.
        tree: (parent, child) joint pairs (:func:`bone_tree`).
        shares: (E,) each bone's share of the stature (:func:`stature_shares` ``for_stature``;
            NaN: none).
        min_groups: kinds of bones needed.
    """
    if not tree or len(joints) == 0:
        return float("nan")
    a, b = np.array(tree).T  # E each
    d = np.linalg.norm(joints[:, b] - joints[:, a], axis=-1) / shares  # F×E
    ok = good[:, a].astype(bool) & good[:, b].astype(bool) & np.isfinite(d)
    kinds = np.unique(shares[ok.any(0)]).size  # bones of one kind share their share
    return float(np.median(d[ok])) if kinds >= min_groups else float("nan")
