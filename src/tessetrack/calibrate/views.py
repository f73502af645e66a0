"""Board views of one camera: frames sampled from a video or an image folder, the board found in
each, blurry and near-duplicate views dropped.

Sharpness is the steepness of the board's edges (:func:`_sharpness`); a view is *blurry* when its
sharpness is below ``blur_ratio`` × the median of the camera's views. A view is a
*near duplicate* of an earlier kept view when its corners lie on average within
``duplicate_fraction`` × the image diagonal of that view's (a board seen from the same place adds
nothing but weight).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import cv2
import numpy as np

from tessetrack.calibrate.boards import Board, BoardDetection
from tessetrack.io.video import open_frames

__all__ = ["ViewSampling", "BoardViews", "sample_indices", "collect_board_views"]

#: ``progress(images_done, images_total)`` of one camera.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ViewSampling:
    """How frames are chosen and filtered.

    Attributes:
        max_frames: frames read per camera at most, evenly spread over a video or image folder.
        blur_ratio: views sharper than this fraction of the camera's median sharpness are kept.
        duplicate_fraction: mean corner distance (fraction of the image diagonal) under which a
            view counts as a duplicate of an earlier one.
    """

    max_frames: int = 60
    blur_ratio: float = 0.4
    duplicate_fraction: float = 0.01


@dataclass(frozen=True)
class BoardViews:
    """The usable views of a board in one camera, and what happened to the others.

    Attributes:
        source: the video file or image folder.
        image_size: ``(width, height)`` in pixels.
        frames: frame indices of the kept views, one per detection.
        detections: the kept views.
        images: frames read.
        missed: frames where the board was not found.
        blurry: views dropped as blurry.
        duplicates: views dropped as near duplicates.
    """

    source: Path
    image_size: tuple[int, int]
    frames: tuple[int, ...]
    detections: tuple[BoardDetection, ...]
    images: int
    missed: int
    blurry: int
    duplicates: int


def sample_indices(length: int, max_frames: int) -> np.ndarray:
    """(F,) frame indices: all of ``range(length)`` or ``max_frames`` of them evenly spread."""
    if length <= max_frames:
        return np.arange(length)
    return np.unique(np.round(np.linspace(0, length - 1, max_frames)).astype(np.int64))


def _sharpness(gray: np.ndarray, corners: np.ndarray) -> float:
    """Edge steepness inside the bounding box of ``corners`` (N, 2): the 99th percentile of the
    intensity gradient (per pixel) over the 2-98 % intensity range. About the same for a board
    near or far (unlike the Laplacian's variance, which grows with the number of edges); a
    Gaussian blur of σ px lowers it roughly as 1 / σ."""
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    patch = gray[max(y0, 0) : y1, max(x0, 0) : x1].astype(np.float64)
    if min(patch.shape) < 3:
        return 0.0
    gy, gx = np.gradient(patch)  # h×w each
    lo, hi = np.percentile(patch, [2, 98])
    return float(np.percentile(np.hypot(gx, gy), 99) / max(hi - lo, 1.0))


def _is_duplicate(view: BoardDetection, kept: list[BoardDetection], tolerance_px: float) -> bool:
    """Whether ``view`` shows the same corners as a kept view within ``tolerance_px`` on average
    (a checkerboard may be found in either of its two symmetric orderings: both are tried)."""
    for other in kept:
        shared, a, b = np.intersect1d(view.ids, other.ids, return_indices=True)
        if len(shared) < max(4, len(view.ids) // 2):
            continue
        p, q = view.corners[a], other.corners[b]  # N×2 each
        distance = min(np.linalg.norm(p - q, axis=1).mean(),
                       np.linalg.norm(p - q[::-1], axis=1).mean())  # fmt: skip
        if distance < tolerance_px:
            return True
    return False


def collect_board_views(
    source: str | PathLike[str],
    board: Board,
    sampling: ViewSampling = ViewSampling(),
    progress: ProgressFn | None = None,
) -> BoardViews:
    """Read a camera's frames, find the board in each and keep the sharp, distinct views.

    Args:
        source: a video file or an image folder (one camera).
        board: the board to find.
        sampling: how many frames to read and how to filter the views.
        progress: called as ``progress(frames_done, frames_total)``.

    Raises:
        InputError: an unreadable source (names the file).
    """
    reader = open_frames(source)
    width, height = reader.size
    indices = sample_indices(len(reader), sampling.max_frames)
    found: list[tuple[int, BoardDetection, float]] = []
    for done, index in enumerate(indices, start=1):
        gray = cv2.cvtColor(reader.read(int(index)), cv2.COLOR_RGB2GRAY)
        detection = board.detect(gray)
        if detection is not None:
            found.append((int(index), detection, _sharpness(gray, detection.corners)))
        if progress is not None:
            progress(done, len(indices))
    median = float(np.median([s for _, _, s in found])) if found else 0.0
    sharp = [(i, d) for i, d, s in found if s >= sampling.blur_ratio * median]
    tolerance = sampling.duplicate_fraction * float(np.hypot(width, height))
    frames: list[int] = []
    kept: list[BoardDetection] = []
    for index, detection in sharp:
        if not _is_duplicate(detection, kept, tolerance):
            frames.append(index)
            kept.append(detection)
    return BoardViews(
        source=Path(source),
        image_size=(width, height),
        frames=tuple(frames),
        detections=tuple(kept),
        images=len(indices),
        missed=len(indices) - len(found),
        blurry=len(found) - len(sharp),
        duplicates=len(sharp) - len(kept),
    )
