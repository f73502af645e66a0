"""Track in the rig's own frame: cameras moved into it, the model's volume laid over its capture
area, poses moved back (:mod:`tessetrack.geometry.rig_frame` finds the frame).

A heatmap model trained in one rig meets others with their up axis, floor and capture area
elsewhere; in the canonical frame (z up, floor at 0, the area centred) every rig looks like the
ones it learned in, up to the cameras themselves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tessetrack.data.base import MultiViewDataset, MultiViewFrame
from tessetrack.geometry.rig_frame import RigFrame, rig_frame, volume_for
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import FramePoses, PersonPose, Tracks

if TYPE_CHECKING:
    from tessetrack.model.tessetrack import TesseTrack

__all__ = ["InRigFrame", "enter_rig_frame", "find_rig_frame", "tracks_to_world"]

logger = logging.getLogger(__name__)

_FEET = ("l_ankle", "r_ankle", "l_heel", "r_heel")


class InRigFrame(MultiViewDataset):
    """A dataset seen from a :class:`RigFrame`: its cameras and ground-truth people moved into it
    (images and 2D detections are unchanged)."""

    def __init__(self, dataset: MultiViewDataset, frame: RigFrame) -> None:
        self.base = dataset
        self.rig = frame
        super().__init__(
            root=dataset.root,
            cameras={n: frame.camera(c) for n, c in dataset.cameras.items()},
            frames=dataset.frames,
            joint_set=dataset.joint_set,
            fps=dataset.fps,
        )

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        f = self.base.frame(frame_id)
        people = tuple(
            dataclasses.replace(p, joints=self.rig.to_canonical(p.joints)) for p in f.people
        )
        cams = {n: self.rig.camera(c) for n, c in f.cameras.items()}
        return dataclasses.replace(f, cameras=cams, people=people)


def find_rig_frame(
    dataset: MultiViewDataset,
    *,
    up: Sequence[float] | None = None,
    floor: float | None = None,
    samples: int = 20,
) -> RigFrame:
    """The rig's frame, its floor and area from the people triangulated in up to ``samples``
    evenly spaced frames' 2D detections (none: the calibration alone)."""
    from tessetrack.tracking.geometric import triangulate_people

    js = get_joint_set("body25")
    people: list[np.ndarray] = []
    ids = dataset.frames
    picks = sorted({ids[int(i)] for i in np.linspace(0, len(ids) - 1, min(samples, len(ids)))})
    for (
        fid
    ) in picks:  # the people place the floor and widen the area, even when up and floor are given
        f = dataset.frame(fid)
        if f.detections and f.detections_joint_set:
            found = triangulate_people(f.detections, f.cameras,
                                       detections_joint_set=f.detections_joint_set,
                                       joint_set=js.name)  # fmt: skip
            people += [p for p, _ in found]
    feet = [js.index(n) for n in _FEET]
    return rig_frame(dataset.cameras, people=people, feet=feet, up=up, floor=floor)


def tracks_to_world(tracks: Tracks, frame: RigFrame) -> Tracks:
    """``tracks`` computed in ``frame`` moved back to the calibration's world."""
    out = tuple(
        FramePoses(
            f.frame, tuple(PersonPose(p.id, frame.to_world(p.joints), p.scores) for p in f.people)
        )  # fmt: skip
        for f in tracks.frames
    )
    return dataclasses.replace(tracks, frames=out)


def enter_rig_frame(
    dataset: MultiViewDataset,
    model: TesseTrack,
    *,
    up: Sequence[float] | None = None,
    floor: float | None = None,
) -> tuple[InRigFrame, RigFrame]:
    """The dataset in its rig's frame, and that frame; ``model``'s person-detection grid is laid
    over the rig's capture area (same voxel size, same height range). Logs what it chose."""
    rig = find_rig_frame(dataset, up=up, floor=floor)
    grid = volume_for(rig, model.grid)
    model.detector.grid = grid
    for note in rig.notes:
        logger.info("rig frame: %s", note)
    logger.info("volume: %s m, %s voxels", " × ".join(f"{x:.1f}" for x in grid.size),
                " × ".join(str(n) for n in grid.shape))  # fmt: skip
    return InRigFrame(dataset, rig), rig
