"""Track with the calibration refined from the recording's own people (``track
--refine-calibration``).

A marker or board calibration that has drifted since it was made (a camera knocked, a mount that
sagged), or that was made for other lens settings, places every joint a little off, and nothing
downstream of it can take that out: on the real 4-camera sample its given calibration, more than
the tracking, limits how well the poses agree with a camera left out (docs/results.md). The people
the cameras see are a calibration target in every frame.
:func:`~tessetrack.calibrate.extrinsics.refine_from_people` refines the cameras' poses from their
2D joints (a bundle adjustment that holds each person's bone lengths), keeping the given world
frame and scale. Here it runs on the 2D detections the tracker reads (evenly spaced frames, at
most ``max_frames``), the refined calibration is written beside the tracks file
(:func:`refined_calibration_path`), and the recording is tracked with it (:class:`WithCameras`).

Cameras without 2D detections keep their given poses. Where the people cannot refine the rig (one
camera, nobody two cameras see, a camera too far off to match anyone), a warning says why and the
recording is tracked with the calibration as given.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tessetrack.calibrate.extrinsics import ExtrinsicsResult, refine_from_people
from tessetrack.calibrate.people import PeopleConfig
from tessetrack.data.base import MultiViewDataset
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.detections import Detections2D
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import MultiViewFrame

__all__ = ["Recalibration", "WithCameras", "dataset_detections", "recalibrate",
           "refined_calibration_path"]  # fmt: skip

logger = logging.getLogger(__name__)

#: Frames the refinement reads at most (evenly spaced over the selection): 100 frames of 4
#: cameras and 2 people take about half a minute on 2 CPU cores.
MAX_FRAMES = 200


def refined_calibration_path(output: str | os.PathLike[str]) -> Path:
    """Where ``track --refine-calibration`` writes the refined calibration for the tracks file
    ``output``: beside it, ``<output stem>.calibration.toml``."""
    out = Path(output)
    return out.with_name(out.stem + ".calibration.toml")


@dataclass(frozen=True)
class Recalibration:
    """What the refinement did.

    Attributes:
        path: the refined calibration written.
        given: the cameras as given, by name.
        result: the refined cameras (those with 2D detections), their fits and the frames used.
    """

    path: Path
    given: dict[str, Camera]
    result: ExtrinsicsResult


class WithCameras(MultiViewDataset):
    """A dataset with some cameras replaced by name (images, 2D detections and people unchanged)."""

    def __init__(self, dataset: MultiViewDataset, cameras: Mapping[str, Camera]) -> None:
        self.base = dataset
        self.replaced = dict(cameras)
        super().__init__(
            root=dataset.root,
            cameras={n: self.replaced.get(n, c) for n, c in dataset.cameras.items()},
            frames=dataset.frames,
            joint_set=dataset.joint_set,
            fps=dataset.fps,
        )

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        f = self.base.frame(frame_id)
        cams = {n: self.replaced.get(n, c) for n, c in f.cameras.items()}
        return dataclasses.replace(f, cameras=cams)


def dataset_detections(dataset: MultiViewDataset, max_frames: int = MAX_FRAMES) -> Detections2D:
    """The 2D detections of up to ``max_frames`` evenly spaced frames of ``dataset``, by camera
    (a camera the detections cover but whose detector saw nobody in a frame: an empty array).

    Raises:
        InputError: the dataset has no 2D detections.
    """
    ids = dataset.frames
    picks = sorted({ids[int(i)] for i in np.linspace(0, len(ids) - 1, min(max_frames, len(ids)))})
    by_camera: dict[str, dict[int, np.ndarray]] = {}
    joint_set = None
    for fid in picks:
        f = dataset.frame(fid)
        if not f.detections or f.detections_joint_set is None:
            continue
        joint_set = f.detections_joint_set
        for name, people in f.detections.items():
            by_camera.setdefault(name, {})[fid] = np.asarray(people, dtype=np.float64)
    if joint_set is None:
        raise InputError("--refine-calibration refines the cameras from 2D detections and this "
                         "input has none: pass --detections, or track with a detections model",
                         dataset.root)  # fmt: skip
    empty = np.zeros((0, get_joint_set(joint_set).num_joints, 3))
    for frames in by_camera.values():  # a frame one camera's detector has no file for: nobody
        for fid in picks:
            frames.setdefault(fid, empty)
    return Detections2D(joint_set, by_camera)


def recalibrate(
    dataset: MultiViewDataset,
    path: str | os.PathLike[str],
    *,
    max_frames: int = MAX_FRAMES,
    config: PeopleConfig = PeopleConfig(),
) -> tuple[MultiViewDataset, Recalibration | None]:
    """The dataset with its cameras refined from its people's 2D detections, the refined
    calibration written to ``path`` (module docstring).

    Returns:
        The dataset to track and what the refinement did; where the people cannot refine the
        rig, the dataset as given and None (a warning says why).

    Raises:
        InputError: the dataset has no 2D detections.
    """
    dets = dataset_detections(dataset, max_frames)
    given = {n: c for n, c in dataset.cameras.items() if n in dets.by_camera}
    logger.info("refining the calibration of %d cameras from the people of %d frames",
                len(given), len(dets.frames))  # fmt: skip
    try:
        result = refine_from_people(dets, given, config)
    except InputError as err:
        logger.warning("the calibration was not refined (%s); tracking with it as given", err)
        return dataset, None
    from tessetrack.io.calibration import save_cameras

    written = save_cameras({**dataset.cameras, **result.cameras}, path)
    return WithCameras(dataset, result.cameras), Recalibration(written, given, result)
