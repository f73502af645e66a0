"""CMU Panoptic Studio reader (HD cameras, ``hdPose3d_stage1_coco19`` ground truth).

Layout of one sequence folder ``<seq>/`` (our synthetic generator writes the same):

* ``calibration_<seq>.json`` — all cameras; the HD ones are named ``00_00`` .. ``00_30``;
* ``hdPose3d_stage1_coco19/body3DScene_<frame:08d>.json`` — ``bodies[]`` with ``id`` and
  ``joints19``: 19 × (x, y, z, confidence) flattened, centimetres, joint order = ``panoptic19``;
* images, optional: ``hdImgs/<cam>/<cam>_<frame:08d>.jpg`` or ``hdVideos/hd_<cam>.mp4``
  (the video's frame ``n`` is frame id ``n``).

Units: the files are in centimetres; everything this reader returns is in metres. Joints whose
confidence is below ``min_confidence`` get score 0; joints Panoptic marks as not reconstructed
(confidence < 0, coordinates 0) are NaN. Extra json fields are ignored; missing or malformed
required fields raise :class:`~tessetrack.errors.InputError` naming the file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from functools import partial
from os import PathLike
from pathlib import Path

import cv2
import numpy as np

from tessetrack.data.base import MultiViewDataset
from tessetrack.errors import InputError
from tessetrack.io.video import read_image_rgb
from tessetrack.structures import ImageLoader, MultiViewFrame, PersonPose

__all__ = [
    "PanopticDataset",
    "read_body3d_scene",
    "load_image_rgb",
    "load_video_frame_rgb",
    "VOXELPOSE_CAMERAS",
    "PANOPTIC_HD_FPS",
    "POSE_FOLDER",
]

logger = logging.getLogger(__name__)

#: The five HD cameras VoxelPose (and TesseTrack's Panoptic experiments) use.
VOXELPOSE_CAMERAS: tuple[str, ...] = ("00_03", "00_06", "00_12", "00_13", "00_23")
#: Frame rate of Panoptic's HD cameras.
PANOPTIC_HD_FPS = 29.97
#: Folder of the 3D ground truth inside a sequence.
POSE_FOLDER = "hdPose3d_stage1_coco19"

_NUM_JOINTS = 19
_CM_TO_M = 0.01
_HD_CAMERA = re.compile(r"^00_\d\d$")
_SCENE_FILE = re.compile(r"^body3DScene_(\d+)\.json$")


def load_image_rgb(path: Path) -> np.ndarray:
    """Read an image file as an H×W×3 uint8 RGB array.

    Raises:
        InputError: when the file is missing or cannot be decoded.
    """
    return read_image_rgb(path)  # checks the decode: cv2.imread returns None silently


def load_video_frame_rgb(path: Path, index: int) -> np.ndarray:
    """Read frame ``index`` (0-based) of a video as an H×W×3 uint8 RGB array.

    Raises:
        InputError: when the video cannot be opened or has no such frame.
    """
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError("cannot open video", path)
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
    finally:
        capture.release()
    if not ok or image is None:
        raise InputError(f"video has no frame {index}", path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_json(path: Path) -> object:
    try:
        with path.open("r", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"malformed JSON ({exc})", path) from None


def read_body3d_scene(
    path: str | PathLike[str], min_confidence: float = 0.1
) -> tuple[PersonPose, ...]:
    """Parse one ``body3DScene_<frame>.json`` into people in metres.

    Args:
        path: the json file.
        min_confidence: joints below this confidence get score 0 (VoxelPose uses 0.1).

    Returns:
        one :class:`PersonPose` per body: ``joints`` (19, 3) metres (NaN where Panoptic has no
        reconstruction, i.e. confidence < 0), ``scores`` (19,) the confidence clipped to [0, 1],
        0 below ``min_confidence``.

    Raises:
        InputError: naming the file for malformed JSON, a missing ``bodies`` list, or a body
            without an integer ``id`` or a 76-number ``joints19``.
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("bodies"), list):
        raise InputError("expected a JSON object with a 'bodies' list", path)
    people = []
    for k, body in enumerate(data["bodies"]):
        if not isinstance(body, dict):
            raise InputError(f"bodies[{k}] is not an object", path)
        if "joints19" not in body:
            raise InputError(f"bodies[{k}] has no 'joints19'", path)
        if not isinstance(body.get("id"), int) or isinstance(body.get("id"), bool):
            raise InputError(f"bodies[{k}] has no integer 'id'", path)
        try:
            flat = np.asarray(body["joints19"], dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"bodies[{k}].joints19 is not a list of numbers", path) from None
        if flat.shape != (_NUM_JOINTS * 4,):
            raise InputError(
                f"bodies[{k}].joints19 must hold 19 × (x, y, z, confidence) = 76 numbers, "
                f"got shape {flat.shape}",
                path,
            )
        if not np.all(np.isfinite(flat)):
            raise InputError(f"bodies[{k}].joints19 contains NaN or infinite values", path)
        jc = flat.reshape(_NUM_JOINTS, 4)  # J×(x, y, z, c)
        joints = jc[:, :3] * _CM_TO_M
        confidence = jc[:, 3]
        joints[confidence < 0] = np.nan
        scores = np.where(confidence < min_confidence, 0.0, np.clip(confidence, 0.0, 1.0))
        people.append(PersonPose(id=int(body["id"]), joints=joints, scores=scores))
    return tuple(people)


def _frame_ids(folder: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    out = {}
    for p in folder.iterdir():
        m = pattern.match(p.name)
        if m:
            out[int(m.group(1))] = p
    return out


class PanopticDataset(MultiViewDataset):
    """One CMU Panoptic sequence (HD cameras).

    Args:
        root: the sequence folder ``<seq>/``.
        cameras: HD camera names to use, in order (None: every HD camera ``00_xx`` of the
            calibration, or every camera if it names none so; :data:`VOXELPOSE_CAMERAS` for the
            standard five).
        start, end, stride: frame-id selection (``start <= frame < end``).
        min_confidence: ground-truth joints below it get score 0.
        images: False to ignore image folders and videos.
        calibration: the calibration file (default ``calibration_<seq>.json``, else the only
            ``calibration_*.json`` of the folder).

    Frames are those with a ground-truth file; a folder without ``hdPose3d_stage1_coco19`` lists
    the frames of its image folders instead (and has no ``people``).
    """

    def __init__(
        self,
        root: str | PathLike[str],
        *,
        cameras: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        stride: int = 1,
        min_confidence: float = 0.1,
        images: bool = True,
        calibration: str | PathLike[str] | None = None,
    ) -> None:
        from tessetrack.io.calibration import load_cameras

        root = Path(root)
        if not root.is_dir():
            raise InputError("Panoptic sequence folder not found", root)
        calib_path = Path(calibration) if calibration is not None else _find_calibration(root)
        all_cameras = load_cameras(calib_path, format="panoptic")
        # the HD cameras (``00_xx``) of a real calibration; every camera of one that has none
        hd = {name: cam for name, cam in all_cameras.items() if _HD_CAMERA.match(name)} or dict(
            all_cameras
        )
        if not hd:
            raise InputError("the calibration has no cameras", calib_path)

        pose_dir = root / POSE_FOLDER
        self._scene_files: dict[int, Path] = (
            _frame_ids(pose_dir, _SCENE_FILE) if pose_dir.is_dir() else {}
        )
        selected = list(cameras) if cameras is not None else sorted(hd)
        self._image_files: dict[str, dict[int, Path]] = {}
        self._videos: dict[str, Path] = {}
        if images:
            for name in selected:
                folder = root / "hdImgs" / name
                if folder.is_dir():
                    pattern = re.compile(
                        rf"^{re.escape(name)}_(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE
                    )
                    self._image_files[name] = _frame_ids(folder, pattern)
                video = root / "hdVideos" / f"hd_{name}.mp4"
                if video.is_file():
                    self._videos[name] = video
        frames: set[int] = set(self._scene_files)
        if not pose_dir.is_dir():
            for files in self._image_files.values():
                frames |= set(files)
        if not frames:
            raise InputError(
                f"no frames: neither {POSE_FOLDER}/body3DScene_*.json nor hdImgs/<cam>/ images",
                root,
            )
        self.min_confidence = min_confidence
        super().__init__(
            root=root,
            cameras=hd,
            frames=sorted(frames),
            joint_set="panoptic19",
            fps=PANOPTIC_HD_FPS,
            start=start,
            end=end,
            stride=stride,
            camera_names=cameras,
        )

    def _images(self, frame_id: int) -> dict[str, ImageLoader]:
        loaders: dict[str, ImageLoader] = {}
        for name in self.cameras:
            image = self._image_files.get(name, {}).get(frame_id)
            if image is not None:
                loaders[name] = partial(load_image_rgb, image)
            elif name in self._videos:
                loaders[name] = partial(load_video_frame_rgb, self._videos[name], frame_id)
        return loaders

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        scene = self._scene_files.get(frame_id)
        people = read_body3d_scene(scene, self.min_confidence) if scene is not None else ()
        return MultiViewFrame(
            frame=frame_id,
            cameras=self.cameras,
            images=self._images(frame_id),
            people=people,
            joint_set="panoptic19",
        )


def _find_calibration(root: Path) -> Path:
    preferred = root / f"calibration_{root.name}.json"
    if preferred.is_file():
        return preferred
    found = sorted(root.glob("calibration_*.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"no calibration_{root.name}.json (or any calibration_*.json)", root)
    raise InputError(
        f"several calibration files ({', '.join(p.name for p in found)}); pass calibration=",
        root,
    )
