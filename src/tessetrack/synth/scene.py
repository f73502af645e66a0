"""Multi-person scenes: several people from real motion capture sharing a capture area.

People enter and leave (each has an active frame interval), some start close to someone else
(interactions and mutual occlusion), and nobody interpenetrates: while two people are both present
their roots stay at least ``min_root_distance`` apart on the floor and no two of their joints come
closer than ``min_joint_distance`` horizontally. A person violating this is re-sampled (new
motion and start); after ``max_attempts`` the best attempt is cut at its first conflict (the
person leaves), or dropped when too little remains. Everything is drawn from one numpy Generator,
so a seed fixes the scene.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from tessetrack.errors import InputError
from tessetrack.skeletons import PANOPTIC19
from tessetrack.synth.motion import (
    HumanoidSkeleton,
    MocapClip,
    MotionOptions,
    synthesize_motion,
)

__all__ = ["SceneConfig", "Scene", "generate_scene", "first_conflict"]

logger = logging.getLogger(__name__)

_ROOT = PANOPTIC19.index("mid_hip")


@dataclass(frozen=True)
class SceneConfig:
    """How a scene is composed.

    Attributes:
        num_people: people to place (some may be dropped if they cannot fit).
        num_frames: T.
        fps: frame rate.
        enter_leave_prob: probability that a person is present only for part of the sequence.
        min_presence_seconds: shortest presence of a person who enters or leaves.
        interaction_prob: probability that a person starts 0.6–1.2 m from someone already placed.
        min_root_distance: metres between roots of people present together.
        min_joint_distance: horizontal metres between any two joints of different people.
        max_attempts: re-samplings of a person before cutting or dropping it.
        motion: per-person motion variety (clips, limb mixing, face, body proportions, pose
            variation; :class:`~tessetrack.synth.motion.MotionOptions`).
    """

    num_people: int = 4
    num_frames: int = 300
    fps: float = 29.97
    enter_leave_prob: float = 0.4
    min_presence_seconds: float = 2.0
    interaction_prob: float = 0.3
    min_root_distance: float = 0.5
    min_joint_distance: float = 0.1
    max_attempts: int = 20
    motion: MotionOptions = field(default_factory=MotionOptions)


@dataclass(frozen=True, eq=False)
class Scene:
    """Ground truth of a synthetic scene in the floor frame (z up, metres).

    Attributes:
        joints: (T, P, 19, 3) Panoptic-19 joints; NaN where a person is absent.
        present: (T, P) bool.
        people: per person, a dict (scale, clip segments, active interval; with measured
            proportions, the body's factors).
        fps: frame rate.
    """

    joints: np.ndarray
    present: np.ndarray
    people: list[dict]
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.joints.shape[1])


def first_conflict(
    a: np.ndarray,
    present_a: np.ndarray,
    b: np.ndarray,
    present_b: np.ndarray,
    *,
    min_root_distance: float,
    min_joint_distance: float,
) -> int:
    """First frame where two people are too close, or -1.

    Args:
        a, b: (T, 19, 3) joints; present_a, present_b: (T,) bool.

    Returns:
        frame index of the first conflict, -1 if none.
    """
    both = present_a & present_b
    if not both.any():
        return -1
    root = np.linalg.norm(a[:, _ROOT, :2] - b[:, _ROOT, :2], axis=-1)  # T
    # T×19×1×2 - T×1×19×2 -> T×19×19
    d = np.linalg.norm(a[:, :, None, :2] - b[:, None, :, :2], axis=-1)
    close = (root < min_root_distance) | (d.min(axis=(1, 2)) < min_joint_distance)
    bad = np.nonzero(both & close)[0]
    return int(bad[0]) if bad.size else -1


def _person_presence(config: SceneConfig, rng: np.random.Generator) -> np.ndarray:
    """(T,) frames a person is in the scene: all, or one stretch of at least the minimum length."""
    T = int(config.num_frames)
    min_len = min(T, max(1, int(round(config.min_presence_seconds * config.fps))))
    present = np.ones(T, bool)
    if T > min_len and rng.random() < config.enter_leave_prob:
        length = int(rng.integers(min_len, T + 1))
        start = int(rng.integers(0, T - length + 1))
        present[:] = False
        present[start : start + length] = True
    return present


def _earliest_conflict(
    config: SceneConfig, joints: np.ndarray, present: np.ndarray, placed: list
) -> int:
    """The first frame where a new person comes too close to one already placed, else -1."""
    conflict = -1
    for other_joints, other_present, _ in placed:
        c = first_conflict(
            joints,
            present,
            other_joints,
            other_present,
            min_root_distance=config.min_root_distance,
            min_joint_distance=config.min_joint_distance,
        )
        if c >= 0 and (conflict < 0 or c < conflict):
            conflict = c
    return conflict


def _place_person(
    config: SceneConfig,
    clips: list[MocapClip],
    skeleton: HumanoidSkeleton,
    rng: np.random.Generator,
    placed: list[tuple[np.ndarray, np.ndarray, dict]],
    center: np.ndarray,
    half: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """One more person: up to ``max_attempts`` motions (started near someone already placed with
    ``interaction_prob``); the first that keeps clear of everyone, else the one whose presence
    before its first conflict is longest, cut there. Returns joints (T, 19, 3), presence (T,), info."""
    T = int(config.num_frames)
    best: tuple[int, np.ndarray, np.ndarray, dict] | None = None
    for _ in range(int(config.max_attempts)):
        present = _person_presence(config, rng)
        if placed and rng.random() < config.interaction_prob:
            other = placed[int(rng.integers(len(placed)))][0]
            ang = rng.uniform(-np.pi, np.pi)
            ref = other[int(np.argmax(present)), _ROOT, :2]
            if not np.all(np.isfinite(ref)):
                ref = center
            start_xy = ref + rng.uniform(0.6, 1.2) * np.array([np.cos(ang), np.sin(ang)])
        else:
            start_xy = center + rng.uniform(-half, half)
        joints, info = synthesize_motion(clips, skeleton, T, config.fps, rng, start_xy=start_xy,
                                         area_center=center, area_half_size=half,
                                         options=config.motion)  # fmt: skip
        conflict = _earliest_conflict(config, joints, present, placed)
        if conflict < 0:
            return joints, present, info
        # length of the conflict-free presence before the conflict
        usable = int(present[:conflict].sum())
        if best is None or usable > best[0]:
            cut = present.copy()
            cut[conflict:] = False
            best = (usable, joints, cut, info)
    assert best is not None
    return best[1], best[2], best[3]


def generate_scene(
    config: SceneConfig,
    clips: list[MocapClip],
    skeleton: HumanoidSkeleton,
    rng: np.random.Generator,
    *,
    area_center: np.ndarray,
    area_half_size: np.ndarray,
) -> Scene:
    """Compose a scene (see the module docstring).

    Args:
        config: composition settings.
        clips: the clips people perform (e.g. one split's).
        skeleton: the humanoid.
        rng: the only source of randomness.
        area_center, area_half_size: (2,) capture area on the floor.
    """
    if config.num_people < 1:
        raise InputError(f"need at least 1 person, got {config.num_people}")
    if config.num_frames < 1:
        raise InputError(f"need at least 1 frame, got {config.num_frames}")
    T = int(config.num_frames)
    center = np.asarray(area_center, float)
    half = np.asarray(area_half_size, float)
    min_len = min(T, max(1, int(round(config.min_presence_seconds * config.fps))))
    placed: list[tuple[np.ndarray, np.ndarray, dict]] = []
    for person in range(int(config.num_people)):
        joints, present, info = _place_person(config, clips, skeleton, rng, placed, center, half)
        if int(present.sum()) < min_len:
            logger.info("person %d dropped: no room in the capture area", person)
            continue
        info = dict(info)
        frames = np.nonzero(present)[0]
        info["first_frame"], info["last_frame"] = int(frames[0]), int(frames[-1])
        placed.append((joints, present, info))
    if not placed:
        raise InputError("no person could be placed in the capture area; use a larger area")
    joints = np.stack([p[0] for p in placed], axis=1)  # T×P×19×3
    present = np.stack([p[1] for p in placed], axis=1)  # T×P
    joints[~present] = np.nan
    return Scene(joints, present, [p[2] for p in placed], float(config.fps))
