"""The shared base of every dataset reader (:func:`~tessetrack.data.layouts.open_dataset` picks one).

A reader is a sequence of :class:`~tessetrack.structures.MultiViewFrame`: ``len(ds)``, ``ds[i]``
(by position, negative allowed), ``for frame in ds``, ``ds.frames`` (the dataset's own frame ids,
in order), ``ds.cameras``, ``ds.joint_set``, ``ds.fps``. Frame and camera selection
(``start``/``end``/``stride``, ``cameras``) live here once, so the concrete readers only list
their frames and build one frame on demand. Nothing is loaded until a frame is asked for, except
the small index files (calibration, ground truth) that the constructors read.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import overload

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.structures import MultiViewFrame

__all__ = ["MultiViewDataset", "select_frames", "select_cameras"]

logger = logging.getLogger(__name__)


def select_frames(
    frames: Sequence[int], start: int | None = None, end: int | None = None, stride: int = 1
) -> list[int]:
    """Frame ids ``start <= f < end`` (bounds are frame ids, not positions), every ``stride``-th.

    Args:
        frames: available frame ids, sorted ascending.
        start, end: inclusive/exclusive bounds on the frame id; None for no bound.
        stride: keep every ``stride``-th selected frame (>= 1).

    Raises:
        InputError: for a stride below 1 or ``end <= start``.
    """
    if stride < 1:
        raise InputError(f"frame stride must be >= 1, got {stride}")
    if start is not None and end is not None and end <= start:
        raise InputError(f"empty frame range: end ({end}) must be greater than start ({start})")
    kept = [f for f in frames if (start is None or f >= start) and (end is None or f < end)]
    return kept[::stride]


def select_cameras(
    cameras: Mapping[str, Camera], names: Sequence[str] | None, where: str | PathLike[str]
) -> dict[str, Camera]:
    """The cameras named in ``names`` (in that order), or all of them when ``names`` is None.

    Raises:
        InputError: naming ``where`` when a requested camera does not exist.
    """
    if names is None:
        return dict(cameras)
    missing = [str(n) for n in names if str(n) not in cameras]
    if missing:
        raise InputError(
            f"camera(s) {', '.join(missing)} not in the calibration; it has "
            f"{', '.join(sorted(cameras))}",
            where,
        )
    return {str(n): cameras[str(n)] for n in names}


class MultiViewDataset(ABC):
    """A multi-view sequence: an indexable, iterable collection of frames.

    Subclasses call ``super().__init__`` with everything they found and implement
    :meth:`_load_frame`.

    Args:
        root: the dataset folder (for messages).
        cameras: every camera of the dataset by name.
        frames: every available frame id, ascending.
        joint_set: joint set name of the ground-truth ``people``.
        fps: frames per second, when known.
        start, end, stride: frame selection (:func:`select_frames`).
        camera_names: cameras to keep, in order (None: all).
    """

    def __init__(
        self,
        *,
        root: str | PathLike[str],
        cameras: Mapping[str, Camera],
        frames: Sequence[int],
        joint_set: str,
        fps: float | None,
        start: int | None = None,
        end: int | None = None,
        stride: int = 1,
        camera_names: Sequence[str] | None = None,
    ) -> None:
        self.root = Path(root)
        self._cameras = MappingProxyType(select_cameras(cameras, camera_names, self.root))
        self._frames = tuple(select_frames(sorted(frames), start, end, stride))
        self.joint_set = joint_set
        self.fps = fps

    # -- the sequence interface -------------------------------------------------------------
    @property
    def frames(self) -> list[int]:
        """The selected frame ids (the dataset's own numbering), ascending."""
        return list(self._frames)

    @property
    def cameras(self) -> Mapping[str, Camera]:
        """The selected cameras by name (read-only mapping)."""
        return self._cameras

    def __len__(self) -> int:
        return len(self._frames)

    @overload
    def __getitem__(self, index: int) -> MultiViewFrame: ...

    @overload
    def __getitem__(self, index: slice) -> list[MultiViewFrame]: ...

    def __getitem__(self, index: int | slice) -> MultiViewFrame | list[MultiViewFrame]:
        """The frame at a position (not a frame id: see :meth:`frame`); slices give lists."""
        if isinstance(index, slice):
            return [self._load_frame(f) for f in self._frames[index]]
        try:
            frame_id = self._frames[index]
        except IndexError:
            raise IndexError(
                f"frame position {index} out of range for {len(self)} frames"
            ) from None
        return self._load_frame(frame_id)

    def __iter__(self) -> Iterator[MultiViewFrame]:
        for frame_id in self._frames:
            yield self._load_frame(frame_id)

    def frame(self, frame_id: int) -> MultiViewFrame:
        """The frame with the dataset's own id ``frame_id``.

        Raises:
            InputError: when that frame is not among the selected frames.
        """
        if frame_id not in self._frames:
            raise InputError(
                f"frame {frame_id} is not among the {len(self)} selected frames", self.root
            )
        return self._load_frame(frame_id)

    def __repr__(self) -> str:
        span = f"{self._frames[0]}..{self._frames[-1]}" if self._frames else "none"
        return (
            f"{type(self).__name__}({str(self.root)!r}, frames={len(self)} [{span}], "
            f"cameras={list(self._cameras)}, joint_set={self.joint_set!r}, fps={self.fps})"
        )

    @abstractmethod
    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        """Build one frame (ground truth, lazy images, detections) for an available frame id."""
