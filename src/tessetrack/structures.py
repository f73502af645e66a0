"""Typed containers passed between stages: people's poses, frames of several views, tracks.

Arrays are numpy, world coordinates in metres, joint order given by a joint set of
:mod:`tessetrack.skeletons` (``panoptic19`` unless stated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from tessetrack.geometry.camera import Camera

__all__ = ["PersonPose", "FramePoses", "Tracks", "MultiViewFrame", "ImageLoader"]

#: A lazy image: calling it returns an H×W×3 uint8 RGB array.
ImageLoader = Callable[[], np.ndarray]


@dataclass(frozen=True, eq=False)
class PersonPose:
    """One person at one frame.

    Attributes:
        id: track identity, stable over time for one person (ground truth or predicted).
        joints: (J, 3) world metres; NaN rows for joints that are unknown.
        scores: (J,) confidence in [0, 1] (predictions) or visibility/confidence (ground truth);
            None when not available.
    """

    id: int
    joints: np.ndarray
    scores: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class FramePoses:
    """All people at one frame; ``frame`` is the input's own frame index."""

    frame: int
    people: tuple[PersonPose, ...] = ()


@dataclass(frozen=True, eq=False)
class Tracks:
    """Tracked 3D poses over a sequence (the content of a SPEC.md tracks file).

    Attributes:
        joint_names: names of the J joints, in array order.
        frames: one entry per input frame, sorted by frame index.
        fps: frames per second of the input, when known.
        units: always ``"m"`` in memory.
    """

    joint_names: tuple[str, ...]
    frames: tuple[FramePoses, ...]
    fps: float | None = None
    units: str = "m"

    def by_frame(self) -> dict[int, FramePoses]:
        return {f.frame: f for f in self.frames}


@dataclass(frozen=True, eq=False)
class MultiViewFrame:
    """What a dataset reader yields per frame.

    Attributes:
        frame: the dataset's own frame index.
        cameras: the cameras present at this frame, by name (may change over time).
        images: lazy image loaders by camera name (a subset of ``cameras``; empty without images).
        people: ground-truth people (empty when the dataset has no ground truth at this frame).
        joint_set: name of the joint set of ``people[i].joints``.
        detections: optional 2D detections by camera name: (P, J2, 3) arrays of (u, v, confidence).
        detections_joint_set: joint set name of ``detections``.
    """

    frame: int
    cameras: Mapping[str, Camera]
    images: Mapping[str, ImageLoader] = field(default_factory=dict)
    people: tuple[PersonPose, ...] = ()
    joint_set: str = "panoptic19"
    detections: Mapping[str, np.ndarray] = field(default_factory=dict)
    detections_joint_set: str | None = None
