"""``tessetrack detect``: the built-in detector over every frame of every camera of a recording.

The output is the detections layout ``tessetrack track --detections`` reads (SPEC.md):

* ``openpose`` (default): ``DIR/<camera>/<frame:012d>_keypoints.json``, BODY25 in
  ``pose_keypoints_2d``, BlazePose's own 33 landmarks in ``blazepose33_keypoints_2d``;
* ``coco``: ``DIR/<camera>.json``, COCO-17 keypoint results (``image_id`` = frame), each with the
  33 landmarks in ``blazepose33``.

Every file is written atomically. A run that is interrupted resumes where it stopped: frames whose
file exists (OpenPose) or whose results are in the camera's file (COCO) are not detected again.
Frames are decoded once, in order.

The built-in detector's settings are written beside the detections (:data:`SETTINGS_FILE`). A run
with other settings, or of a release whose detector finds other people (:data:`DETECTOR_REVISION`),
does not add to detections made before: it refuses while images are left to detect (the two would
mix), and reuses finished ones with a warning that says how to detect again.

Inputs are what ``tessetrack track`` reads (:func:`tessetrack.tracking.inputs.open_input`); without
a calibration (none given, none found beside the videos) the videos or image folders are read as
they are and named after their files.
"""

from __future__ import annotations

import dataclasses
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

__all__ = [
    "DetectSummary",
    "detect_recording",
    "open_recording",
    "FORMATS",
    "DETECTOR_REVISION",
    "SETTINGS_FILE",
    "detector_settings",
    "read_detector_settings",
]

logger = logging.getLogger(__name__)

PathT = str | PathLike[str]
#: Output formats of :func:`detect_recording`.
FORMATS = ("openpose", "coco")
_COCO_FLUSH_EVERY = 200  # images between rewrites of a camera's COCO file (so a crash loses little)
#: Changes when the built-in detector finds other people with the same settings: 2 searches each
#: image a second time and keeps a person found twice once (detections written before 0.9.6, by
#: revision 1, carry no settings file); its tiles are settings of their own.
DETECTOR_REVISION = 2
#: The file in a detections folder that holds the built-in detector's settings (``key = value``
#: lines; not ``.json``, which would read as a camera of a COCO folder).
SETTINGS_FILE = "detector_settings.txt"

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


def detector_settings(config: BlazePoseConfig) -> dict[str, str]:
    """What :data:`SETTINGS_FILE` records of ``config``: the detector's revision and every field,
    as their ``repr``."""
    values = {"revision": DETECTOR_REVISION}
    for f in dataclasses.fields(config):  # as the field's own type: 1 and 1.0, NumPy scalars alike
        default = f.default
        values[f.name] = type(default)(getattr(config, f.name))
    if not config.mirror:  # one reading: how two would be merged changes nothing
        del values["mirror_agree"]
    return {k: repr(v) for k, v in values.items()}


#: Settings added after the settings file was: the value the releases before them used.
_IMPLIED = {"mirror": repr(False)}


def read_detector_settings(folder: Path) -> dict[str, str] | None:
    """The settings a detections folder records (:data:`SETTINGS_FILE`), or None without one; a
    setting added to the detector since that file was written reads as the value the detector
    then had (``mirror``: False, one reading)."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read the detector's settings ({exc.strerror})", path) from None
    settings: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            settings[key.strip()] = value.partition("#")[0].strip()
    settings.pop("tessetrack", None)  # the release that wrote it: informative only
    for key, value in _IMPLIED.items():  # not recorded then: that release's behaviour
        settings.setdefault(key, value)
    return settings


def _write_settings(folder: Path, settings: dict[str, str]) -> None:
    from tessetrack import __version__

    lines = [
        "# The built-in detector wrote the detections in this folder with these settings.",
        "# tessetrack does not add detections made with other settings to them: delete the",
        "# folder to detect again.",
        f"tessetrack = {__version__}",
        *(f"{k} = {v}" for k, v in settings.items()),
    ]
    atomic_write_text(folder / SETTINGS_FILE, "\n".join(lines) + "\n")


def _differences(have: dict[str, str] | None, want: dict[str, str]) -> str:
    """How the recorded settings differ from this run's, in words."""
    if have is None:
        return (
            f"without a {SETTINGS_FILE} (by another detector, or by a release before 0.9.6 whose "
            "detector searched each image once)"
        )
    changed = [f"{k} {have.get(k, 'unset')} (now {v})" for k, v in want.items() if have.get(k) != v]
    changed += [f"{k} {have[k]} (now unset)" for k in have if k not in want]
    return "with other settings: " + ", ".join(changed)


def _holds_detections(out: Path) -> bool:
    """Whether ``out`` holds any detections, of any camera, frame or format."""
    if not out.is_dir():
        return False
    return any(out.glob("*/*_keypoints.json")) or any(out.glob("*.json"))


def _check_settings(
    out: Path, config: BlazePoseConfig, count_found: Callable[[], int], total: int
) -> dict[str, str] | None:
    """Whether this run may add to ``out``'s detections (refused while some of its ``total``
    images remain and the ``count_found()`` finished ones were made with other settings;
    finished ones are reused with a warning). ``count_found`` is called only there: a resumed
    run with the recorded settings, or a new folder, looks at no image's file here.

    Returns:
        the settings to record, where the folder holds no detections yet; else None.
    """
    want = detector_settings(config)
    have = read_detector_settings(out)
    if have == want:
        return None
    if not _holds_detections(out):  # of any camera or frame: this run's selection or not
        return want
    what = _differences(have, want)
    found = count_found()
    left = total - found
    if left or not found:
        redo = "" if have is None else ", rerun with the recorded settings"
        raise InputError(
            f"holds detections made {what}; detecting the {left} images left with this run's "
            f"settings would mix the two: delete the folder to detect again{redo}, or write to "
            "another",
            out,
        )
    logger.warning(
        "%s: its detections were made %s; reused as they are (delete the folder to detect again)",
        out,
        what,
    )
    return None


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
    if not isinstance(input, MultiViewDataset):
        input = open_recording(input, calibration=calibration, start=start, end=end,
                               stride=stride, cameras=cameras)  # fmt: skip
    dataset = input
    names = list(dataset.cameras)
    total = len(dataset) * len(names)
    own_detector = detector is None
    config = config or BlazePoseConfig()  # the settings recorded (built-in detector) are those used
    coco = {c: _CocoCamera(out / f"{c}.json") for c in names} if format == "coco" else {}

    def done(frame: int, cam: str) -> bool:
        return frame in coco[cam].done if coco else _openpose_file(out, cam, frame).is_file()

    count_found = lambda: sum(done(f, c) for f in dataset.frames for c in names)  # noqa: E731
    settings = _check_settings(out, config, count_found, total) if own_detector else None
    det = BlazePose(config) if detector is None else detector
    merged = int(getattr(det, "duplicates", 0))  # the detector's count before this call
    tally = _Tally(per_camera=dict.fromkeys(names, 0))
    try:
        if settings is not None:
            out.mkdir(parents=True, exist_ok=True)
            _write_settings(out, settings)
        for frame in dataset:
            for cam in names:
                done_before = done(frame.frame, cam)
                load = frame.images.get(cam)
                if done_before or load is None:
                    tally.skipped += done_before
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
