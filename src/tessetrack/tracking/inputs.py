"""What ``tessetrack track`` reads: one function, :func:`open_input`, that turns the command's
arguments into a :class:`~tessetrack.data.base.MultiViewDataset`.

Accepted inputs:

* a dataset folder any reader understands (:func:`~tessetrack.data.base.open_dataset`: CMU Panoptic
  layout — including ``tessetrack synth`` output —, Shelf/Campus, Human3.6M); it carries its own
  calibration, so ``calibration`` is ignored (logged). ``detections`` are attached to its frames;
* a folder of synchronized videos or per-camera image folders + a calibration file
  (:class:`~tessetrack.data.own_cameras.OwnCamerasDataset`), optionally with 2D detections;
* no input at all, only a detections folder/file + a calibration file (heatmap-input models).

``cameras`` then keeps some of the input's cameras (:class:`CameraSubset`), after the detections
are matched to the cameras: a detections folder may hold more cameras than are used.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path

from tessetrack.data.base import MultiViewDataset, open_dataset
from tessetrack.errors import InputError
from tessetrack.io.detections import Detections2D, load_detections
from tessetrack.io.video import natural_key
from tessetrack.structures import MultiViewFrame

__all__ = ["open_input", "is_dataset_folder", "DetectionsAttached", "CameraSubset"]

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
        missing = [c for c in dataset.cameras if c not in self.detections.by_camera]
        if missing:
            logger.info(
                "%s covers %d of %d cameras; views without detections are left out (%s)",
                where,
                len(dataset.cameras) - len(missing),
                len(dataset.cameras),
                ", ".join(missing),
            )
        super().__init__(
            root=dataset.root,
            cameras=dataset.cameras,
            frames=dataset.frames,
            joint_set=dataset.joint_set,
            fps=dataset.fps,
        )

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        frame = self.base.frame(frame_id)
        # a camera the detections do not cover has no entry (a heatmap model masks that view);
        # a covered camera with nothing at this frame gets (0, J, 3): its detector saw nobody
        dets = {
            cam: self.detections.get(cam, frame_id)
            for cam in frame.cameras
            if cam in self.detections.by_camera
        }
        return dataclasses.replace(
            frame, detections=dets, detections_joint_set=self.detections.joint_set
        )


class CameraSubset(MultiViewDataset):
    """Some of a dataset's cameras: the others vanish from its camera list and from every frame.

    Args:
        dataset: the underlying reader (its frame selection is kept).
        names: camera names to keep, in the order the views are used; each once.

    Raises:
        InputError: an empty list, a name given twice, or a camera the dataset does not have
            (naming it and listing the dataset's cameras).
    """

    def __init__(self, dataset: MultiViewDataset, names: Sequence[str]) -> None:
        names = [str(n) for n in names]
        if not names:
            raise InputError("the camera list is empty: name at least one camera", dataset.root)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InputError(f"camera(s) {', '.join(twice)} named more than once", dataset.root)
        unknown = [n for n in names if n not in dataset.cameras]
        if unknown:
            raise InputError(
                f"unknown camera(s) {', '.join(unknown)}; the input has "
                f"{', '.join(sorted(dataset.cameras, key=natural_key))}",
                dataset.root,
            )
        self.base = dataset
        super().__init__(
            root=dataset.root,
            cameras={n: dataset.cameras[n] for n in names},
            frames=dataset.frames,
            joint_set=dataset.joint_set,
            fps=dataset.fps,
        )

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        frame = self.base.frame(frame_id)

        def kept(by_camera: Mapping) -> dict:  # in the subset's order
            return {cam: by_camera[cam] for cam in self.cameras if cam in by_camera}

        return dataclasses.replace(
            frame,
            cameras=kept(frame.cameras),
            images=kept(frame.images),
            detections=kept(frame.detections),
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
    cameras: Sequence[str] | str | None = None,
) -> MultiViewDataset:
    """The dataset ``tessetrack track`` runs on (see the module docstring).

    Args:
        input: a dataset folder, a folder of videos / image folders, or None (detections only).
        calibration: calibration file (required unless ``input`` is a dataset folder).
        detections: detections folder (OpenPose) or file/folder (COCO).
        detections_format: ``openpose``, ``coco`` or None (auto).
        start, end, stride: frame selection (frame ids; ``end`` exclusive).
        cameras: names of the cameras to use, in order (a list, or one comma-separated string);
            None: every camera of the input.

    Raises:
        InputError: a one-line message for a missing or empty input folder, a missing calibration,
            no input and no detections, an unknown camera name, or any reader error.
    """
    dataset = _open(input, calibration, detections, detections_format, start, end, stride)
    if cameras is None:
        return dataset
    if isinstance(cameras, str):
        cameras = [c.strip() for c in cameras.split(",") if c.strip()]
    return CameraSubset(dataset, cameras)


def _open(
    input: PathT | None,
    calibration: PathT | Mapping | None,
    detections: PathT | None,
    detections_format: str | None,
    start: int | None,
    end: int | None,
    stride: int,
) -> MultiViewDataset:
    """:func:`open_input` before the camera selection: every camera of the input."""
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
        from tessetrack.data.own_cameras import calibration_candidates

        found = calibration_candidates(root)
        if len(found) != 1:
            raise InputError(
                "not a dataset folder tessetrack knows (Panoptic, Shelf/Campus, Human3.6M), so the "
                "cameras are needed: pass --calibration FILE (found "
                f"{', '.join(str(p) for p in found) or 'no calib* or *.qca.txt file'} here, in "
                "calibration/ or beside it)",
                root,
            )
        calibration = found[0]
        logger.info("calibration: %s", calibration)
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
        trim_to_shortest=True,  # views of different lengths: their common frames (warned)
    )
    if len(dataset) == 0:
        raise InputError("no frames selected (check --start/--end/--stride)", root or detections)
    return dataset
