"""Track with the calibration refined from the recording's own people (``track
--refine-calibration``).

A marker or board calibration that has drifted since it was made (a camera knocked, a mount that
sagged), or that was made for other lens settings, places every joint a little off, and nothing
downstream of it can take that out: on the real 4-camera sample its given calibration, more than
the tracking, limits how well the poses agree with a camera left out (docs/results.md). The people
the cameras see are a calibration target in every frame.
:func:`~tessetrack.calibrate.extrinsics.refine_from_people` refines the cameras' poses from their
2D joints (a bundle adjustment that holds each person's bone lengths), keeping the given world
frame and scale. Here it runs on the 2D detections the tracker reads (:func:`picked_frames`), the
recording is tracked with the refined cameras (:class:`WithCameras`), and the refined calibration
is written beside the tracks file once they are written (:func:`refined_calibration_path`).

Cameras without 2D detections, that see nobody, whose people match nobody's, or whose refined
pose was turned further than a drift, rests on too few joints or explains them poorly keep their
given poses (a warning names them). Where the people cannot refine the rig at all (one camera,
nobody two cameras see), or half of the cameras or more would keep their given poses, a warning
says why and the recording is tracked with the calibration as given.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tessetrack.calibrate.extrinsics import (
    CameraFit,
    ExtrinsicsResult,
    far_turns,
    refine_from_people,
)
from tessetrack.calibrate.people import PeopleConfig, UnmatchedCameras
from tessetrack.data.base import MultiViewDataset
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.detections import Detections2D
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import MultiViewFrame

__all__ = ["Recalibration", "WithCameras", "dataset_detections", "picked_frames", "recalibrate",
           "refined_calibration_path"]  # fmt: skip

logger = logging.getLogger(__name__)

#: Frames the refinement reads at most: runs of :data:`RUN` consecutive frames evenly spaced over
#: the selection (a person is followed within a run, so their bone lengths are held over it);
#: 100 frames of 4 cameras and 2 people take about half a minute on 2 CPU cores.
MAX_FRAMES = 200
RUN = 10
#: A refined camera whose median reprojection error is over this many pixels and this many times
#: the cameras' median keeps its given pose (:func:`_weak_fits`).
POOR_FIT_PX = 4.0
POOR_FIT_RATIO = 3.0


def refined_calibration_path(output: str | os.PathLike[str]) -> Path:
    """Where ``track --refine-calibration`` writes the refined calibration for the tracks file
    ``output``: beside it, ``<output stem>.calibration.toml``."""
    out = Path(output)
    return out.with_name(out.stem + ".calibration.toml")


@dataclass(frozen=True)
class Recalibration:
    """What the refinement did.

    Attributes:
        cameras: every camera as tracked, by name (refined, or as given where it could not be).
        given: every camera as given, by name.
        result: the refinement: its cameras, their fits and the frames used.
        path: where the refined calibration was written (None: not yet).
    """

    cameras: dict[str, Camera]
    given: dict[str, Camera]
    result: ExtrinsicsResult
    path: Path | None = None


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


def picked_frames(frames: list[int], max_frames: int = MAX_FRAMES, run: int = RUN) -> list[int]:
    """All of ``frames`` when they are ``max_frames`` or fewer; else ``max_frames // run`` runs of
    ``run`` consecutive ones, evenly spaced (the first run at the start, the last at the end)."""
    if len(frames) <= max_frames:
        return list(frames)
    runs = max(max_frames // run, 1)
    starts = np.linspace(0, len(frames) - run, runs).round().astype(int)
    return [frames[i] for i in sorted({int(s) + k for s in starts for k in range(run)})]


def dataset_detections(dataset: MultiViewDataset, max_frames: int = MAX_FRAMES) -> Detections2D:
    """The 2D detections of the :func:`picked_frames` of ``dataset``, by camera (a camera absent
    from a frame where others have detections: nobody seen there).

    Raises:
        InputError: the dataset has no 2D detections.
    """
    picks = picked_frames(dataset.frames, max_frames)
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
    for frames in by_camera.values():
        for fid in picks:
            frames.setdefault(fid, empty)
    return Detections2D(joint_set, by_camera)


def _refined(
    dets: Detections2D, given: dict[str, Camera], config: PeopleConfig
) -> ExtrinsicsResult:
    """:func:`refine_from_people`; where some cameras' people match nobody's, again without them
    (they keep their given poses, with a warning)."""
    try:
        return refine_from_people(dets, given, config)
    except UnmatchedCameras as err:
        logger.warning("camera(s) %s: no person matches the other cameras' people under the "
                       "given poses; kept as given", ", ".join(err.cameras))  # fmt: skip
        return refine_from_people(dets, {n: c for n, c in given.items() if n not in err.cameras},
                                  config)  # fmt: skip


def recalibrate(
    dataset: MultiViewDataset,
    *,
    max_frames: int = MAX_FRAMES,
    config: PeopleConfig = PeopleConfig(),
) -> tuple[MultiViewDataset, Recalibration | None]:
    """The dataset with its cameras refined from its people's 2D detections (module docstring).

    Cameras that see nobody confidently in the frames read, whose people match nobody's, or
    whose refined pose is not to be trusted (:func:`_far_turns`, :func:`_weak_fits`) keep their
    given poses (a warning names them).

    Returns:
        The dataset to track and what the refinement did; where the people cannot refine the
        rig, or the refined poses of half of the cameras or more are not to be trusted, the
        dataset as given and None (a warning says why).

    Raises:
        InputError: the dataset has no 2D detections.
    """
    dets = dataset_detections(dataset, max_frames)
    seen = {n for n, frames in dets.converted("body25").by_camera.items()
            if any((p[..., 2] >= config.min_confidence).any() for p in frames.values())}  # fmt: skip
    given = {n: c for n, c in dataset.cameras.items() if n in seen}
    if len(given) < len(dataset.cameras):
        logger.warning("camera(s) %s: nobody seen confidently in the frames read; kept as given",
                       ", ".join(n for n in dataset.cameras if n not in given))  # fmt: skip
    logger.info("refining the calibration of %d cameras from the people of %d frames",
                len(given), len(dets.frames))  # fmt: skip
    try:
        result = _refined(dets, given, config)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError, cv2.error) as err:
        logger.warning("the calibration was not refined (%s); tracking with it as given", err)
        return dataset, None
    kept = _far_turns(result.cameras, given) + _weak_fits(result.fits, config.min_matches)
    if 2 * len(set(kept)) >= len(result.cameras):
        logger.warning("the calibration was not refined: the refined poses of half of the cameras "
                       "or more are not to be trusted (above); tracking with it as given")  # fmt: skip
        return dataset, None
    cameras = {**dataset.cameras, **{n: c for n, c in result.cameras.items() if n not in kept}}
    return WithCameras(dataset, cameras), Recalibration(cameras, dict(dataset.cameras), result)


def _far_turns(refined: Mapping[str, Camera], given: Mapping[str, Camera]) -> list[str]:
    """The cameras the refinement turned further than a drift from their given poses
    (:func:`~tessetrack.calibrate.extrinsics.far_turns`; a warning names them): turns that large
    mean their people were matched wrongly under the given poses."""
    far = far_turns(refined, given)
    if far:
        logger.warning("camera(s) %s: the refinement turned them by %s°, more than a drift (their "
                       "people were matched wrongly); kept as given", ", ".join(far),
                       ", ".join(f"{t:.0f}" for t in far.values()))  # fmt: skip
    return list(far)


def _weak_fits(fits: Mapping[str, CameraFit], min_matches: int) -> list[str]:
    """The cameras whose refined pose is not to be trusted (a warning names them): fewer than
    ``min_matches`` joints, or a median reprojection error over :data:`POOR_FIT_PX` and
    :data:`POOR_FIT_RATIO` times the cameras' median (their people were partly mismatched)."""
    typical = float(np.nanmedian([f.median_px for f in fits.values()]))
    few = [n for n, f in fits.items() if f.observations < min_matches]
    poor = [n for n, f in fits.items() if n not in few
            and not f.median_px <= max(POOR_FIT_PX, POOR_FIT_RATIO * typical)]  # fmt: skip
    if few:
        logger.warning("camera(s) %s: fewer than %d joints matched to refine from; kept as given",
                       ", ".join(few), min_matches)  # fmt: skip
    if poor:
        logger.warning("camera(s) %s: the refined pose explains its people poorly (median %s px "
                       "against %.1f px for the cameras' median); kept as given", ", ".join(poor),
                       ", ".join(f"{fits[n].median_px:.1f}" for n in poor), typical)  # fmt: skip
    return few + poor
