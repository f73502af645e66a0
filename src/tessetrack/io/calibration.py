"""Camera calibration files: the formats multi-view pose datasets and tools ship, read into
:class:`~tessetrack.geometry.camera.Camera` objects in **metres** with SPEC's convention
``x_cam = R @ x_world + t``, OpenCV distortion ``(k1, k2, p1, p2, k3)``.

Formats (``format=`` names; :func:`detect_format` picks one from the file name and content):

``panoptic`` (alias ``mmpose_panoptic``)
    CMU Panoptic ``calibration_<seq>.json`` and mmpose's ``camera_parameters.json``:
    ``{"cameras": [{"name", "type", "resolution": [W, H], "K", "distCoef", "R", "t"}]}``;
    ``R``/``t`` already map world to camera, ``t`` is in **centimetres**. ``camera_types``
    keeps only some camera types (default ``("hd",)``: the 31 HD cameras ``00_00``…``00_30``).
``voxelpose``
    VoxelPose/Shelf/Campus JSON ``{"0": {"R", "T", "fx", "fy", "cx", "cy", "k", "p"}, ...}``
    or Faster-VoxelPose's ``{"<sequence>": [{...}, ...]}`` (cameras named by their index).
    ``T`` is the camera **centre** in **millimetres** (``x_cam = R (x_world − T)``), ``k`` holds
    ``(k1, k2, k3)`` and ``p`` ``(p1, p2)``. The image size is not in the file: pass
    ``image_size``; otherwise Shelf (1032×776) and Campus (360×288) are recognised by the file
    name, and anything else gets 0×0 (unknown). The intrinsics refer to the original images:
    ``panoptic_demo_5views/calibration.json`` describes 1920×1080 Panoptic HD cameras (in a
    z-up world) although its demo images are 960×512.
``h36m``
    mmpose's Human3.6M ``cameras.pkl`` (read with the restricted unpickler):
    ``{(subject, camera_id): {"R", "T", "f", "c", "k", "p", "w", "h"}}``; cameras are named
    ``"<subject>_<camera_id>"`` (``S1_54138969``). mmpose applies its matrices to row vectors,
    so the stored ``R`` is the camera-to-world rotation: ``x_cam = Rᵀ (x_world − T)`` with ``T``
    the camera centre (checked on the sample: optical axes point at the capture area and the 3D
    ground truth stands on the floor, z up). mmpose stores ``T`` in metres, the original release
    in millimetres: unless ``units`` is given, centres farther than 50 units from the origin are
    taken as millimetres.
    Human3.6M's tangential model equals OpenCV's with ``(p1, p2) = (p[0], p[1])``.
``opencv`` (alias ``easymocap``)
    EasyMocap's ``intri.yml`` + ``extri.yml`` pair (a folder holding both, either file, or one
    YAML file holding all keys), written by ``cv2.FileStorage``: ``names`` (a list), per camera
    ``K_<name>``, ``dist_<name>`` (1×5 or 1×4), optional ``H_<name>``/``W_<name>``, and
    ``Rot_<name>`` (3×3) or ``R_<name>`` (Rodrigues 3×1), ``T_<name>`` (3×1) in **metres**.
``toml`` (alias ``anipose``)
    anipose/freemocap/Pose2Sim ``calibration.toml``: ``[cam_0]`` tables with ``name``,
    ``size = [W, H]``, ``matrix`` (K), ``distortions`` (4 or 5 OpenCV coefficients),
    ``rotation`` (Rodrigues vector, world to camera), ``translation``. The unit of
    ``translation`` is whatever the board was measured in: ``units=`` if given, else
    ``[metadata] units`` (tessetrack writes it), else **millimetres** (anipose/freemocap boards
    are measured in mm; Pose2Sim files are in metres: pass ``units="m"``).
``qualisys``
    Qualisys ``.qca.txt`` XML as used by Pose2Sim. Per ``<camera serial=...>`` (only video
    cameras: ``model`` containing "video" or "none"): ``transform`` gives the camera position
    ``x, y, z`` in mm and ``r11``…``r33``, which read column by column are the camera-to-world
    rotation of a camera frame with y up and z backwards; with ``M = [[r11, r12, r13], ...]``
    read row by row, ``R_cam_from_world = diag(1, −1, −1) · M`` (Pose2Sim's ``calib_qca_fun``).
    ``intrinsic`` lengths are in sub-pixels (1/64 px): ``f = focalLengthU / 64``,
    ``c = centerPointU / 64 − fov_video.left``; the distortion coefficients ``radialDistortion1-3``
    and ``tangentalDistortion1-2`` are OpenCV's ``k1, k2, k3, p1, p2`` as they stand (a
    checkerboard calibration of the same cameras agrees with them; divided by 64 they would
    leave the lenses undistorted). A ``radialDistortion1`` beyond ±1.5 is taken as written by
    Pose2Sim's TOML-to-QCA converter, which multiplies the coefficients by 64, and divided by 64
    (with a warning). The image size is ``fov_video`` (right − left + 1) × (bottom − top + 1).
``tessetrack``
    Our own JSON: ``{"format": "tessetrack.cameras/1", "units": "m", "cameras": [{"name", "K",
    "R", "t", "dist", "width", "height"}]}``, written by :func:`save_cameras` for ``.json``;
    :func:`save_cameras` also writes anipose-layout ``.toml``.

Every problem with a file raises :class:`~tessetrack.errors.InputError` naming the file. Every
reader's cameras go through :func:`check_rig_scale`: a rig whose cameras lie less than 0.3 m or
more than 200 m apart in the unit read is refused when another unit fits (``--units``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.geometry.units import UNIT_SCALE
from tessetrack.io.atomic import atomic_write_text

__all__ = [
    "CALIBRATION_FORMATS",
    "TESSETRACK_CAMERAS_FORMAT",
    "DEFAULT_IMAGE_SIZES",
    "detect_format",
    "check_rig_scale",
    "RIG_SIZE_RANGE_M",
    "load_cameras",
    "save_cameras",
]

logger = logging.getLogger(__name__)

PathT = str | PathLike[str]

#: the ``format`` tag of tessetrack's own camera JSON
TESSETRACK_CAMERAS_FORMAT = "tessetrack.cameras/1"

#: image sizes (W, H) of datasets whose VoxelPose-style calibration lacks them, by file-name word
DEFAULT_IMAGE_SIZES: dict[str, tuple[int, int]] = {"shelf": (1032, 776), "campus": (360, 288)}

_ALIASES = {
    "mmpose_panoptic": "panoptic",
    "easymocap": "opencv",
    "anipose": "toml",
    "qca": "qualisys",
}

#: qualisys stores pixels in sub-pixel units of 1/64 px
_QUALISYS_SUBPIXELS = 64.0

#: a first radial distortion coefficient beyond this is 64 times a lens's (Pose2Sim's converter
#: writes the OpenCV coefficients so; Qualisys and the lenses of video cameras stay well below 1)
_QUALISYS_MAX_K1 = 1.5

#: OpenCV camera frame (y down, z forward) from Qualisys' (y up, z backwards)
_FLIP_YZ = np.diag([1.0, -1.0, -1.0])


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _unit_scale(units: str, path: Path) -> float:
    if units not in UNIT_SCALE:
        raise InputError(
            f"unknown length unit {units!r}; expected one of {', '.join(UNIT_SCALE)}", path
        )
    return UNIT_SCALE[units]


def _require(entry: Mapping[str, Any], key: str, name: str, path: Path) -> Any:
    if key not in entry:
        raise InputError(f"camera {name!r} lacks {key!r}", path)
    return entry[key]


def _array(value: Any, what: str, name: str, path: Path, size: int | None = None) -> np.ndarray:
    """``value`` as a flat float64 array, optionally of exactly ``size`` elements."""
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"camera {name!r}: {what!r} is not numeric: {value!r}", path) from None
    if size is not None and arr.size != size:
        raise InputError(
            f"camera {name!r}: {what!r} must have {size} numbers, got {arr.size}", path
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"camera {name!r}: {what!r} contains NaN or infinite values", path)
    return arr


def _camera(path: Path, **kwargs: Any) -> Camera:
    """Build a :class:`Camera`, re-raising its validation errors with the file name."""
    try:
        return Camera(**kwargs)
    except InputError as exc:
        if exc.path is None:
            raise InputError(str(exc), path) from None
        raise


def _intrinsics(fx: float, fy: float, cx: float, cy: float, skew: float = 0.0) -> np.ndarray:
    return np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _opencv_dist(k: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(k1, k2[, k3]) and (p1, p2) -> OpenCV order (k1, k2, p1, p2, k3)."""
    k = np.pad(k, (0, max(0, 3 - k.size)))
    p = np.pad(p, (0, max(0, 2 - p.size)))
    return np.array([k[0], k[1], p[0], p[1], k[2]])


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError("calibration file not found", path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read calibration file ({exc})", path) from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc})", path) from None


def _size_from(value: Any, name: str, path: Path) -> tuple[int, int]:
    wh = _array(value, "size", name, path, size=2)
    return int(round(wh[0])), int(round(wh[1]))


# ---------------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------------
def _read_panoptic(
    path: Path, *, camera_types: Iterable[str] | None, units: str | None, **_: Any
) -> dict[str, Camera]:
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise InputError(
            'not a CMU Panoptic calibration: expected {"cameras": [...]} at the top level', path
        )
    scale = _unit_scale(units or "cm", path)
    types = None if camera_types is None else {str(t) for t in camera_types}
    cameras: dict[str, Camera] = {}
    for index, entry in enumerate(data["cameras"]):
        if not isinstance(entry, dict):
            raise InputError(f"camera #{index} is not an object", path)
        name = str(entry.get("name", index))
        # entries without a type are kept: only real Panoptic files mix camera types
        if types is not None and "type" in entry and str(entry["type"]) not in types:
            continue
        K = _array(_require(entry, "K", name, path), "K", name, path, size=9).reshape(3, 3)
        R = _array(_require(entry, "R", name, path), "R", name, path, size=9).reshape(3, 3)
        t = _array(_require(entry, "t", name, path), "t", name, path, size=3) * scale
        dist = _array(entry.get("distCoef", np.zeros(5)), "distCoef", name, path)
        width, height = _size_from(entry.get("resolution", (0, 0)), name, path)
        cameras[name] = _camera(
            path, name=name, K=K, R=R, t=t, dist=dist, width=width, height=height
        )
    if not cameras and data["cameras"] and types is not None:
        raise InputError(
            f"none of the {len(data['cameras'])} cameras has a type in {sorted(types)}; "
            "pass camera_types=None to load every camera",
            path,
        )
    return cameras


def _voxelpose_entries(data: Any, path: Path) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        values = list(data.values())
        if len(values) == 1 and isinstance(values[0], list):  # {"<sequence>": [cam, ...]}
            return [(str(i), cam) for i, cam in enumerate(values[0])]
        return [(str(k), v) for k, v in data.items()]
    if isinstance(data, list):
        return [(str(i), cam) for i, cam in enumerate(data)]
    raise InputError("not a VoxelPose calibration: expected an object of cameras", path)


def _read_voxelpose(
    path: Path, *, image_size: tuple[int, int] | None, units: str | None, **_: Any
) -> dict[str, Camera]:
    data = _read_json(path)
    scale = _unit_scale(units or "mm", path)
    if image_size is None:
        lower = path.name.lower()
        image_size = next((s for k, s in DEFAULT_IMAGE_SIZES.items() if k in lower), (0, 0))
    cameras: dict[str, Camera] = {}
    for name, entry in _voxelpose_entries(data, path):
        if not isinstance(entry, dict):
            raise InputError(f"camera {name!r} is not an object", path)
        fx, fy, cx, cy = (
            float(_array(_require(entry, k, name, path), k, name, path, size=1)[0])
            for k in ("fx", "fy", "cx", "cy")
        )
        R = _array(_require(entry, "R", name, path), "R", name, path, size=9).reshape(3, 3)
        centre = _array(_require(entry, "T", name, path), "T", name, path, size=3) * scale
        k = _array(entry.get("k", np.zeros(3)), "k", name, path)
        p = _array(entry.get("p", np.zeros(2)), "p", name, path)
        if k.size > 3 or p.size > 2:
            raise InputError(f"camera {name!r}: expected at most 3 'k' and 2 'p' values", path)
        cameras[name] = _camera(
            path,
            name=name,
            K=_intrinsics(fx, fy, cx, cy),
            R=R,
            t=-R @ centre,  # x_cam = R (x_world − T) = R x_world − R T
            dist=_opencv_dist(k, p),
            width=image_size[0],
            height=image_size[1],
        )
    return cameras


def _read_h36m(path: Path, *, units: str | None, **_: Any) -> dict[str, Camera]:
    from tessetrack.io.safe_pickle import load_pickle

    if not path.is_file():
        raise InputError("calibration file not found", path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise InputError(
            f"not a Human3.6M camera table: expected a dict, got {type(data).__name__}", path
        )
    entries: list[tuple[str, dict[str, Any]]] = []
    for key, entry in data.items():
        name = "_".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
        if not isinstance(entry, dict):
            raise InputError(f"camera {name!r} is not a dict", path)
        entries.append((name, entry))
    centres = {
        name: _array(_require(e, "T", name, path), "T", name, path, size=3) for name, e in entries
    }
    if units is None:
        far = max((float(np.abs(c).max()) for c in centres.values()), default=0.0)
        units = "mm" if far > 50.0 else "m"
        logger.debug("%s: camera centres up to %.1f from the origin: %s", path, far, units)
    scale = _unit_scale(units, path)
    cameras: dict[str, Camera] = {}
    for name, entry in entries:
        # stored camera-to-world (mmpose's row-vector convention): transpose
        R = _array(_require(entry, "R", name, path), "R", name, path, size=9).reshape(3, 3).T
        f = _array(_require(entry, "f", name, path), "f", name, path, size=2)
        c = _array(_require(entry, "c", name, path), "c", name, path, size=2)
        k = _array(entry.get("k", np.zeros(3)), "k", name, path)
        p = _array(entry.get("p", np.zeros(2)), "p", name, path)
        cameras[name] = _camera(
            path,
            name=name,
            K=_intrinsics(f[0], f[1], c[0], c[1]),
            R=R,
            t=-R @ (centres[name] * scale),
            dist=_opencv_dist(k, p),
            width=int(entry.get("w", 0)),
            height=int(entry.get("h", 0)),
        )
    return cameras


def _opencv_paths(path: Path) -> tuple[Path, Path]:
    """(intrinsics file, extrinsics file) of an EasyMocap calibration given as folder or file."""
    if path.is_dir():
        found = []
        for stem in ("intri", "extri"):
            candidates = [path / f"{stem}{s}" for s in (".yml", ".yaml")]
            hit = next((c for c in candidates if c.is_file()), None)
            if hit is None:
                raise InputError(f"no {stem}.yml in the calibration folder", path)
            found.append(hit)
        return found[0], found[1]
    if not path.is_file():
        raise InputError("calibration file not found", path)
    stem = path.name.split(".")[0].lower()
    if stem in ("intri", "extri"):
        other = path.with_name(path.name.replace(stem, "extri" if stem == "intri" else "intri", 1))
        if not other.is_file():
            raise InputError(f"no {other.name} next to {path.name}", path)
        return (path, other) if stem == "intri" else (other, path)
    return path, path  # one file holding every key


def _open_storage(path: Path) -> Any:
    import cv2

    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:  # some parse errors surface as SystemError
        cause = exc.__cause__ or exc.__context__ or exc
        lines = str(cause).strip().splitlines()
        msg = lines[-1] if lines else "parse error"
        raise InputError(f"malformed OpenCV YAML/XML ({msg})", path) from None
    if not fs.isOpened():
        raise InputError("cannot open as an OpenCV FileStorage file", path)
    return fs


def _storage_names(fs: Any, path: Path) -> list[str]:
    node = fs.getNode("names")
    if node.empty() or not node.isSeq():
        raise InputError("lacks the 'names' list of cameras", path)
    names = []
    for i in range(node.size()):
        item = node.at(i)
        if item.isString():
            names.append(item.string())
        else:  # numbers written without quotes
            value = item.real()
            names.append(str(int(value)) if float(value).is_integer() else str(value))
    return names


def _storage_mat(fs: Any, key: str, name: str, path: Path, required: bool = True) -> Any:
    node = fs.getNode(key)
    if node.empty():
        if required:
            raise InputError(f"camera {name!r} lacks {key!r}", path)
        return None
    if node.isMap():
        mat = node.mat()
        if mat is None:
            raise InputError(f"camera {name!r}: {key!r} is not an OpenCV matrix", path)
        return np.asarray(mat, dtype=np.float64)
    if node.isSeq():
        return np.array([node.at(i).real() for i in range(node.size())], dtype=np.float64)
    return np.array([node.real()], dtype=np.float64)


def _read_opencv(
    path: Path, *, image_size: tuple[int, int] | None, units: str | None, **_: Any
) -> dict[str, Camera]:
    intri_path, extri_path = _opencv_paths(path)
    scale = _unit_scale(units or "m", path)
    intri = _open_storage(intri_path)
    extri = intri if extri_path == intri_path else _open_storage(extri_path)
    try:
        names = _storage_names(intri, intri_path)
        cameras: dict[str, Camera] = {}
        for name in names:
            K = _array(_storage_mat(intri, f"K_{name}", name, intri_path), "K", name, intri_path, 9)
            dist = _storage_mat(intri, f"dist_{name}", name, intri_path, required=False)
            dist = np.zeros(5) if dist is None else _array(dist, "dist", name, intri_path)
            rot = _storage_mat(extri, f"Rot_{name}", name, extri_path, required=False)
            if rot is not None:
                R = _array(rot, f"Rot_{name}", name, extri_path, 9).reshape(3, 3)
            else:
                rvec = _storage_mat(extri, f"R_{name}", name, extri_path)
                R = _rodrigues_to_matrix(_array(rvec, f"R_{name}", name, extri_path, 3))
            t = _array(_storage_mat(extri, f"T_{name}", name, extri_path), "T", name, extri_path, 3)
            height = _storage_mat(intri, f"H_{name}", name, intri_path, required=False)
            width = _storage_mat(intri, f"W_{name}", name, intri_path, required=False)
            if width is not None and height is not None:
                size = (int(width.reshape(-1)[0]), int(height.reshape(-1)[0]))
            else:
                size = image_size or (0, 0)
            cameras[name] = _camera(
                intri_path,
                name=name,
                K=K.reshape(3, 3),
                R=R,
                t=t * scale,
                dist=dist,
                width=size[0],
                height=size[1],
            )
        return cameras
    finally:
        intri.release()
        if extri is not intri:
            extri.release()


def _rodrigues_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """Rodrigues (axis × angle) vector (3,) -> rotation matrix (3, 3)."""
    return Rotation.from_rotvec(rvec).as_matrix()


def _matrix_to_rodrigues(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> Rodrigues vector (3,)."""
    return Rotation.from_matrix(R).as_rotvec()


def _read_toml(
    path: Path, *, image_size: tuple[int, int] | None, units: str | None, **_: Any
) -> dict[str, Camera]:
    try:
        import tomllib
    except ImportError:  # Python 3.10: the tomli backport has the same API
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"malformed TOML ({exc})", path) from None
    metadata = data.get("metadata", {})
    if units is None:
        units = str(metadata.get("units", "mm")) if isinstance(metadata, dict) else "mm"
    scale = _unit_scale(units, path)
    cameras: dict[str, Camera] = {}
    for key, entry in data.items():
        if key == "metadata" or not isinstance(entry, dict):
            continue
        name = str(entry.get("name", key))
        if entry.get("fisheye", False):
            raise InputError(
                f"camera {name!r} uses the fisheye model; only OpenCV's pinhole model "
                "(k1, k2, p1, p2, k3) is supported",
                path,
            )
        K = _array(_require(entry, "matrix", name, path), "matrix", name, path, 9).reshape(3, 3)
        dist = _array(entry.get("distortions", np.zeros(5)), "distortions", name, path)
        rvec = _array(_require(entry, "rotation", name, path), "rotation", name, path, 3)
        t = _array(_require(entry, "translation", name, path), "translation", name, path, 3)
        size = _size_from(entry["size"], name, path) if "size" in entry else image_size or (0, 0)
        cameras[name] = _camera(
            path,
            name=name,
            K=K,
            R=_rodrigues_to_matrix(rvec),
            t=t * scale,
            dist=dist,
            width=size[0],
            height=size[1],
        )
    return cameras


def _xml_float(element: ET.Element, key: str, name: str, path: Path) -> float:
    if key not in element.attrib:
        raise InputError(f"camera {name!r}: <{element.tag}> lacks {key!r}", path)
    try:
        value = float(element.attrib[key])
    except ValueError:
        raise InputError(
            f"camera {name!r}: <{element.tag}> {key}={element.attrib[key]!r} is not a number", path
        ) from None
    if not math.isfinite(value):
        raise InputError(f"camera {name!r}: <{element.tag}> {key} is not finite", path)
    return value


def _xml_child(camera: ET.Element, tag: str, name: str, path: Path) -> ET.Element:
    child = camera.find(tag)
    if child is None:
        raise InputError(f"camera {name!r} lacks <{tag}>", path)
    return child


def _read_qualisys(path: Path, *, units: str | None, **_: Any) -> dict[str, Camera]:
    text = _read_text(path)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(f"malformed XML ({exc})", path) from None
    scale = _unit_scale(units or "mm", path)
    sub = _QUALISYS_SUBPIXELS
    cameras: dict[str, Camera] = {}
    for index, cam in enumerate(root.findall("cameras/camera")):
        name = cam.attrib.get("serial", str(index))
        model = cam.attrib.get("model", "none").lower()
        if "video" not in model and "none" not in model:
            logger.debug("%s: skipping marker camera %s (model %s)", path, name, model)
            continue
        fov = _xml_child(cam, "fov_video", name, path)
        left, top, right, bottom = (
            _xml_float(fov, k, name, path) for k in ("left", "top", "right", "bottom")
        )
        tr = _xml_child(cam, "transform", name, path)
        centre = np.array([_xml_float(tr, k, name, path) for k in "xyz"]) * scale
        M = np.array(
            [[_xml_float(tr, f"r{i}{j}", name, path) for j in (1, 2, 3)] for i in (1, 2, 3)]
        )
        R = _FLIP_YZ @ M  # OpenCV axes (y down, z forward) from Qualisys' (y up, z backwards)
        intr = _xml_child(cam, "intrinsic", name, path)

        def q(key: str, _intr: ET.Element = intr, _name: str = name) -> float:
            return _xml_float(_intr, key, _name, path) / sub  # sub-pixels -> pixels

        K = _intrinsics(
            q("focalLengthU"),
            q("focalLengthV"),
            q("centerPointU") - left,
            q("centerPointV") - top,
            skew=float(intr.attrib.get("skew", 0.0)) / sub,
        )
        # the distortion coefficients are plain numbers (OpenCV's), not sub-pixels
        k3 = 0.0
        if "radialDistortion3" in intr.attrib:
            k3 = _xml_float(intr, "radialDistortion3", name, path)
        dist = np.array(
            [
                _xml_float(intr, "radialDistortion1", name, path),
                _xml_float(intr, "radialDistortion2", name, path),
                _xml_float(intr, "tangentalDistortion1", name, path),
                _xml_float(intr, "tangentalDistortion2", name, path),
                k3,
            ]
        )
        if abs(dist[0]) > _QUALISYS_MAX_K1:  # Pose2Sim's TOML-to-QCA converter multiplies by 64
            logger.warning("%s: camera %s's radialDistortion1 %g is far beyond a lens's: read "
                           "as Pose2Sim's converter writes them, 64 times OpenCV's coefficients",
                           path, name, dist[0])  # fmt: skip
            dist = dist / sub
        cameras[name] = _camera(
            path,
            name=name,
            K=K,
            R=R,
            t=-R @ centre,
            dist=dist,
            width=int(round(right - left + 1)),
            height=int(round(bottom - top + 1)),
        )
    return cameras


def _read_tessetrack(
    path: Path, *, units: str | None, image_size: tuple[int, int] | None, **_: Any
) -> dict[str, Camera]:
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise InputError('expected {"format": "tessetrack.cameras/1", "cameras": [...]}', path)
    fmt = data.get("format", TESSETRACK_CAMERAS_FORMAT)
    if fmt != TESSETRACK_CAMERAS_FORMAT:
        raise InputError(
            f"unsupported format tag {fmt!r}; this version reads {TESSETRACK_CAMERAS_FORMAT!r}",
            path,
        )
    scale = _unit_scale(units or str(data.get("units", "m")), path)
    cameras: dict[str, Camera] = {}
    for index, entry in enumerate(data["cameras"]):
        if not isinstance(entry, dict):
            raise InputError(f"camera #{index} is not an object", path)
        name = str(_require(entry, "name", f"#{index}", path))
        if name in cameras:
            raise InputError(f"camera name {name!r} appears twice", path)
        default_size = image_size or (0, 0)
        cameras[name] = _camera(
            path,
            name=name,
            K=_array(_require(entry, "K", name, path), "K", name, path, 9).reshape(3, 3),
            R=_array(_require(entry, "R", name, path), "R", name, path, 9).reshape(3, 3),
            t=_array(_require(entry, "t", name, path), "t", name, path, 3) * scale,
            dist=_array(entry.get("dist", np.zeros(5)), "dist", name, path),
            width=int(entry.get("width", default_size[0])),
            height=int(entry.get("height", default_size[1])),
        )
    return cameras


_READERS: dict[str, Callable[..., dict[str, Camera]]] = {
    "panoptic": _read_panoptic,
    "voxelpose": _read_voxelpose,
    "h36m": _read_h36m,
    "opencv": _read_opencv,
    "toml": _read_toml,
    "qualisys": _read_qualisys,
    "tessetrack": _read_tessetrack,
}

#: every ``format=`` name :func:`load_cameras` accepts (aliases included)
CALIBRATION_FORMATS: tuple[str, ...] = tuple(_READERS) + tuple(_ALIASES)


# ---------------------------------------------------------------------------------------------
# format detection
# ---------------------------------------------------------------------------------------------
def _json_kind(data: Any) -> str | None:
    if isinstance(data, dict):
        if data.get("format") == TESSETRACK_CAMERAS_FORMAT:
            return "tessetrack"
        if isinstance(data.get("cameras"), list):
            first = next(iter(data["cameras"]), {})
            if isinstance(first, dict) and ("distCoef" in first or "resolution" in first):
                return "panoptic"
            if isinstance(first, dict) and "K" in first and "t" in first:
                return "panoptic"
        values = list(data.values())
        if len(values) == 1 and isinstance(values[0], list):
            values = values[0]
        if values and all(isinstance(v, dict) and "fx" in v and "T" in v for v in values):
            return "voxelpose"
    return None


def detect_format(path: PathT) -> str:
    """Guess the calibration format of ``path`` from its name and, for JSON, its content.

    Args:
        path: a calibration file, or a folder holding EasyMocap's ``intri.yml``/``extri.yml``.

    Returns:
        One of ``panoptic``, ``voxelpose``, ``h36m``, ``opencv``, ``toml``, ``qualisys``,
        ``tessetrack``.

    Raises:
        InputError: the path does not exist or its format is not recognised.
    """
    p = Path(path)
    if p.is_dir():
        if any((p / f"{s}{e}").is_file() for s in ("intri", "extri") for e in (".yml", ".yaml")):
            return "opencv"
        raise InputError(
            "a calibration folder must hold EasyMocap's intri.yml and extri.yml; "
            "otherwise pass the calibration file itself",
            p,
        )
    if not p.is_file():
        raise InputError("calibration file not found", p)
    name = p.name.lower()
    if name.endswith((".qca.txt", ".qca")):
        return "qualisys"
    suffix = p.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        return "h36m"
    if suffix == ".toml":
        return "toml"
    if suffix in (".yml", ".yaml"):
        return "opencv"
    if suffix == ".json":
        kind = _json_kind(_read_json(p))
        if kind is None:
            raise InputError(
                "unrecognised calibration JSON (not Panoptic, VoxelPose or tessetrack); the "
                "formats tessetrack reads are listed in docs/own_cameras.md",
                p,
            )
        return kind
    if suffix in (".xml", ".txt"):
        head = _read_text(p)[:2000]
        if re.search(r"<calibration\b", head) and "<cameras" in head:
            return "qualisys"
    raise InputError(
        f"cannot tell the calibration format from the name {p.name!r}; name the file by its "
        "format (.json, .toml, .yml, .qca.txt, .pkl) or, in Python, pass format= one of "
        f"{', '.join(CALIBRATION_FORMATS)}",
        p,
    )


# ---------------------------------------------------------------------------------------------
# plausibility
# ---------------------------------------------------------------------------------------------
#: the unit each format's translations are read in when ``units`` is not given (None: the file
#: says, or it varies)
_DEFAULT_UNITS = {"panoptic": "cm", "voxelpose": "mm", "qualisys": "mm", "opencv": "m"}

#: the largest distance between two cameras of a plausible rig, in metres (a room to a stadium)
RIG_SIZE_RANGE_M = (0.3, 200.0)


def check_rig_scale(
    cameras: Mapping[str, Camera],
    path: PathT,
    *,
    units: str | None = None,
    default_units: str | None = None,
) -> None:
    """Check that the largest distance between camera centres lies in :data:`RIG_SIZE_RANGE_M`.

    Skipped for one camera, or cameras all at one place (intrinsics only). A rig outside the range
    read in the format's default unit is refused when another unit would make it plausible (the
    message names it: ``--units cm``); with ``units`` given explicitly, or when no unit helps, a
    warning is logged instead.

    Raises:
        InputError: the rig is implausibly sized and another unit would fit; names the file.
    """
    if len(cameras) < 2:
        return
    centres = np.stack([c.center for c in cameras.values()])  # V×3 metres
    size = float(np.linalg.norm(centres[:, None] - centres[None], axis=-1).max())
    lo, hi = RIG_SIZE_RANGE_M
    if size < 1e-9 or lo <= size <= hi:
        return
    read_as = units or default_units
    fits = []
    if read_as is not None:
        raw = size / UNIT_SCALE[read_as]
        fits = [u for u in UNIT_SCALE if u != read_as and lo <= raw * UNIT_SCALE[u] <= hi]
    unit_text = f"translations read as {read_as}" if read_as else "translations as the file says"
    message = (
        f"cameras up to {size:.3g} m apart with the {unit_text}: not a plausible rig "
        f"({lo:g}-{hi:g} m)"
    )
    if fits and units is None:
        raise InputError(f"{message}; if the file is in {fits[0]}, pass --units {fits[0]}", path)
    hint = "check the calibration" if units is not None else "pass --units m, cm or mm"
    logger.warning("%s: %s; %s", path, message, hint)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def load_cameras(
    path: PathT,
    format: str | None = None,  # noqa: A002 - the SPEC's keyword
    *,
    camera_types: Iterable[str] | None = ("hd",),
    image_size: tuple[int, int] | None = None,
    units: str | None = None,
) -> dict[str, Camera]:
    """Read a calibration file into cameras in metres (SPEC convention ``x_cam = R x + t``).

    Args:
        path: the calibration file (or EasyMocap folder); see the module docstring for formats.
        format: one of :data:`CALIBRATION_FORMATS`; None detects it (:func:`detect_format`).
        camera_types: ``panoptic`` only: the camera types to keep (``"hd"``, ``"vga"``,
            ``"kinect-color"``); None keeps all.
        image_size: ``(W, H)`` for cameras whose file does not state it (``voxelpose``,
            ``opencv`` without ``H_``/``W_``, ``toml`` without ``size``); for ``voxelpose`` it
            overrides the Shelf/Campus defaults.
        units: the length unit of the file's translations (``"m"``, ``"cm"``, ``"mm"``),
            overriding the format's default (see the module docstring).

    Returns:
        ``{camera name: Camera}`` in file order (``h36m``: pickle order).

    Raises:
        InputError: missing file, unknown format, malformed content, missing fields, invalid
            camera parameters, no cameras at all, or a rig of implausible size that another unit
            would make plausible (:func:`check_rig_scale`); the message names the file.
    """
    p = Path(path)
    if format is None:
        fmt = detect_format(p)
    else:
        fmt = _ALIASES.get(format.lower(), format.lower())
        if fmt not in _READERS:
            raise InputError(
                f"unknown calibration format {format!r}; expected one of "
                f"{', '.join(CALIBRATION_FORMATS)}",
                p,
            )
        if not p.exists():
            raise InputError("calibration file not found", p)
    if image_size is not None:
        image_size = (int(image_size[0]), int(image_size[1]))
    cameras = _READERS[fmt](p, camera_types=camera_types, image_size=image_size, units=units)
    if not cameras:
        raise InputError(f"the {fmt} calibration holds no cameras", p)
    check_rig_scale(cameras, p, units=units, default_units=_DEFAULT_UNITS.get(fmt))
    logger.debug("%s: %d cameras (%s)", p, len(cameras), fmt)
    return cameras


def _camera_list(cameras: Mapping[str, Camera] | Iterable[Camera]) -> list[Camera]:
    if isinstance(cameras, Mapping):
        cams = [c if c.name == str(k) else _renamed(c, str(k)) for k, c in cameras.items()]
    else:
        cams = list(cameras)
    if not cams:
        raise InputError("no cameras to save")
    names = [c.name for c in cams]
    if len(set(names)) != len(names):
        raise InputError(f"camera names must be unique, got {names}")
    return cams


def _renamed(camera: Camera, name: str) -> Camera:
    return Camera(name, camera.K, camera.R, camera.t, camera.dist, camera.width, camera.height)


def _write_tessetrack(cameras: list[Camera], path: Path, units: str) -> None:
    scale = _unit_scale(units, path)
    doc = {
        "format": TESSETRACK_CAMERAS_FORMAT,
        "units": units,
        "cameras": [
            {
                "name": c.name,
                "K": c.K.tolist(),
                "R": c.R.tolist(),
                "t": (c.t / scale).tolist(),
                "dist": c.dist.tolist(),
                "width": c.width,
                "height": c.height,
            }
            for c in cameras
        ],
    }
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def _write_toml(cameras: list[Camera], path: Path, units: str) -> None:
    import tomli_w

    scale = _unit_scale(units, path)
    doc: dict[str, Any] = {}
    for i, c in enumerate(cameras):
        doc[f"cam_{i}"] = {
            "name": c.name,
            "size": [c.width, c.height],
            "matrix": c.K.tolist(),
            "distortions": c.dist.tolist(),
            "rotation": _matrix_to_rodrigues(c.R).tolist(),
            "translation": (c.t / scale).tolist(),
            "fisheye": False,
        }
    # anipose's metadata table; "units" is tessetrack's addition that its reader honours
    doc["metadata"] = {"adjusted": False, "error": 0.0, "units": units}
    atomic_write_text(path, tomli_w.dumps(doc))


_WRITERS: dict[str, Callable[[list[Camera], Path, str], None]] = {
    "tessetrack": _write_tessetrack,
    "toml": _write_toml,
}


def save_cameras(
    cameras: Mapping[str, Camera] | Iterable[Camera],
    path: PathT,
    format: str | None = None,  # noqa: A002 - mirrors load_cameras
    *,
    units: str = "m",
) -> Path:
    """Write cameras as tessetrack JSON (``.json``) or anipose-layout TOML (``.toml``).

    Args:
        cameras: ``{name: Camera}`` (the keys name the cameras) or a sequence of cameras.
        path: output file; its suffix picks the format unless ``format`` is given.
        format: ``"tessetrack"`` or ``"toml"`` (alias ``"anipose"``).
        units: length unit of the written translations (``"m"``, ``"cm"``, ``"mm"``); it is
            recorded in the file, so :func:`load_cameras` reads it back in metres.

    Returns:
        The written path.

    Raises:
        InputError: no cameras, duplicate names, unknown format or unit.
    """
    p = Path(path)
    if format is None:
        fmt = {".json": "tessetrack", ".toml": "toml"}.get(p.suffix.lower())
        if fmt is None:
            raise InputError("cannot tell the output format from the suffix; use .json or .toml", p)
    else:
        fmt = _ALIASES.get(format.lower(), format.lower())
        if fmt not in _WRITERS:
            raise InputError(
                f"cannot write calibration format {format!r}; choose one of {', '.join(_WRITERS)}",
                p,
            )
    cams = _camera_list(cameras)
    p.parent.mkdir(parents=True, exist_ok=True)
    _WRITERS[fmt](cams, p, units)
    return p
