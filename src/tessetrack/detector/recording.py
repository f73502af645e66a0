"""``tessetrack detect``: the built-in detector over every frame of every camera of a recording.

The output is the detections layout ``tessetrack track --detections`` reads (SPEC.md):

* ``openpose`` (default): ``DIR/<camera>/<frame:012d>_keypoints.json``, BODY25 in
  ``pose_keypoints_2d``, BlazePose's own 33 landmarks in ``blazepose33_keypoints_2d``;
* ``coco``: ``DIR/<camera>.json``, COCO-17 keypoint results (``image_id`` = frame), each with the
  33 landmarks in ``blazepose33``.

Every file is written atomically. A run that is interrupted resumes where it stopped: frames whose
file exists (OpenPose) or whose results are in the camera's file (COCO) are not detected again.
Frames are decoded once, in order.

Inputs are what ``tessetrack track`` reads (:func:`tessetrack.tracking.inputs.open_input`); without
a calibration (none given, none found beside the videos) the videos or image folders are read as
they are and named after their files.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from tessetrack.data.base import MultiViewDataset
from tessetrack.detector.blazepose import BlazePose, BlazePoseConfig, landmarks_to
from tessetrack.errors import InputError
from tessetrack.io.atomic import atomic_write_text

__all__ = ["DetectSummary", "detect_recording", "open_recording", "FORMATS"]

logger = logging.getLogger(__name__)

PathT = str | PathLike[str]
#: Output formats of :func:`detect_recording`.
FORMATS = ("openpose", "coco")
_COCO_FLUSH_EVERY = 200  # images between rewrites of a camera's COCO file (so a crash loses little)

#: ``progress(images_done, images_total)``.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class DetectSummary:
    """What :func:`detect_recording` did.

    Attributes:
        output: the detections folder.
        cameras: camera names, as in the output.
        frames: frames per camera in the selection.
        detected: images run through the detector in this call.
        skipped: images whose detections were already there (an earlier, interrupted run).
        people: people found in the images detected in this call.
        decode_seconds, detect_seconds: wall-clock time spent decoding and detecting.
        people_per_camera: people found per camera in this call.
        duplicates: people the detector found twice in one image in this call, counted once
            above (the built-in detector's ``duplicates``; 0 for a detector without that count).
    """

    output: Path
    cameras: tuple[str, ...]
    frames: int
    detected: int
    skipped: int
    people: int
    decode_seconds: float
    detect_seconds: float
    people_per_camera: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0

    @property
    def images_per_second(self) -> float:
        """Detector throughput (decode excluded)."""
        return self.detected / self.detect_seconds if self.detect_seconds > 0 else float("nan")


def open_recording(
    input: PathT,
    *,
    calibration: PathT | None = None,
    start: int | None = None,
    end: int | None = None,
    stride: int = 1,
    cameras: Sequence[str] | str | None = None,
) -> MultiViewDataset:
    """The frames :func:`detect_recording` reads: ``track``'s input when it has cameras, else
    the videos / image folders named after their files (placeholder cameras)."""
    from tessetrack.data.own_cameras import OwnCamerasDataset, calibration_candidates, find_sources
    from tessetrack.geometry.camera import Camera
    from tessetrack.tracking.inputs import CameraSubset, is_dataset_folder, open_input

    root = Path(input)
    if not root.exists():
        raise InputError("input not found", root)
    if (
        calibration is not None
        or not root.is_dir()
        or is_dataset_folder(root)
        or len(calibration_candidates(root)) == 1
    ):
        return open_input(root, calibration=calibration, start=start, end=end, stride=stride,
                          cameras=cameras)  # fmt: skip
    sources = find_sources(root)
    placeholders = {
        name: Camera(name, np.eye(3), np.eye(3), np.array([0.0, 0.0, 1.0])) for name in sources
    }
    dataset: MultiViewDataset = OwnCamerasDataset(
        dict(sources), calibration=placeholders, start=start, end=end, stride=stride,
        trim_to_shortest=True,
    )  # fmt: skip
    if isinstance(cameras, str):
        cameras = [c.strip() for c in cameras.split(",") if c.strip()]
    return dataset if cameras is None else CameraSubset(dataset, cameras)


def _check_output(output: Path, format: str) -> None:
    if format not in FORMATS:
        raise InputError(f"unknown detections format {format!r}; use {' or '.join(FORMATS)}")
    if output.exists() and not output.is_dir():
        raise InputError("the detections output must be a folder, and this is a file", output)


class _CocoCamera:
    """One camera's COCO results file, kept in memory and rewritten atomically now and then."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.results: list[dict] = []
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot resume: not a COCO results file ({exc})", path) from None
            if not isinstance(loaded, list):
                raise InputError("cannot resume: not a COCO results file (no list)", path)
            self.results = loaded
        self.done = {int(r["image_id"]) for r in self.results if "image_id" in r}
        self.pending = 0

    def add(self, frame: int, landmarks: np.ndarray) -> None:
        coco = landmarks_to(landmarks, "coco17")  # P×17×3
        for person, lm in zip(coco, landmarks, strict=True):
            self.results.append({
                "image_id": int(frame), "category_id": 1,
                "keypoints": [round(float(x), 3) for x in person.reshape(-1)],
                "score": float(person[:, 2].mean()),
                "blazepose33": [round(float(x), 3) for x in lm.reshape(-1)],
            })  # fmt: skip
        self.done.add(int(frame))
        self.pending += 1
        if self.pending >= _COCO_FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.pending or not self.path.exists():
            self.results.sort(key=lambda r: int(r["image_id"]))
            atomic_write_text(self.path, json.dumps(self.results))
            self.pending = 0


def _openpose_file(output: Path, camera: str, frame: int) -> Path:
    return output / camera / f"{int(frame):012d}_keypoints.json"


def _write_openpose(path: Path, landmarks: np.ndarray) -> None:
    from tessetrack.io.detections import write_openpose_frame

    body25 = landmarks_to(landmarks, "body25")  # P×25×3
    extra = [{"blazepose33_keypoints_2d": [round(float(x), 3) for x in lm.reshape(-1)]}
             for lm in landmarks]  # fmt: skip
    write_openpose_frame(path, np.round(body25, 3), extra=extra)


@dataclass
class _Tally:
    """What a detection run has done so far (mutable, local to one run)."""

    per_camera: dict[str, int]
    detected: int = 0
    skipped: int = 0
    people: int = 0
    decode_s: float = 0.0
    detect_s: float = 0.0

    def detect(
        self, det: Callable[[np.ndarray], np.ndarray], load: Callable[[], np.ndarray], cam: str
    ) -> np.ndarray:
        """Decode one image, detect its people (timed and counted); the (P, 33, 3) landmarks."""
        t0 = time.perf_counter()
        image = load()
        t1 = time.perf_counter()
        landmarks = det(image)
        t2 = time.perf_counter()
        self.decode_s += t1 - t0
        self.detect_s += t2 - t1
        self.detected += 1
        self.people += len(landmarks)
        self.per_camera[cam] += len(landmarks)
        return landmarks


def detect_recording(
    input: PathT | MultiViewDataset,
    output: PathT,
    *,
    calibration: PathT | None = None,
    format: str = "openpose",
    start: int | None = None,
    end: int | None = None,
    stride: int = 1,
    cameras: Sequence[str] | str | None = None,
    config: BlazePoseConfig | None = None,
    detector: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: ProgressFn | None = None,
) -> DetectSummary:
    """Detect everyone in every frame of every camera and write the detections.

    Args:
        input: a recording folder (videos, image folders, one image per camera, a dataset folder),
            or a dataset already opened.
        output: the detections folder (created; existing detections in it are kept and reused).
        calibration: optional; names the cameras and checks the frames' sizes.
        format: ``openpose`` or ``coco``.
        start, end, stride, cameras: frame and camera selection, as for ``track``.
        config: detector settings (ignored when ``detector`` is given).
        detector: ``image (H, W, 3) uint8 RGB -> (P, 33, 3)`` landmarks; default: :class:`BlazePose`.
        progress: called as ``progress(images_done, images_total)``.

    Raises:
        InputError: bad input (naming the file), an output that is a file, an unknown format.
        DependencyError: mediapipe missing (says what to install) — before any frame is read.
    """
    out = Path(output)
    _check_output(out, format)
    dataset = (
        input
        if isinstance(input, MultiViewDataset)
        else open_recording(
            input, calibration=calibration, start=start, end=end, stride=stride, cameras=cameras
        )  # fmt: skip
    )
    names = list(dataset.cameras)
    total = len(dataset) * len(names)
    own_detector = detector is None
    det = BlazePose(config) if detector is None else detector
    merged = int(getattr(det, "duplicates", 0))  # the detector's count before this call
    coco = {c: _CocoCamera(out / f"{c}.json") for c in names} if format == "coco" else {}
    tally = _Tally(per_camera=dict.fromkeys(names, 0))
    try:
        for frame in dataset:
            for cam in names:
                done = (
                    frame.frame in coco[cam].done
                    if coco
                    else _openpose_file(out, cam, frame.frame).is_file()
                )
                load = frame.images.get(cam)
                if done or load is None:
                    tally.skipped += done
                else:
                    landmarks = tally.detect(det, load, cam)
                    if coco:
                        coco[cam].add(frame.frame, landmarks)
                    else:
                        _write_openpose(_openpose_file(out, cam, frame.frame), landmarks)
                if progress is not None:
                    progress(tally.detected + tally.skipped, total)
    finally:
        for c in coco.values():
            c.flush()
        if own_detector:
            det.close()  # type: ignore[union-attr]
    return DetectSummary(
        output=out, cameras=tuple(names), frames=len(dataset), detected=tally.detected,
        skipped=tally.skipped, people=tally.people, decode_seconds=tally.decode_s,
        detect_seconds=tally.detect_s, people_per_camera=tally.per_camera,
        duplicates=int(getattr(det, "duplicates", 0)) - merged,
    )  # fmt: skip
