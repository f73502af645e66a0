"""TUM Shelf and Campus reader (one reader for both: they share the layout).

Layout of the dataset folder:

* ``actorsGT.mat`` — ``actor3D``: per actor, per frame a 14 × 3 array in metres (``shelf14``
  joint order) or an empty array when the actor is absent; ``actor2D``: per actor, per frame,
  per camera a 14 × 2 array of pixels (camera ``k`` of the calibration is column ``k``);
* ``calibration_<name>.json`` — VoxelPose-style cameras ``"0"``, ``"1"``, … (millimetres in the
  file, metres once loaded by :func:`tessetrack.io.calibration.load_cameras`);
* ``Camera<k>/`` — images, optional; the frame id is the trailing number of the file name, so
  Shelf's ``img_000123.png`` and Campus's ``campus4-c0-00123.png`` both work;
* ``pred_<name>_*.pkl`` — optional VoxelPose 2D detections: a dict ``"<cam>_<frame>" ->
  [{"pred": (17, 3) COCO-17 (u, v, score)}, ...]``, exposed as ``MultiViewFrame.detections``
  (a person found twice in one image kept once, with a warning that counts them).

The standard evaluation frames (Shelf 300–600, Campus 350–470, both inclusive) are the default
selection, an option (:data:`STANDARD_EVALUATION_FRAMES`), never a rule of the reader.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from os import PathLike
from pathlib import Path

import numpy as np

from tessetrack.data.base import MultiViewDataset
from tessetrack.data.panoptic import load_image_rgb
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.detections import Detections2D, keep_distinct_people
from tessetrack.structures import ImageLoader, MultiViewFrame, PersonPose

__all__ = [
    "ShelfCampusDataset",
    "ActorsGT",
    "read_actors_gt",
    "read_voxelpose_detections",
    "STANDARD_EVALUATION_FRAMES",
    "IMAGE_SIZES",
]

logger = logging.getLogger(__name__)

#: Standard evaluation frames as ``(start, end)`` ranges with ``end`` exclusive (VoxelPose,
#: mvpose, ...): Shelf 300–600, Campus 350–470 and 650–750 (all inclusive).
STANDARD_EVALUATION_FRAMES: dict[str, tuple[tuple[int, int], ...]] = {
    "shelf": ((300, 601),),
    "campus": ((350, 471), (650, 751)),
}
#: Image sizes (width, height) of the recordings, used when the calibration has none.
IMAGE_SIZES: dict[str, tuple[int, int]] = {"shelf": (1032, 776), "campus": (360, 288)}

_NUM_JOINTS = 14
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}


@dataclass(frozen=True, eq=False)
class ActorsGT:
    """The content of ``actorsGT.mat``.

    Attributes:
        poses_3d: (A, F, 14, 3) metres, ``shelf14`` order; NaN where the actor is absent.
        poses_2d: (A, F, V, 14, 2) pixels per camera; NaN where absent; None when the file has
            no ``actor2D``.
    """

    poses_3d: np.ndarray
    poses_2d: np.ndarray | None

    @property
    def num_actors(self) -> int:
        return self.poses_3d.shape[0]

    @property
    def num_frames(self) -> int:
        return self.poses_3d.shape[1]

    def present(self) -> np.ndarray:
        """(A, F) bool: the actor has a 3D pose at the frame."""
        return ~np.isnan(self.poses_3d).any(axis=(-1, -2))


def _cells(value: object) -> list[object]:
    """A MATLAB cell array (numpy object array of any shape) as a flat list."""
    arr = np.asarray(value, dtype=object)
    return list(arr.ravel())


def _joint_array(cell: object, dims: int, what: str, path: Path) -> np.ndarray:
    arr = np.asarray(cell)
    if arr.size == 0:
        return np.full((_NUM_JOINTS, dims), np.nan)
    if arr.dtype == object or arr.shape != (_NUM_JOINTS, dims):
        raise InputError(
            f"{what}: expected a {_NUM_JOINTS}×{dims} array or an empty one, got {arr.shape}", path
        )
    return arr.astype(np.float64)


def read_actors_gt(path: str | PathLike[str]) -> ActorsGT:
    """Read ``actorsGT.mat`` (see the module docstring for its structure).

    Raises:
        InputError: naming the file when it is missing, truncated/not a MATLAB file, lacks
            ``actor3D``, or has actors of different lengths or joints that are not 14 × 3.
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError, ...
        raise InputError(
            f"cannot read MATLAB file (truncated or not a .mat file: {exc})", path
        ) from None
    if "actor3D" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise InputError(f"no 'actor3D' variable (found: {', '.join(keys) or 'none'})", path)

    actors_3d = _cells(mat["actor3D"])
    poses_3d = []
    for a, actor in enumerate(actors_3d):
        frames = _cells(actor)
        poses_3d.append(
            np.stack([_joint_array(c, 3, f"actor3D[{a}][{f}]", path) for f, c in enumerate(frames)])
            if frames
            else np.zeros((0, _NUM_JOINTS, 3))
        )
    num_frames = {p.shape[0] for p in poses_3d}
    if len(num_frames) != 1:
        raise InputError(f"actor3D: actors have different frame counts {sorted(num_frames)}", path)
    poses_3d_arr = np.stack(poses_3d)  # A×F×14×3

    poses_2d_arr = None
    if "actor2D" in mat:
        actors_2d = _cells(mat["actor2D"])
        if len(actors_2d) != len(actors_3d):
            raise InputError(
                f"actor2D has {len(actors_2d)} actors but actor3D has {len(actors_3d)}", path
            )
        per_actor = []
        for a, actor in enumerate(actors_2d):
            frames = _cells(actor)
            if len(frames) != poses_3d_arr.shape[1]:
                raise InputError(
                    f"actor2D[{a}] has {len(frames)} frames, actor3D has {poses_3d_arr.shape[1]}",
                    path,
                )
            per_frame = []
            for f, views in enumerate(frames):
                per_frame.append(
                    [
                        _joint_array(c, 2, f"actor2D[{a}][{f}][{v}]", path)
                        for v, c in enumerate(_cells(views))
                    ]
                )
            per_actor.append(per_frame)
        num_views = {len(views) for frames in per_actor for views in frames}
        if len(num_views) > 1:
            raise InputError(
                f"actor2D: frames have different camera counts {sorted(num_views)}", path
            )
        poses_2d_arr = np.asarray(per_actor, dtype=np.float64)  # A×F×V×14×2
        if poses_2d_arr.ndim != 5:
            poses_2d_arr = poses_2d_arr.reshape(
                len(per_actor), poses_3d_arr.shape[1], 0, _NUM_JOINTS, 2
            )
    return ActorsGT(poses_3d=poses_3d_arr, poses_2d=poses_2d_arr)


def read_voxelpose_detections(
    path: str | PathLike[str], camera_names: Sequence[str]
) -> dict[tuple[str, int], np.ndarray]:
    """Read VoxelPose's 2D prediction pickle (``pred_<name>_maskrcnn_hrnet_coco.pkl``).

    Loaded with the restricted unpickler (:func:`tessetrack.io.safe_pickle.load_pickle`).

    Args:
        path: the pickle.
        camera_names: cameras whose entries to keep (the file may list more).

    Returns:
        ``(camera, frame) -> (P, 17, 3)`` arrays of COCO-17 ``(u, v, score)`` in pixels.

    Raises:
        InputError: naming the file for a structure other than ``{"<cam>_<frame>": [{"pred":
            (17, 3)}, ...]}``.
    """
    from tessetrack.io.safe_pickle import load_pickle

    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, Mapping):
        raise InputError(
            f"expected a dict of '<camera>_<frame>' keys, got {type(data).__name__}", path
        )
    wanted = set(camera_names)
    out: dict[tuple[str, int], np.ndarray] = {}
    for key, entries in data.items():
        cam, sep, frame = str(key).rpartition("_")
        if not sep or not frame.isdigit():
            raise InputError(f"key {key!r} is not '<camera>_<frame>'", path)
        if cam not in wanted:
            continue
        if not isinstance(entries, (list, tuple)):
            raise InputError(f"entry {key!r} is not a list of detections", path)
        preds = []
        for k, entry in enumerate(entries):
            pred = entry.get("pred") if isinstance(entry, Mapping) else None
            arr = np.asarray(pred, dtype=np.float64) if pred is not None else None
            if arr is None or arr.shape != (17, 3):
                raise InputError(f"entry {key!r}[{k}] has no 'pred' of shape (17, 3)", path)
            preds.append(arr)
        out[(cam, int(frame))] = np.stack(preds) if preds else np.zeros((0, 17, 3))
    return out


def _distinct(
    detections: dict[tuple[str, int], np.ndarray], path: Path
) -> dict[tuple[str, int], np.ndarray]:
    """The pickle's detections with a person found twice in one image kept once
    (:func:`tessetrack.io.detections.keep_distinct_people`: Mask R-CNN's overlapping boxes give
    HRNet one person twice)."""
    by_camera: dict[str, dict[int, np.ndarray]] = {}
    for (cam, frame), people in detections.items():
        by_camera.setdefault(cam, {})[frame] = people
    kept = keep_distinct_people(Detections2D("coco17", by_camera), path)
    return {(cam, f): p for cam, frames in kept.by_camera.items() for f, p in frames.items()}


def _image_index(folder: Path) -> dict[int, Path]:
    out: dict[int, Path] = {}
    for p in sorted(folder.iterdir()):
        m = _TRAILING_NUMBER.search(p.stem)
        if p.suffix.lower() in _IMAGE_SUFFIXES and m:
            out.setdefault(int(m.group(1)), p)
    return out


class ShelfCampusDataset(MultiViewDataset):
    """TUM Shelf or Campus.

    Args:
        root: the dataset folder (holding ``actorsGT.mat``).
        kind: ``"shelf"`` or ``"campus"`` (default: from ``calibration_<kind>.json``); selects
            the default evaluation frames and image size.
        cameras: camera names to use, in order (None: all).
        start, end, stride: frame-id selection (``start <= frame < end``).
        evaluation_range: when True and neither ``start`` nor ``end`` is given, select
            :data:`STANDARD_EVALUATION_FRAMES` of ``kind``. A file whose frames all lie outside
            it (e.g. a cut-down sample) is read whole, with a logged warning.
        detections: read ``pred_*.pkl`` when present (True), a given pickle path, or None/False.
        images: False to ignore the ``Camera<k>/`` folders.
        calibration: the calibration file (default ``calibration_<kind>.json``, or the only one).
    """

    def __init__(
        self,
        root: str | PathLike[str],
        *,
        kind: str | None = None,
        cameras: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        stride: int = 1,
        evaluation_range: bool = True,
        detections: bool | str | PathLike[str] | None = True,
        images: bool = True,
        calibration: str | PathLike[str] | None = None,
    ) -> None:
        from tessetrack.io.calibration import load_cameras

        root = Path(root)
        if not root.is_dir():
            raise InputError("Shelf/Campus folder not found", root)
        calib_path = Path(calibration) if calibration is not None else _find_calibration(root, kind)
        if kind is None:
            kind = calib_path.stem.removeprefix("calibration_").lower()
        self.kind = kind
        self.gt = read_actors_gt(root / "actorsGT.mat")
        all_cameras = {
            name: _with_image_size(cam, IMAGE_SIZES.get(kind))
            for name, cam in load_cameras(calib_path).items()
        }
        if self.gt.poses_2d is not None and self.gt.poses_2d.shape[2] not in (0, len(all_cameras)):
            raise InputError(
                f"actor2D has {self.gt.poses_2d.shape[2]} cameras but the calibration "
                f"{calib_path.name} has {len(all_cameras)}",
                root / "actorsGT.mat",
            )
        frames = list(range(self.gt.num_frames))
        if (
            evaluation_range
            and start is None
            and end is None
            and kind in STANDARD_EVALUATION_FRAMES
        ):
            ranges = STANDARD_EVALUATION_FRAMES[kind]
            standard = [f for f in frames if any(a <= f < b for a, b in ranges)]
            if standard:
                frames = standard
            else:
                logger.warning(
                    "%s: no frame of the standard %s evaluation range %s (the file has "
                    "frames 0..%d); reading all frames",
                    root,
                    kind,
                    " and ".join(f"{a}..{b - 1}" for a, b in ranges),
                    self.gt.num_frames - 1,
                )
        self._camera_order = list(all_cameras)  # column k of actor2D is the k-th camera
        super().__init__(
            root=root,
            cameras=all_cameras,
            frames=frames,
            joint_set="shelf14",
            fps=None,
            start=start,
            end=end,
            stride=stride,
            camera_names=cameras,
        )
        self._images: dict[str, dict[int, Path]] = {}
        if images:
            for name in self.cameras:
                folder = root / f"Camera{name}"
                if folder.is_dir():
                    self._images[name] = _image_index(folder)
        self._detections: dict[tuple[str, int], np.ndarray] | None = None
        det_path = _find_detections(root, detections)
        if det_path is not None:
            self._detections = _distinct(read_voxelpose_detections(det_path, list(self.cameras)),
                                         det_path)  # fmt: skip

    def ground_truth_2d(self, frame_id: int) -> dict[str, np.ndarray]:
        """The 2D ground truth of a frame: camera name -> (P, 14, 2) pixels, people as in ``people``."""
        if self.gt.poses_2d is None or self.gt.poses_2d.shape[2] == 0:
            return {}
        present = self.gt.present()[:, frame_id]
        return {
            name: self.gt.poses_2d[present, frame_id, self._camera_order.index(name)]
            for name in self.cameras
        }

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        present = self.gt.present()[:, frame_id]
        people = tuple(
            PersonPose(
                id=a, joints=self.gt.poses_3d[a, frame_id].copy(), scores=np.ones(_NUM_JOINTS)
            )
            for a in np.flatnonzero(present)
        )
        images: dict[str, ImageLoader] = {}
        for name, files in self._images.items():
            if frame_id in files:
                images[name] = partial(load_image_rgb, files[frame_id])
        detections: dict[str, np.ndarray] = {}
        if self._detections is not None:
            for name in self.cameras:
                detections[name] = self._detections.get((name, frame_id), np.zeros((0, 17, 3)))
        return MultiViewFrame(
            frame=frame_id,
            cameras=self.cameras,
            images=images,
            people=people,
            joint_set="shelf14",
            detections=detections,
            detections_joint_set="coco17" if self._detections is not None else None,
        )


def _with_image_size(camera: Camera, size: tuple[int, int] | None) -> Camera:
    if size is None or (camera.width > 0 and camera.height > 0):
        return camera
    return replace(camera, width=size[0], height=size[1])


def _find_calibration(root: Path, kind: str | None) -> Path:
    if kind is not None and (root / f"calibration_{kind}.json").is_file():
        return root / f"calibration_{kind}.json"
    found = sorted(root.glob("calibration_*.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError("no calibration_<shelf|campus>.json next to actorsGT.mat", root)
    raise InputError(
        f"several calibration files ({', '.join(p.name for p in found)}); pass kind= or calibration=",
        root,
    )


def _find_detections(root: Path, detections: bool | str | PathLike[str] | None) -> Path | None:
    if detections is None or detections is False:
        return None
    if detections is not True:
        path = Path(detections)
        if not path.is_file():
            raise InputError("detections file not found", path)
        return path
    found = sorted(root.glob("pred_*.pkl"))
    if len(found) > 1:
        logger.warning("%s: several pred_*.pkl files, using %s", root, found[0].name)
    return found[0] if found else None
