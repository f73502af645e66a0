"""Your own recordings: synchronized videos or image folders, a calibration, optional 2D detections.

:class:`OwnCamerasDataset` pairs one frame source per camera (a video file or a folder of images,
:mod:`tessetrack.io.video`) with the cameras of any calibration file that
:func:`tessetrack.io.calibration.load_cameras` understands, and optionally with per-camera 2D
detections (:mod:`tessetrack.io.detections`). It has no ground truth.

Camera names vs file names (:func:`match_sources`): a video ``cam01.mp4`` or a folder ``cam01/``
belongs to the calibration camera whose name is, in this order of preference, equal to the file
stem; equal ignoring case; contained in the stem but not inside a longer number (the longest such
name: camera ``"cam1"`` is in ``video_cam1.mp4`` but not in ``cam12.mp4``); or equal as a number
(camera ``"1"`` and ``cam01``). When no file matches by name but there are as many files as
cameras, they are paired in natural sorted order and a warning is logged. Any other file without
a camera is an error naming it and listing the calibration's cameras.

Image size: frames a few pixels (at most 16) off the calibrated size in one direction only (a codec's
padding to whole 16-pixel blocks: 1080 vs 1088 rows) keep the intrinsics (warned). Otherwise a camera
whose calibrated image size differs from its frames' size but has the same aspect ratio (within 1 %) is
rescaled with :meth:`Camera.scaled` (logged); a different aspect ratio
(a rotated or cropped video) is an error. A camera without a calibrated size takes the frames'.
Detections are taken to be in pixels of the frames as decoded.

Frames are numbered from 0 in every view; views of different lengths or frame rates are an error
unless ``trim_to_shortest``. World units are those of the calibration reader: metres.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
import re
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Union

from tessetrack.data.base import MultiViewDataset
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.detections import Detections2D, load_detections
from tessetrack.io.video import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    FrameSource,
    check_synchronized,
    list_images,
    natural_key,
    open_frames,
)
from tessetrack.structures import MultiViewFrame

__all__ = [
    "OwnCamerasDataset",
    "match_sources",
    "find_sources",
    "fit_camera_to_frames",
    "calibration_candidates",
]

logger = logging.getLogger(__name__)

PathT = Union[str, "PathLike[str]"]
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_ASPECT_TOLERANCE = 0.01
_CODEC_PADDING = 16  # pixels a codec may pad or crop on one side (macroblocks of 16)


def _number(name: str) -> int | None:
    m = _LAST_NUMBER.search(name)
    return None if m is None else int(m.group(1))


def _contains(name: str, camera: str) -> bool:
    """``camera`` occurs in ``name`` (ignoring case), not as part of a longer number.

    ``"cam1"`` is in ``"video_cam1"`` but not in ``"video_cam12"``; ``"0"`` is not in ``"cam04"``.
    """
    before = r"(?<!\d)" if camera[0].isdigit() else ""
    after = r"(?!\d)" if camera[-1].isdigit() else ""
    return re.search(before + re.escape(camera) + after, name, flags=re.IGNORECASE) is not None


def _by_rule(name: str, candidates: list[str], rule: int) -> str | None:
    """The unique camera among ``candidates`` that ``name`` matches under ``rule`` (0..3)."""
    if rule == 0:
        hits = [c for c in candidates if c == name]
    elif rule == 1:
        hits = [c for c in candidates if c.lower() == name.lower()]
    elif rule == 2:
        contained = [c for c in candidates if c and _contains(name, c)]
        longest = max((len(c) for c in contained), default=0)
        hits = [c for c in contained if len(c) == longest]
    else:
        n = _number(name)
        hits = [] if n is None else [c for c in candidates if _number(c) == n]
    return hits[0] if len(hits) == 1 else None


def match_sources(
    sources: Sequence[str], cameras: Sequence[str], what: str = "video", where: PathT | None = None
) -> dict[str, str]:
    """Pair file/folder names with calibration camera names (see the module docstring).

    Args:
        sources: names of the per-camera inputs (file stems or folder names).
        cameras: the calibration's camera names.
        what: the kind of input, for messages (``video``, ``detections folder``, ...).
        where: the folder the inputs came from, for messages.

    Returns:
        ``source -> camera``, one-to-one, for every source.

    Raises:
        InputError: naming the source that has no camera and listing the calibration's cameras.
    """
    free = list(cameras)
    pairs: dict[str, str] = {}
    for rule in range(4):
        claims: dict[str, list[str]] = {}
        for s in sources:
            if s not in pairs:
                cam = _by_rule(s, free, rule)
                if cam is not None:
                    claims.setdefault(cam, []).append(s)
        for cam, claimants in claims.items():
            if len(claimants) == 1:  # two files claiming one camera: leave both for later
                pairs[claimants[0]] = cam
                free.remove(cam)
    left = [s for s in sources if s not in pairs]
    if left and not pairs and len(sources) == len(cameras):
        left_sorted = sorted(left, key=natural_key)
        free_sorted = sorted(free, key=natural_key)
        logger.warning(
            "%s names do not match the calibration's camera names; pairing them in sorted "
            "order: %s",
            what,
            ", ".join(f"{s} -> {c}" for s, c in zip(left_sorted, free_sorted, strict=True)),
        )
        pairs.update(zip(left_sorted, free_sorted, strict=True))
    elif left:
        raise InputError(
            f"{what} {', '.join(repr(s) for s in left)} match(es) no camera of the calibration "
            f"({len(sources)} {what}s, {len(cameras)} cameras); the calibration has "
            f"{', '.join(sorted(cameras, key=natural_key))}. Rename the {what}s after the cameras",
            where,
        )
    return {s: pairs[s] for s in sources}


def find_sources(root: PathT) -> dict[str, Path]:
    """The per-camera frame sources in a folder: ``name -> video file or image folder``.

    Video files (:data:`~tessetrack.io.video.VIDEO_SUFFIXES`) directly in ``root`` are used first
    (name = file stem); otherwise the subfolders that hold images (name = folder name); otherwise
    image files directly in ``root``, one per camera (one frame each, name = file stem: a single
    snapshot of every view, e.g. ``view_0.jpg`` ... beside ``calibration.json``); otherwise the
    same search inside ``root/videos`` or ``root/images``.

    Raises:
        InputError: when nothing is found or two videos share a stem.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("folder of videos or image folders not found", root)
    for folder in (root, root / "videos", root / "images"):
        if not folder.is_dir():
            continue
        entries = sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
        videos = [p for p in entries if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
        image_dirs = [p for p in entries if p.is_dir() and list_images(p)]
        if videos:
            if image_dirs:
                logger.warning("%s holds both videos and image folders; using the videos", folder)
            stems = [p.stem for p in videos]
            dupes = sorted({s for s in stems if stems.count(s) > 1})
            if dupes:
                raise InputError(f"several videos named {', '.join(dupes)}", folder)
            return {p.stem: p for p in videos}
        if image_dirs:
            return {p.name: p for p in image_dirs}
        images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if images:
            return {p.stem: p for p in images}
    raise InputError(
        "no video files, image folders (one per camera) or images (one per camera) found here or "
        "in videos/ or images/",
        root,
    )


def _warn_off_centre(cameras: Mapping[str, Camera], where: PathT) -> None:
    """One warning naming the cameras whose principal point lies outside the middle half of their
    frames: a calibration made for images of another resolution (it names the size it suggests)."""
    off = []
    for name, cam in cameras.items():
        cx, cy = cam.K[0, 2], cam.K[1, 2]
        if not (
            0.25 * cam.width <= cx <= 0.75 * cam.width
            and 0.25 * cam.height <= cy <= 0.75 * cam.height
        ):
            off.append(f"{name} ({cx:.0f}, {cy:.0f} in {cam.width}x{cam.height}, as if made for "
                       f"~{2 * cx:.0f}x{2 * cy:.0f})")  # fmt: skip
    if off:
        logger.warning(
            "%s: the principal point of %d camera(s) lies far from the image centre: %s; was the "
            "calibration made for images of another size? (pass --image-size WxH of those images)",
            where, len(off), "; ".join(off),
        )  # fmt: skip


def fit_camera_to_frames(camera: Camera, size: tuple[int, int], where: PathT) -> Camera:
    """The camera for frames of ``size = (width, height)`` (see the module docstring).

    Raises:
        InputError: when the aspect ratios differ by more than 1 %.
    """
    w, h = size
    if camera.width <= 0 or camera.height <= 0:
        return dataclasses.replace(camera, width=w, height=h)
    if (camera.width, camera.height) == (w, h):
        return camera
    dw, dh = w - camera.width, h - camera.height
    if (dw == 0 or dh == 0) and max(abs(dw), abs(dh)) <= _CODEC_PADDING:
        # one side a few pixels off (1080 vs 1088 rows): a codec pads or crops the last rows or
        # columns to a multiple of 16; the pixels that exist are where the calibration had them
        logger.warning(
            "camera %s: calibrated for %dx%d, frames are %dx%d; taking the %d extra/missing "
            "%s as padding or cropping at the image's edge (intrinsics kept)",
            camera.name, camera.width, camera.height, w, h, max(abs(dw), abs(dh)),
            "rows" if dh else "columns",
        )  # fmt: skip
        return dataclasses.replace(camera, width=w, height=h)
    ratio = (w / h) / (camera.width / camera.height)
    if abs(ratio - 1.0) > _ASPECT_TOLERANCE:
        raise InputError(
            f"frames are {w}x{h} but camera {camera.name!r} is calibrated for "
            f"{camera.width}x{camera.height} (a different aspect ratio: rotated or cropped "
            "video?); use the frames the calibration was made with",
            where,
        )
    logger.info(
        "camera %s: calibrated for %dx%d, frames are %dx%d; rescaling the intrinsics",
        camera.name,
        camera.width,
        camera.height,
        w,
        h,
    )
    return camera.scaled(w, h)


def calibration_candidates(root: PathT) -> list[Path]:
    """Files that look like the calibration of the recording in ``root``: named ``calib*``,
    ``camera_parameters*`` or ``*.qca.txt``, in ``root``, in ``root/calibration/`` or in a sibling ``calibration/`` folder."""
    root = Path(root)
    candidates: list[Path] = []
    for folder in (root, root / "calibration", root.parent / "calibration"):
        if folder.is_dir():
            candidates += [
                p
                for p in sorted(folder.iterdir())
                if p.is_file()
                and (
                    p.name.lower().startswith(("calib", "camera_parameters"))
                    or p.name.lower().endswith(".qca.txt")
                )
            ]
    return candidates


def _find_calibration(root: Path) -> Path:
    candidates = calibration_candidates(root)
    if len(candidates) != 1:
        found = ", ".join(str(p) for p in candidates) or "none"
        raise InputError(
            f"give the calibration file (calibration=...); found {found} next to the videos", root
        )
    return candidates[0]


def _frames_with_gaps(frames: Sequence[int], where: PathT) -> list[int]:
    """Every frame from the first detected to the last, at the detections' frame step (the gcd
    of their gaps): a frame without detections in any camera stays in the output (one warning
    counts them)."""
    if len(frames) < 2:
        return list(frames)
    step = functools.reduce(math.gcd, (b - a for a, b in itertools.pairwise(frames)))
    full = list(range(frames[0], frames[-1] + 1, step))
    gaps = len(full) - len(frames)
    if gaps:
        present = set(frames)
        first = next(f for f in full if f not in present)
        logger.warning(
            "%s: %d frame(s) between %d and %d have no detections in any camera (first: %d); "
            "they are kept in the output",
            where,
            gaps,
            frames[0],
            frames[-1],
            first,
        )
    return full


def _log_uncovered(
    sources: Mapping[str, FrameSource], detections: Detections2D, where: object
) -> None:
    """Log the cameras with images but no detections (their views are left out)."""
    missing = [c for c in sources if c not in detections.by_camera]
    if missing:  # the runner's count of views without input warns when tracking
        logger.info(
            "%s has no detections for %d of the %d cameras with images (%s); their views are "
            "left out",
            where if isinstance(where, (str, PathLike)) else "the detections",
            len(missing),
            len(sources),
            ", ".join(sorted(missing, key=natural_key)),
        )


def _warn_unused_cameras(
    calibrated: Mapping[str, Camera],
    used: Mapping[str, Camera],
    calibration: object,
    where: PathT,
) -> None:
    """One warning naming the calibration's cameras that have no input (left out)."""
    unused = [c for c in calibrated if c not in used]
    if unused:
        source = calibration if isinstance(calibration, (str, PathLike)) else "the calibration"
        logger.warning(
            "%s: %d of the %d cameras of %s have no video, images or detections (%s); tracking "
            "with %d",
            where,
            len(unused),
            len(calibrated),
            source,
            ", ".join(sorted(unused, key=natural_key)),
            len(used),
        )


class OwnCamerasDataset(MultiViewDataset):
    """Synchronized videos / image folders (one per camera) + a calibration (+ 2D detections).

    Args:
        root_or_paths: a folder (see :func:`find_sources`), a list of video files / image folders
            (named by stem / folder name), a mapping ``camera name -> video or image folder`` (no
            name matching), or None when only ``detections`` are given.
        calibration: a calibration file for :func:`tessetrack.io.calibration.load_cameras`, or
            cameras already loaded (``name -> Camera``); None looks for one file named
            ``calib*``/``*.qca.txt`` in the folder, its ``calibration/`` or its sibling
            ``calibration/``.
        detections: a detections folder/file (:func:`tessetrack.io.detections.load_detections`)
            or loaded :class:`Detections2D`; its camera names are matched like the videos'.
        detections_format: ``openpose``, ``coco`` or None (auto).
        trim_to_shortest: accept views of different lengths, using the shortest.
        fps: frame rate for image folders (videos report theirs).
        start, end, stride, cameras: frame and camera selection (see :class:`MultiViewDataset`).

    Raises:
        InputError: missing inputs, unmatched names, views that disagree in length or frame
            rate, frames whose aspect ratio differs from the calibration's.
    """

    def __init__(
        self,
        root_or_paths: PathT | Sequence[PathT] | Mapping[str, PathT] | None = None,
        *,
        calibration: PathT | Mapping[str, Camera] | None = None,
        detections: PathT | Detections2D | None = None,
        detections_format: str | None = None,
        trim_to_shortest: bool = False,
        fps: float | None = None,
        start: int | None = None,
        end: int | None = None,
        stride: int = 1,
        cameras: Sequence[str] | None = None,
    ) -> None:
        if root_or_paths is None and detections is None:
            raise InputError("give videos / image folders, detections, or both")
        root = self._root_of(root_or_paths, detections)
        all_cameras = self._load_calibration(calibration, root)

        # frame sources, by calibration camera name
        self.sources: dict[str, FrameSource] = {}
        if root_or_paths is not None:
            paths = self._source_paths(root_or_paths, all_cameras, root)
            self.sources = {cam: open_frames(p, fps=fps) for cam, p in paths.items()}
        # detections, renamed to calibration camera names
        self.detections: Detections2D | None = None
        if detections is not None:
            dets = (
                detections
                if isinstance(detections, Detections2D)
                else load_detections(detections, format=detections_format)
            )
            where = None if isinstance(detections, Detections2D) else detections
            names = match_sources(
                list(dets.by_camera), list(all_cameras), "detections folder", where
            )
            self.detections = dets.renamed(names)

        if self.sources:
            length = check_synchronized(self.sources, trim_to_shortest=trim_to_shortest)
            frame_ids = list(range(length))
            rates = [s.fps for s in self.sources.values() if s.fps is not None]
            rate = rates[0] if rates else fps
            used = {
                cam: fit_camera_to_frames(all_cameras[cam], s.size, s.path)
                for cam, s in self.sources.items()
            }
            _warn_off_centre(used, root)
            if self.detections is not None:
                _log_uncovered(self.sources, self.detections, detections)
                beyond = [f for f in self.detections.frames if f >= length]
                if beyond:
                    logger.warning(
                        "detections of %d frame(s) from %d on lie beyond the %d video frames; "
                        "ignored",
                        len(beyond),
                        beyond[0],
                        length,
                    )
        else:
            if self.detections is None:
                raise InputError("give videos / image folders, detections, or both", root)
            frame_ids = _frames_with_gaps(self.detections.frames, root)
            rate = fps
            used = {cam: all_cameras[cam] for cam in self.detections.cameras}
        used = {cam: used[cam] for cam in sorted(used, key=natural_key)}
        _warn_unused_cameras(all_cameras, used, calibration, root)
        super().__init__(
            root=root,
            cameras=used,
            frames=frame_ids,
            joint_set="panoptic19",
            fps=rate,
            start=start,
            end=end,
            stride=stride,
            camera_names=cameras,
        )

    # -- construction helpers ---------------------------------------------------------------------
    @staticmethod
    def _root_of(
        root_or_paths: PathT | Sequence[PathT] | Mapping[str, PathT] | None,
        detections: PathT | Detections2D | None,
    ) -> Path:
        if isinstance(root_or_paths, (str, PathLike)):
            return Path(root_or_paths)
        if isinstance(root_or_paths, Mapping) and root_or_paths:
            return Path(next(iter(root_or_paths.values()))).parent
        if isinstance(root_or_paths, Sequence) and root_or_paths:
            return Path(root_or_paths[0]).parent
        if isinstance(detections, (str, PathLike)):
            return Path(detections)
        return Path(".")

    @staticmethod
    def _load_calibration(
        calibration: PathT | Mapping[str, Camera] | None, root: Path
    ) -> dict[str, Camera]:
        if isinstance(calibration, Mapping):
            cams = {str(k): v for k, v in calibration.items()}
        else:
            from tessetrack.io.calibration import load_cameras

            path = Path(calibration) if calibration is not None else _find_calibration(root)
            cams = dict(load_cameras(path))
        if not cams:
            raise InputError(
                "the calibration holds no cameras",
                None if isinstance(calibration, Mapping) else calibration,
            )
        return cams

    @staticmethod
    def _source_paths(
        root_or_paths: PathT | Sequence[PathT] | Mapping[str, PathT],
        cameras: Mapping[str, Camera],
        root: Path,
    ) -> dict[str, Path]:
        if isinstance(root_or_paths, Mapping):
            paths = {str(k): Path(v) for k, v in root_or_paths.items()}
            unknown = [k for k in paths if k not in cameras]
            if unknown:
                raise InputError(
                    f"camera(s) {', '.join(unknown)} not in the calibration; it has "
                    f"{', '.join(sorted(cameras, key=natural_key))}",
                    root,
                )
            return paths
        if isinstance(root_or_paths, (str, PathLike)):
            found = find_sources(root_or_paths)
            what = "video" if next(iter(found.values())).is_file() else "image folder"
        else:
            found = {}
            for p in map(Path, root_or_paths):
                name = p.name if p.is_dir() else p.stem
                if name in found:
                    raise InputError(f"two inputs named {name!r}: {found[name]} and {p}")
                found[name] = p
            what = "input"
        names = match_sources(list(found), list(cameras), what, root)
        return {names[s]: p for s, p in found.items()}

    # -- frames -----------------------------------------------------------------------------------
    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        images = {
            cam: functools.partial(self.sources[cam].read, frame_id)
            for cam in self.cameras
            if cam in self.sources
        }
        dets = {}
        dets_set = None
        if self.detections is not None:
            dets = {  # a camera the detections do not cover has no entry: its view is left out
                cam: self.detections.get(cam, frame_id)
                for cam in self.cameras
                if cam in self.detections.by_camera
            }
            dets_set = self.detections.joint_set
        return MultiViewFrame(
            frame=frame_id,
            cameras=self.cameras,
            images=images,
            joint_set=self.joint_set,
            detections=dets,
            detections_joint_set=dets_set,
        )
