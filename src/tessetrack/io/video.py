"""Frames from video files and image folders, one camera each, as H×W×3 uint8 RGB arrays.

Two readers share one small interface (:class:`FrameSource`): ``len``, ``fps``, ``size`` as
``(width, height)``, random access ``read(i)`` and sequential iteration.

* :class:`VideoReader` decodes with OpenCV's ``cv2.VideoCapture``. Reading frames in order is a
  plain decode; any other index seeks first. The frame count is the container's metadata.
* :class:`ImageFolderReader` reads the ``.jpg/.jpeg/.png/.bmp`` files of a folder in *natural*
  order (``img2.png`` before ``img10.png``).

:func:`open_frames` picks the reader from the path; :func:`check_synchronized` checks that the
views of one recording have the same length and frame rate (or trims them to the shortest).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from tessetrack.errors import InputError

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "FrameSource",
    "VideoReader",
    "ImageFolderReader",
    "natural_key",
    "list_images",
    "open_frames",
    "check_synchronized",
    "read_image_rgb",
]

logger = logging.getLogger(__name__)

#: File suffixes (lower case) read as images by :class:`ImageFolderReader`.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")
#: File suffixes (lower case) recognised as videos when scanning folders.
VIDEO_SUFFIXES: tuple[str, ...] = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".m4v",
    ".webm",
    ".mpg",
    ".mpeg",
    ".wmv",
)

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key ordering embedded numbers by value: ``f2.png < f10.png``, ``cam1 < cam02 < cam3``.

    Text parts compare case-insensitively; ties (``f01`` vs ``f1``) fall back to the raw name.
    """
    parts = _DIGITS.split(name)
    key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p != "")
    return (key, name)


def list_images(folder: Path) -> list[Path]:
    """The image files (:data:`IMAGE_SUFFIXES`) directly inside ``folder``, in natural order."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


@runtime_checkable
class FrameSource(Protocol):
    """What every frame reader offers."""

    path: Path

    def __len__(self) -> int: ...

    @property
    def fps(self) -> float | None: ...

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        ...

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as an H×W×3 uint8 RGB array."""
        ...

    def __iter__(self) -> Iterator[np.ndarray]: ...


def _check_index(index: int, length: int, path: Path) -> int:
    i = int(index)
    if i < 0:
        i += length
    if not 0 <= i < length:
        raise IndexError(f"{path}: frame {index} out of range (0..{length - 1})")
    return i


def _bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1])  # H×W×3, BGR -> RGB


class VideoReader:
    """Frames of one video file, decoded with ``cv2.VideoCapture``.

    Args:
        path: the video file.
        fps: frame rate to report when the container stores none (ignored otherwise).

    Raises:
        InputError: when the file is missing, cannot be opened, reports no frames, or its first
            frame cannot be decoded.

    The reader is picklable (for ``DataLoader`` workers): the capture is reopened lazily.
    """

    def __init__(self, path: str | PathLike[str], fps: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("video file not found", self.path)
        self._cap: cv2.VideoCapture | None = None
        self._next = 0  # index of the frame the next cap.read() returns
        cap = self._capture()
        count = int(round(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        rate = float(cap.get(cv2.CAP_PROP_FPS))
        first = self._decode_next()
        if first is None:
            self.close()
            raise InputError(
                "could not decode the first frame (unsupported codec or corrupted file)", self.path
            )
        self._height, self._width = int(first.shape[0]), int(first.shape[1])
        if count <= 0:  # some containers do not store it: count by decoding (slow, rare)
            logger.info("%s: no frame count in the container; counting frames", self.path)
            count = 1
            while cap.grab():
                count += 1
            self._seek(0)
        self._len = count
        self._fps = (
            rate if math.isfinite(rate) and rate > 0 else (None if fps is None else float(fps))
        )

    # -- the FrameSource interface ----------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float | None:
        """Frames per second from the container, or None when it does not say."""
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the decoded frames."""
        return self._width, self._height

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end) as an H×W×3 uint8 RGB array.

        Raises:
            IndexError: outside ``0..len-1``.
            InputError: when the frame cannot be decoded (e.g. a truncated file).
        """
        i = _check_index(index, self._len, self.path)
        if i != self._next:
            self._seek(i)
        frame = self._decode_next()
        if frame is None:
            raise InputError(
                f"could not decode frame {i} of {self._len} (truncated file or wrong frame count)",
                self.path,
            )
        return _bgr_to_rgb(frame)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self._len):
            yield self.read(i)

    def close(self) -> None:
        """Release the decoder (it is reopened on the next read)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._next = 0

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cap"], state["_next"] = None, 0
        return state

    def __repr__(self) -> str:
        return f"VideoReader({str(self.path)!r}, {len(self)} frames, {self._width}x{self._height}, fps={self._fps})"

    # -- helpers ------------------------------------------------------------------------------------
    def _capture(self) -> cv2.VideoCapture:
        if self._cap is None:
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                cap.release()
                raise InputError(
                    "cannot open the video (not a video file, or a codec OpenCV lacks)", self.path
                )
            self._cap, self._next = cap, 0
        return self._cap

    def _seek(self, index: int) -> None:
        cap = self._capture()
        cap.set(cv2.CAP_PROP_POS_FRAMES, float(index))
        self._next = index

    def _decode_next(self) -> np.ndarray | None:
        ok, frame = self._capture().read()
        if not ok or frame is None:
            self._next = -1  # unknown position: the next read seeks
            return None
        self._next += 1
        return frame


class ImageFolderReader:
    """Frames stored as image files in one folder (``.jpg/.jpeg/.png/.bmp``), in natural order;
    or one image file: a camera with a single frame.

    Args:
        folder: the folder (files with other suffixes are ignored), or one image file.
        fps: frame rate to report (image folders do not store one); None when unknown.

    Raises:
        InputError: when the folder is missing, holds no images, or its first image cannot be read.
    """

    def __init__(self, folder: str | PathLike[str], fps: float | None = None) -> None:
        self.path = Path(folder)
        if self.path.is_file() and self.path.suffix.lower() in IMAGE_SUFFIXES:
            self.files: tuple[Path, ...] = (self.path,)
        elif not self.path.is_dir():
            raise InputError("image folder not found", self.path)
        else:
            self.files = tuple(list_images(self.path))
        if not self.files:
            raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in this folder", self.path)
        self._fps = None if fps is None else float(fps)
        first = self._imread(self.files[0])
        self._height, self._width = int(first.shape[0]), int(first.shape[1])

    def __len__(self) -> int:
        return len(self.files)

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the first image (all images must have it)."""
        return self._width, self._height

    def read(self, index: int) -> np.ndarray:
        """Image ``index`` of the sorted list as an H×W×3 uint8 RGB array.

        Raises:
            IndexError: outside ``0..len-1``.
            InputError: when the file cannot be decoded or its size differs from the first image.
        """
        path = self.files[_check_index(index, len(self.files), self.path)]
        image = self._imread(path)
        if (image.shape[1], image.shape[0]) != (self._width, self._height):
            raise InputError(
                f"image is {image.shape[1]}x{image.shape[0]} but the folder's first image is "
                f"{self._width}x{self._height}",
                path,
            )
        return image

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self.files)):
            yield self.read(i)

    def __repr__(self) -> str:
        return f"ImageFolderReader({str(self.path)!r}, {len(self)} images, {self._width}x{self._height})"

    @staticmethod
    def _imread(path: Path) -> np.ndarray:
        return read_image_rgb(path)


def read_image_rgb(path: str | PathLike[str]) -> np.ndarray:
    """Read one image file as an H×W×3 uint8 RGB array, refusing what cannot be decoded.

    ``cv2.imread`` returns None *silently* for a corrupt, truncated or empty file; this reads the bytes
    itself (``np.fromfile`` also handles non-ASCII paths) and checks the decode.

    Raises:
        InputError: naming the file, when it is missing, empty, or cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("cannot read image: file not found", path)
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise InputError("cannot read image: the file is empty (0 bytes)", path)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(
            f"cannot read image: cannot decode its {data.size} bytes (corrupted, truncated or not an "
            "image)",
            path,
        )
    return _bgr_to_rgb(image)


def open_frames(
    path: str | PathLike[str], fps: float | None = None
) -> VideoReader | ImageFolderReader:
    """Open a video file or an image folder, chosen by what ``path`` is.

    Args:
        path: a video file (any container OpenCV can decode), a folder of images, or one image
            (a single frame).
        fps: frame rate for an image folder; for a video it overrides the container's value only
            when the container has none.

    Raises:
        InputError: for a missing path.
    """
    p = Path(path)
    if p.is_dir():
        return ImageFolderReader(p, fps=fps)
    if not p.exists():
        raise InputError("no such video file or image folder", p)
    if p.suffix.lower() in IMAGE_SUFFIXES:  # one image: a camera with a single frame
        return ImageFolderReader(p, fps=fps)
    return VideoReader(p, fps=fps)


def check_synchronized(
    sources: Mapping[str, FrameSource],
    *,
    trim_to_shortest: bool = False,
    fps_tolerance: float = 1e-3,
) -> int:
    """Check that synchronized views agree in frame rate and length; return the common length.

    Args:
        sources: frame readers by camera name.
        trim_to_shortest: when the lengths differ, use the shortest (logged) instead of failing.
        fps_tolerance: relative difference of frame rates that still counts as equal. Views
            without a frame rate (image folders) are not compared.

    Returns:
        the number of frames every view can deliver.

    Raises:
        InputError: no sources; frame rates that differ; lengths that differ (unless trimming).
            The message names each file with its length or rate.
    """
    if not sources:
        raise InputError("no videos or image folders given")
    rates = {name: s.fps for name, s in sources.items() if s.fps is not None}
    if rates:
        ref = max(rates.values())
        if any(abs(r - ref) > fps_tolerance * ref for r in rates.values()):
            listing = ", ".join(f"{sources[n].path} ({r:g} fps)" for n, r in rates.items())
            raise InputError(
                f"views have different frame rates: {listing}; resample them to one rate first"
            )
    lengths = {name: len(s) for name, s in sources.items()}
    shortest = min(lengths.values())
    if shortest != max(lengths.values()):
        listing = ", ".join(f"{sources[n].path} ({k} frames)" for n, k in lengths.items())
        if not trim_to_shortest:
            raise InputError(
                f"views have different lengths: {listing}; cut them to one length or use the "
                "common frames (--trim)"
            )
        logger.warning(
            "views have different lengths (%s); using the %d frames they all have",
            listing,
            shortest,
        )
    return shortest
