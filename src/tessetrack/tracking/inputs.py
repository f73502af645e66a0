"""What ``tessetrack track`` reads: one function, :func:`open_input`, that turns the command's
arguments into a :class:`~tessetrack.data.base.MultiViewDataset`.

Accepted inputs:

* a dataset folder any reader understands (:func:`~tessetrack.data.base.open_dataset`: CMU Panoptic
  layout — including ``tessetrack synth`` output —, Shelf/Campus, Human3.6M); it carries its own
  calibration, so ``calibration`` is ignored (logged). ``detections`` are attached to its frames;
* a folder of synchronized videos or per-camera image folders + a calibration file
  (:class:`~tessetrack.data.own_cameras.OwnCamerasDataset`), optionally with 2D detections;
* no input at all, only a detections folder/file + a calibration file (heatmap-input models).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

from tessetrack.data.base import MultiViewDataset, open_dataset
from tessetrack.errors import InputError
from tessetrack.io.detections import Detections2D, load_detections
from tessetrack.structures import MultiViewFrame

__all__ = ["open_input", "is_dataset_folder", "DetectionsAttached"]

PathT = str | PathLike[str]

logger = logging.getLogger(__name__)


def is_dataset_folder(root: Path) -> bool:
    """Whether :func:`open_dataset` recognises ``root`` (the markers it looks for)."""
    return (
        (root / "actorsGT.mat").is_file()
        or any(root.glob("*_body3d.npz"))
        or any(root.glob("calibration_*.json"))
    )


class DetectionsAttached(MultiViewDataset):
    """A dataset whose frames also carry 2D detections (by the dataset's camera names).

    Args:
        dataset: the underlying reader (its frame selection is kept).
        detections: detections whose camera names are matched to the dataset's cameras.
        where: the detections' path, for messages.
    """

    def __init__(self, dataset: MultiViewDataset, detections: Detections2D, where: PathT) -> None:
        from tessetrack.data.own_cameras import match_sources

        names = match_sources(
            list(detections.by_camera), list(dataset.cameras), "detections folder", where
        )
        self.base = dataset
        self.detections = detections.renamed(names)
        super().__init__(
            root=dataset.root,
            cameras=dataset.cameras,
            frames=dataset.frames,
            joint_set=dataset.joint_set,
            fps=dataset.fps,
        )

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        frame = self.base.frame(frame_id)
        dets = {cam: self.detections.get(cam, frame_id) for cam in frame.cameras}
        return dataclasses.replace(
            frame, detections=dets, detections_joint_set=self.detections.joint_set
        )


def _check_file(path: PathT | None, what: str) -> None:
    if path is not None and not Path(path).exists():
        raise InputError(f"{what} not found", path)


def open_input(
    input: PathT | None,
    *,
    calibration: PathT | Mapping | None = None,
    detections: PathT | None = None,
    detections_format: str | None = None,
    start: int | None = None,
    end: int | None = None,
    stride: int = 1,
) -> MultiViewDataset:
    """The dataset ``tessetrack track`` runs on (see the module docstring).

    Args:
        input: a dataset folder, a folder of videos / image folders, or None (detections only).
        calibration: calibration file (required unless ``input`` is a dataset folder).
        detections: detections folder (OpenPose) or file/folder (COCO).
        detections_format: ``openpose``, ``coco`` or None (auto).
        start, end, stride: frame selection (frame ids; ``end`` exclusive).

    Raises:
        InputError: a one-line message for a missing or empty input folder, a missing calibration,
            no input and no detections, or any reader error.
    """
    if detections_format is not None and detections_format.lower() not in ("openpose", "coco"):
        raise InputError(
            f"unknown detections format {detections_format!r}; use 'openpose' or 'coco'"
        )
    if not isinstance(calibration, Mapping):
        _check_file(calibration, "calibration file")
    _check_file(detections, "detections")
    if input is None:
        if detections is None:
            raise InputError(
                "give an INPUT folder (dataset, videos or image folders) or --detections DIR"
            )
        if calibration is None:
            raise InputError(
                "tracking from detections alone needs the cameras: pass --calibration FILE",
                detections,
            )
        return _own(None, calibration, detections, detections_format, start, end, stride)

    root = Path(input)
    if not root.exists():
        raise InputError("input not found", root)
    if not root.is_dir():
        raise InputError(
            "INPUT must be a folder (a dataset, or one video / image folder per camera)", root
        )
    if not any(root.iterdir()):
        raise InputError("input folder is empty", root)
    if is_dataset_folder(root):
        if calibration is not None:
            logger.warning(
                "%s is a dataset folder with its own calibration; --calibration is ignored", root
            )
        dataset = open_dataset(root, start=start, end=end, stride=stride)
        if detections is not None:
            dets = load_detections(detections, format=detections_format)
            dataset = DetectionsAttached(dataset, dets, detections)
        if len(dataset) == 0:
            raise InputError("no frames selected (check --start/--end/--stride)", root)
        return dataset
    if calibration is None:
        raise InputError(
            "not a dataset folder tessetrack knows (Panoptic, Shelf/Campus, Human3.6M), so the "
            "cameras are needed: pass --calibration FILE",
            root,
        )
    return _own(root, calibration, detections, detections_format, start, end, stride)


def _own(
    root: Path | None,
    calibration: PathT | Mapping,
    detections: PathT | None,
    detections_format: str | None,
    start: int | None,
    end: int | None,
    stride: int,
) -> MultiViewDataset:
    from tessetrack.data.own_cameras import OwnCamerasDataset

    dataset = OwnCamerasDataset(
        root,
        calibration=calibration,
        detections=detections,
        detections_format=detections_format,
        start=start,
        end=end,
        stride=stride,
    )
    if len(dataset) == 0:
        raise InputError("no frames selected (check --start/--end/--stride)", root or detections)
    return dataset
