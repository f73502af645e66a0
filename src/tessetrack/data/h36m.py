"""Human3.6M reader for the common preprocessed layout (mmpose's ``h36m`` folder).

Layout of the folder:

* ``<split>_h36m_body3d.npz`` — one row per image: ``imgname``
  (``S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg``), ``S`` (N, 17, 4):
  the 17 ``h36m17`` joints in the **camera** frame of that image, metres, plus a visibility
  column; ``part`` (N, 17, 3): 2D ground truth ``(u, v, visible)`` in pixels; ``center``,
  ``scale`` (the person box; unused here);
* ``cameras.pkl`` — ``(subject, camera id) -> {R, T, f, c, k, p, w, h, ...}`` (loaded by
  :func:`tessetrack.io.calibration.load_cameras`, metres);
* ``<split>_h36m_2d_detection.npy`` — optional (N, 17, 3) 2D detections aligned with the rows;
* ``images/<imgname>`` — optional images.

Each row is one single-view frame: its frame id is the row's position in the npz, its camera the
row's ``(subject, camera)``, and its one person's joints are moved into world metres with that
camera (``x_world = Rᵀ (x_cam − t)``). :attr:`H36MDataset.samples` tells subject, action, camera
and the video frame number of each row. Rows are not grouped across cameras: the preprocessed
files do not guarantee that all four views of a moment are present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from os import PathLike
from pathlib import Path

import numpy as np

from tessetrack.data.base import MultiViewDataset, select_cameras
from tessetrack.data.panoptic import load_image_rgb
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.structures import ImageLoader, MultiViewFrame, PersonPose

__all__ = ["H36MDataset", "H36MSample", "parse_h36m_imgname", "H36M_FPS", "h36m_camera_name"]

#: Frame rate of the Human3.6M videos.
H36M_FPS = 50.0

_NUM_JOINTS = 17
_IMGNAME = re.compile(r"(?:^|/)(S\d+)_([^/]+)\.(\d+)_(\d+)\.\w+$")


@dataclass(frozen=True)
class H36MSample:
    """What one row of the npz shows: ``subject`` (``S1``), ``action`` (``Directions_1``),
    ``camera`` id (``54138969``), ``frame_number`` in that video, and the ``imgname``."""

    subject: str
    action: str
    camera: str
    frame_number: int
    imgname: str


def parse_h36m_imgname(imgname: str) -> H36MSample:
    """Split ``[S1/S1_Directions_1.54138969/]S1_Directions_1.54138969_000001.jpg``.

    Raises:
        InputError: when the name does not follow that pattern.
    """
    m = _IMGNAME.search(str(imgname))
    if not m:
        raise InputError(
            f"image name {imgname!r} is not '<subject>_<action>.<camera>_<frame>.<ext>'"
        )
    subject, action, camera, number = m.groups()
    return H36MSample(subject, action, camera, int(number), str(imgname))


def h36m_camera_name(subject: str, camera: str) -> str:
    """The name of a Human3.6M camera in tessetrack: ``"<subject>_<camera id>"``, e.g. ``S1_54138969``."""
    return f"{subject}_{camera}"


class H36MDataset(MultiViewDataset):
    """Preprocessed Human3.6M (one view per frame).

    Args:
        root: the folder.
        annotations: the npz (default: the only ``*_body3d.npz`` of the folder, preferring
            ``test_h36m_body3d.npz``).
        cameras: camera names (``S1_54138969``, …) whose rows to keep (None: all).
        start, end, stride: row selection (frame id = row position).
        detections: read ``<split>_h36m_2d_detection.npy`` when present.
        images: False to ignore ``images/``.
    """

    def __init__(
        self,
        root: str | PathLike[str],
        *,
        annotations: str | PathLike[str] | None = None,
        cameras: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        stride: int = 1,
        detections: bool = True,
        images: bool = True,
    ) -> None:
        from tessetrack.io.calibration import load_cameras

        root = Path(root)
        if not root.is_dir():
            raise InputError("Human3.6M folder not found", root)
        npz_path = Path(annotations) if annotations is not None else _find_annotations(root)
        self.samples, poses_cam, self._visible = _read_body3d(npz_path)
        calib_path = root / "cameras.pkl"
        if not calib_path.is_file():
            raise InputError("no cameras.pkl next to the annotations", root)
        all_cameras = load_cameras(calib_path, format="h36m")
        names = [h36m_camera_name(s.subject, s.camera) for s in self.samples]
        missing = sorted(set(names) - set(all_cameras))
        if missing:
            raise InputError(f"cameras {', '.join(missing)} are not in cameras.pkl", npz_path)
        self._row_camera = names
        # camera frame -> world: x_world = Rᵀ (x_cam − t)  (N×17×3)
        R = np.stack([all_cameras[n].R for n in names])  # N×3×3
        t = np.stack([all_cameras[n].t for n in names])  # N×3
        self._poses_world = np.einsum("nji,nkj->nki", R, poses_cam - t[:, None, :])  # N×17×3

        self._detections: np.ndarray | None = None
        det_path = npz_path.with_name(npz_path.name.replace("_body3d.npz", "_2d_detection.npy"))
        if detections and det_path.is_file() and det_path != npz_path:
            try:
                det = np.load(det_path, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise InputError(f"cannot read detections ({exc})", det_path) from None
            if det.shape != (len(self.samples), _NUM_JOINTS, 3):
                raise InputError(
                    f"expected detections of shape ({len(self.samples)}, 17, 3), got {det.shape}",
                    det_path,
                )
            self._detections = det.astype(np.float64)
        self._image_root = root / "images" if images and (root / "images").is_dir() else None

        used = {n: all_cameras[n] for n in dict.fromkeys(names)}
        rows = list(range(len(self.samples)))
        if cameras is not None:
            keep = set(select_cameras(all_cameras, cameras, calib_path))
            rows = [i for i in rows if names[i] in keep]
            used = {n: all_cameras[n] for n in cameras}
        super().__init__(
            root=root,
            cameras=used,
            frames=rows,
            joint_set="h36m17",
            fps=H36M_FPS,
            start=start,
            end=end,
            stride=stride,
        )

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        name = self._row_camera[frame_id]
        camera: dict[str, Camera] = {name: self.cameras[name]}
        images: dict[str, ImageLoader] = {}
        if self._image_root is not None:
            path = self._image_root / self.samples[frame_id].imgname
            if path.is_file():
                images[name] = partial(load_image_rgb, path)
        person = PersonPose(
            id=0,
            joints=self._poses_world[frame_id].copy(),
            scores=self._visible[frame_id].copy(),
        )
        detections = {}
        if self._detections is not None:
            detections[name] = self._detections[frame_id][None].copy()  # 1×17×3
        return MultiViewFrame(
            frame=frame_id,
            cameras=camera,
            images=images,
            people=(person,),
            joint_set="h36m17",
            detections=detections,
            detections_joint_set="h36m17" if detections else None,
        )


def _find_annotations(root: Path) -> Path:
    preferred = root / "test_h36m_body3d.npz"
    if preferred.is_file():
        return preferred
    found = sorted(root.glob("*_body3d.npz"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError("no *_body3d.npz annotation file", root)
    raise InputError(
        f"several annotation files ({', '.join(p.name for p in found)}); pass annotations=", root
    )


def _read_body3d(path: Path) -> tuple[list[H36MSample], np.ndarray, np.ndarray]:
    """Rows of a ``*_body3d.npz``: samples, (N, 17, 3) camera-frame metres, (N, 17) visibility."""
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "imgname" not in npz.files or "S" not in npz.files:
                raise InputError(
                    f"expected arrays 'imgname' and 'S', found {', '.join(npz.files)}", path
                )
            imgnames = npz["imgname"]
            S = np.asarray(npz["S"], dtype=np.float64)
    except InputError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, ...
        raise InputError(f"cannot read npz (truncated or not an npz: {exc})", path) from None
    if S.ndim != 3 or S.shape[1] != _NUM_JOINTS or S.shape[2] not in (3, 4):
        raise InputError(f"'S' must have shape (N, 17, 3 or 4), got {S.shape}", path)
    if len(imgnames) != len(S):
        raise InputError(f"'imgname' has {len(imgnames)} rows but 'S' has {len(S)}", path)
    try:
        samples = [parse_h36m_imgname(str(n)) for n in imgnames]
    except InputError as exc:
        raise InputError(str(exc), path) from None
    visible = S[..., 3] if S.shape[2] == 4 else np.ones(S.shape[:2])
    return samples, S[..., :3], np.clip(visible, 0.0, 1.0)
