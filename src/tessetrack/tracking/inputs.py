"""What ``tessetrack track`` reads: one function, :func:`open_input`, that turns the command's
arguments into a :class:`~tessetrack.data.base.MultiViewDataset`.

Accepted inputs:

* a dataset folder any reader understands (:func:`~tessetrack.data.layouts.open_dataset`: CMU Panoptic
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

import numpy as np

from tessetrack.data.base import MultiViewDataset
from tessetrack.data.layouts import open_dataset
from tessetrack.errors import InputError
from tessetrack.io.detections import Detections2D, load_detections
from tessetrack.io.video import natural_key
from tessetrack.structures import MultiViewFrame

__all__ = [
    "open_input",
    "is_dataset_folder",
    "parse_image_size",
    "check_detections_fit",
    "DetectionsAttached",
    "CameraSubset",
]

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
        if missing:  # the runner's count of views without input warns when tracking
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
    units: str | None = None,
    image_size: tuple[int, int] | str | None = None,
    trim: bool = True,
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
        units: the length unit of the calibration file's translations (``m``, ``cm``, ``mm``),
            overriding its format's default.
        image_size: ``(W, H)`` or ``"WxH"``: the image size of calibration cameras whose file
            does not state it.
        trim: videos / image folders of different lengths: use their common frames (warned);
            False refuses them.

    Checks made here, before any work: detection confidences (a 0-100 scale is rescaled with a
    warning, negative ones refused), keypoints far outside the calibrated images and detections
    whose extent suggests another image resolution (warned), cameras without an image size
    (refused, advising ``--image-size``), and a single camera (warned).

    Raises:
        InputError: a one-line message for a missing or empty input folder, a missing calibration,
            no input and no detections, an unknown camera name, or any reader error.
    """
    size = parse_image_size(image_size)
    options = _Options(detections_format, start, end, stride, trim, units, size)
    dataset = _open(input, calibration, detections, options)
    if cameras is not None:
        if isinstance(cameras, str):
            cameras = [c.strip() for c in cameras.split(",") if c.strip()]
        dataset = CameraSubset(dataset, cameras)
    check_detections_fit(dataset)
    if len(dataset.cameras) == 1:
        logger.warning(
            "%s: one camera only: depth comes from the model's guess, not from triangulation; "
            "expect poor 3D positions",
            dataset.root,
        )
    return dataset


def parse_image_size(value: tuple[int, int] | str | None) -> tuple[int, int] | None:
    """``"WxH"`` (or ``(W, H)``) → ``(W, H)``; None stays None; anything else is an InputError."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.lower().replace("×", "x").split("x")
        try:
            w, h = (int(p) for p in parts)
        except ValueError:
            raise InputError(
                f"--image-size must be WxH in pixels, e.g. 1032x776, got {value!r}"
            ) from None
    else:
        w, h = (int(v) for v in value)
    if w < 1 or h < 1:
        raise InputError(f"--image-size must be positive, got {w}x{h}")
    return w, h


def _check_camera_sizes(dataset: MultiViewDataset, where: PathT | None) -> None:
    """Refuse cameras without an image size (their images could not be scaled): a format that
    does not store it needs ``--image-size``."""
    unknown = [n for n, c in dataset.cameras.items() if c.width <= 0 or c.height <= 0]
    if unknown:
        raise InputError(
            f"camera(s) {', '.join(unknown)} have no image size in this calibration (the format "
            "does not store it): pass --image-size WxH",
            where or dataset.root,
        )


def check_detections_fit(dataset: MultiViewDataset) -> None:
    """Warn (one line each) about keypoints far outside the calibrated images and about cameras
    whose detections span an extent that suggests images of another resolution."""
    base = getattr(dataset, "base", None)  # a camera subset: the detections of its dataset
    dets: Detections2D | None = getattr(dataset, "detections", None) or getattr(
        base, "detections", None
    )
    if dets is None:
        return
    far = total = 0
    big: list[str] = []
    small: list[str] = []
    for name, cam in dataset.cameras.items():
        frames = dets.by_camera.get(name, {})
        # confident keypoints only: detectors such as BlazePose also extrapolate the joints of a
        # person cut by the image border, with low confidence
        pts = [p[p[..., 2] >= 0.3][:, :2] for p in frames.values() if len(p)]  # N×2 each
        if cam.width <= 0 or not pts:
            continue
        uv = np.concatenate(pts) / np.array([cam.width, cam.height])  # N×2, image = [0, 1]
        outside = np.any((uv < -0.5) | (uv > 1.5), axis=1)
        far, total = far + int(outside.sum()), total + len(uv)
        beyond = np.any(uv > 1.02, axis=1).mean()
        if beyond > 0.1:
            big.append(name)
        elif len(uv) >= 30 and uv.max() < 0.55:
            small.append(name)
    if far and far >= 0.001 * total:  # a few stray keypoints in tens of thousands say nothing
        logger.warning(
            "%.1f%% of the detected keypoints (%d of %d) lie far outside the calibrated images",
            100.0 * far / total,
            far,
            total,
        )
    for names, how in ((big, "reach beyond"), (small, "stay within half of")):
        if names:
            logger.warning(
                "detections of camera(s) %s %s the calibrated image size: were they made "
                "on images of another resolution? (check the calibration, or --image-size)",
                ", ".join(names),
                how,
            )


@dataclasses.dataclass(frozen=True)
class _Options:
    """The reading options :func:`open_input` passes on."""

    detections_format: str | None
    start: int | None
    end: int | None
    stride: int
    trim: bool
    units: str | None = None
    image_size: tuple[int, int] | None = None


def _open(
    input: PathT | None,
    calibration: PathT | Mapping | None,
    detections: PathT | None,
    options: _Options,
) -> MultiViewDataset:
    """:func:`open_input` before the camera selection: every camera of the input."""
    detections_format = options.detections_format
    start, end, stride = options.start, options.end, options.stride
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
        return _own(None, calibration, detections, options)

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
        if calibration is not None or options.units or options.image_size:
            logger.warning(
                "%s is a dataset folder with its own calibration; --calibration, --units and "
                "--image-size are ignored",
                root,
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
    return _own(root, calibration, detections, options)


def _own(
    root: Path | None, calibration: PathT | Mapping, detections: PathT | None, options: _Options
) -> MultiViewDataset:
    from tessetrack.data.own_cameras import OwnCamerasDataset
    from tessetrack.io.calibration import load_cameras

    where = calibration if isinstance(calibration, (str, PathLike)) else None
    if where is not None and (options.units is not None or options.image_size is not None):
        calibration = load_cameras(where, units=options.units, image_size=options.image_size)
    dataset = OwnCamerasDataset(
        root,
        calibration=calibration,
        detections=detections,
        detections_format=options.detections_format,
        start=options.start,
        end=options.end,
        stride=options.stride,
        trim_to_shortest=options.trim,  # views of different lengths: their common frames (warned)
    )
    if len(dataset) == 0:
        raise InputError("no frames selected (check --start/--end/--stride)", root or detections)
    _check_camera_sizes(dataset, where)
    return dataset
