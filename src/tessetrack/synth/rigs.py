"""Camera rigs for synthetic scenes: real calibrated rigs (Panoptic, Shelf, Campus) and parametric ones.

A :class:`Rig` is a set of cameras in the rig's own world frame (metres) plus where the synthetic
scene's **floor frame** (z up, floor at z = 0, see :mod:`tessetrack.synth.motion`) lies in that world
and which area of the floor the cameras cover:

``points_world = R_world_from_floor @ points_floor + t_world_from_floor``.

Real rigs keep their world frames, so generated ground truth lives where the real datasets' does:

* ``panoptic``: CMU Panoptic's world is y **down** with the floor at y = 0 (the sample sequences'
  ankles are at y ≈ −8 cm), so ``(x, y, z)_world = (x_f, −z_f, y_f)``. Default cameras are
  VoxelPose's five HD cameras 00_03, 00_06, 00_12, 00_13, 00_23.
* ``shelf`` and ``campus``: z up with the floor at z = 0 (the sample ground truth's ankles are at
  z ≈ 0.0 m and 0.1 m), so the floor frame is the world frame. The capture areas are where the
  real actors stand (Shelf: around the shelf, Campus: the courtyard in front of the cameras).

The calibrations ship as package data (``rigs_data/``, Apache-2.0, see its NOTICE.md) and are read
with :func:`tessetrack.io.load_cameras`. Rendered images have no lens distortion, so every rig
camera has ``dist = 0`` (the real rigs' distortion is dropped).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera

if TYPE_CHECKING:
    from tessetrack.geometry.rig_frame import RigFrame

logger = logging.getLogger(__name__)

#: Why a rig's people cannot walk where two cameras see them (:func:`two_view_rig`).
_NO_WALK = "no floor at least 1 m across is seen whole by two cameras"

__all__ = [
    "Rig",
    "RIG_NAMES",
    "PANOPTIC_DEFAULT_CAMERAS",
    "rigs_data_dir",
    "look_at_camera",
    "ring_rig",
    "random_rig",
    "VariedRigSpec",
    "varied_rig",
    "real_rig",
    "calibration_rig",
    "two_view_rig",
    "make_rig",
]

RIG_NAMES: tuple[str, ...] = ("ring", "random", "varied", "panoptic", "shelf", "campus")

#: VoxelPose's Panoptic cameras, then the other HD cameras for ``--cameras`` > 5.
PANOPTIC_DEFAULT_CAMERAS: tuple[str, ...] = ("00_03", "00_06", "00_12", "00_13", "00_23")

# name -> (file, R_world_from_floor, area centre (floor xy, m), area half size (m), native size)
_REAL_RIGS: dict[str, tuple[str, tuple[tuple[float, ...], ...], tuple, tuple, tuple | None]] = {
    "panoptic": (
        "calibration_160906_band1.json",
        ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),  # y down: (x_f, -z_f, y_f)
        (0.0, 0.0),  # the dome's centre is the world origin
        (2.0, 2.0),
        None,  # the file has the resolution
    ),
    "shelf": (
        "calibration_shelf.json",
        ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        (0.5, -0.3),  # the actors stand around (0, 0) and (1.4, -0.6)
        (1.2, 1.2),
        (1032, 776),
    ),
    "campus": (
        "calibration_campus.json",
        ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        (2.5, 3.5),  # VoxelPose's campus space is centred at (3.0, 4.5) m
        (3.0, 3.0),
        (360, 288),
    ),
}


@dataclass(frozen=True, eq=False)
class Rig:
    """Cameras plus the floor frame's pose in their world.

    Attributes:
        name: rig name.
        cameras: V cameras (world metres, ``dist = 0``).
        R_world_from_floor: (3, 3); t_world_from_floor: (3,) metres.
        area_center: (2,) floor-frame xy of the capture area's centre.
        area_half_size: (2,) half extents of the (axis-aligned) capture area, metres.
    """

    name: str
    cameras: tuple[Camera, ...]
    R_world_from_floor: np.ndarray
    t_world_from_floor: np.ndarray
    area_center: np.ndarray
    area_half_size: np.ndarray

    def floor_to_world(self, points_floor: np.ndarray) -> np.ndarray:
        """(..., 3) floor-frame points -> (..., 3) world points (NaN stays NaN)."""
        return points_floor @ self.R_world_from_floor.T + self.t_world_from_floor

    def world_to_floor(self, points_world: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) floor-frame points."""
        return (points_world - self.t_world_from_floor) @ self.R_world_from_floor


def rigs_data_dir() -> Path:
    """Folder of the shipped calibration files."""
    return Path(__file__).resolve().parent / "rigs_data"


def look_at_camera(
    name: str,
    eye: np.ndarray,
    target: np.ndarray,
    *,
    width: int,
    height: int,
    fov_deg: float = 60.0,
    up: np.ndarray | None = None,
) -> Camera:
    """A distortion-free camera at ``eye`` looking at ``target`` (world metres, z up).

    Args:
        name: camera name.
        eye, target: (3,) positions.
        width, height: image size in pixels.
        fov_deg: horizontal field of view.
        up: world up direction (default +z); the image's y axis points against it.
    """
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, float)
    z = np.asarray(target, float) - np.asarray(eye, float)
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-6:  # looking straight along up: any x will do
        x = np.cross(z, np.array([1.0, 0.0, 0.0]))
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])  # rows: camera axes in world coordinates
    f = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    K = np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])
    return Camera(name, K, R, -R @ np.asarray(eye, float), np.zeros(5), width, height)


def _check_count(num_cameras: int) -> None:
    if int(num_cameras) < 1:
        raise InputError(f"need at least 1 camera, got {num_cameras}")


def ring_rig(
    num_cameras: int,
    *,
    width: int = 512,
    height: int = 512,
    radius: float = 5.0,
    camera_height: float = 2.5,
    target_height: float = 0.9,
    fov_deg: float = 60.0,
    area_half_size: float = 2.0,
) -> Rig:
    """V cameras evenly spaced on a circle, all looking at the centre of a square area (z up).

    Cameras are named ``00_00``, ``00_01``, ... (Panoptic's HD names, so the written dataset is a
    valid Panoptic sequence).
    """
    _check_count(num_cameras)
    cams = []
    for v in range(int(num_cameras)):
        a = 2 * np.pi * v / num_cameras
        eye = np.array([radius * np.cos(a), radius * np.sin(a), camera_height])
        cams.append(
            look_at_camera(
                f"00_{v:02d}",
                eye,
                np.array([0.0, 0.0, target_height]),
                width=width,
                height=height,
                fov_deg=fov_deg,
            )
        )
    return Rig(
        "ring",
        tuple(cams),
        np.eye(3),
        np.zeros(3),
        np.zeros(2),
        np.full(2, float(area_half_size)),
    )


def random_rig(
    num_cameras: int,
    rng: np.random.Generator,
    *,
    width: int = 512,
    height: int = 512,
    radius_range: tuple[float, float] = (4.0, 7.0),
    height_range: tuple[float, float] = (1.2, 3.5),
    fov_range: tuple[float, float] = (50.0, 75.0),
    area_half_size: float = 2.0,
) -> Rig:
    """V cameras at random azimuths, distances, heights and fields of view around the area."""
    _check_count(num_cameras)
    azimuths = np.sort(rng.uniform(0, 2 * np.pi, int(num_cameras)))
    cams = []
    for v, a in enumerate(azimuths):
        r = rng.uniform(*radius_range)
        eye = np.array([r * np.cos(a), r * np.sin(a), rng.uniform(*height_range)])
        target = np.array([*rng.uniform(-0.5, 0.5, 2), rng.uniform(0.6, 1.2)])
        cams.append(
            look_at_camera(
                f"00_{v:02d}",
                eye,
                target,
                width=width,
                height=height,
                fov_deg=float(rng.uniform(*fov_range)),
            )
        )
    return Rig(
        "random",
        tuple(cams),
        np.eye(3),
        np.zeros(3),
        np.zeros(2),
        np.full(2, float(area_half_size)),
    )


@dataclass(frozen=True)
class VariedRigSpec:
    """The distribution of :func:`varied_rig`: the rigs people bring, from a webcam pair in a
    corner to a sports-hall ring (lengths in metres, angles in degrees).

    Attributes:
        cameras: inclusive range of the number of cameras.
        heights: camera heights above the floor.
        distances: horizontal distance of a camera from the capture area's centre.
        fov: horizontal field of view of a landscape image (of the longer side).
        short_sides: image height of a landscape image (360p to 4K); the long side is 4:3 or 16:9.
        portrait_prob: probability that a camera is turned to portrait.
        area_sizes: side lengths of the (rectangular) capture area.
        aim_spread: where in the area a camera aims, as a fraction of the area's half size.
        roll: largest roll about the optical axis.
        k1: radial distortion range (kept monotonic over the image).
    """

    cameras: tuple[int, int] = (1, 10)
    heights: tuple[float, float] = (0.5, 4.0)
    distances: tuple[float, float] = (2.0, 15.0)
    fov: tuple[float, float] = (40.0, 110.0)
    short_sides: tuple[int, ...] = (360, 480, 720, 1080, 1200, 2160)
    portrait_prob: float = 0.15
    area_sizes: tuple[float, float] = (3.0, 8.0)
    aim_spread: float = 0.6
    roll: float = 5.0
    k1: tuple[float, float] = (-0.15, 0.05)


def _varied_size(rng: np.random.Generator, spec: VariedRigSpec) -> tuple[int, int]:
    short = int(rng.choice(spec.short_sides))
    long = int(round(short * (16 / 9 if rng.random() < 0.7 else 4 / 3)))
    return (short, long) if rng.random() < spec.portrait_prob else (long, short)


def varied_rig(
    rng: np.random.Generator,
    spec: VariedRigSpec = VariedRigSpec(),
    *,
    num_cameras: int | None = None,
) -> Rig:
    """A rig drawn from ``spec``: cameras at random heights, distances, headings, tilts, rolls,
    fields of view, image sizes (portrait or landscape) and lens distortion around a rectangular
    capture area centred on the floor frame's origin (z up, floor at 0).

    Every camera aims at a random point of the area between 0.3 m and 1.5 m high, so each sees part
    of it; a camera inside the area's footprint is moved out to its edge.
    """
    v = (
        int(rng.integers(spec.cameras[0], spec.cameras[1] + 1))
        if num_cameras is None
        else num_cameras
    )
    _check_count(v)
    half = rng.uniform(*spec.area_sizes, size=2) / 2
    cams = []
    for i in range(v):
        width, height = _varied_size(rng, spec)
        azimuth = rng.uniform(0, 2 * np.pi)
        direction = np.array([np.cos(azimuth), np.sin(azimuth)])
        edge = float(np.min(half / np.maximum(np.abs(direction), 1e-9)))  # centre to area edge
        distance = max(float(rng.uniform(*spec.distances)), edge + 0.3)
        eye = np.array([*(distance * direction), rng.uniform(*spec.heights)])
        target = np.array(
            [*(rng.uniform(-1, 1, 2) * half * spec.aim_spread), rng.uniform(0.3, 1.5)]
        )
        fov = float(rng.uniform(*spec.fov))
        if height > width:  # portrait: the drawn field of view belongs to the long side
            fov = float(np.degrees(2 * np.arctan(np.tan(np.radians(fov) / 2) * width / height)))
        cam = look_at_camera(f"cam{i:02d}", eye, target, width=width, height=height, fov_deg=fov)
        roll = np.radians(rng.uniform(-spec.roll, spec.roll))
        c, s = np.cos(roll), np.sin(roll)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ cam.R
        # k1 · r² ≥ -0.25 at the image corner keeps r(1 + k1 r²) monotonic with room to spare
        r2 = ((width / 2) ** 2 + (height / 2) ** 2) / cam.K[0, 0] ** 2
        k1 = float(np.clip(rng.uniform(*spec.k1), -0.25 / r2, None))
        cams.append(Camera(cam.name, cam.K, R, -R @ eye, np.array([k1, 0, 0, 0, 0]), width, height))
    return Rig("varied", tuple(cams), np.eye(3), np.zeros(3), np.zeros(2), half)


def real_rig(
    name: str,
    *,
    num_cameras: int | None = None,
    camera_names: tuple[str, ...] | None = None,
    image_size: tuple[int, int] | None = None,
) -> Rig:
    """A real rig from the shipped calibrations (``panoptic``, ``shelf``, ``campus``).

    Args:
        name: rig name.
        num_cameras: how many cameras (default: Panoptic's 5 VoxelPose cameras, all of
            Shelf's 5 and Campus' 3).
        camera_names: explicit camera names (overrides ``num_cameras``).
        image_size: (W, H) of the rendered images; default: the native size scaled to 512 wide.

    Raises:
        InputError: unknown rig, unknown camera names, or more cameras than the rig has.
    """
    from tessetrack.io.calibration import load_cameras

    if name not in _REAL_RIGS:
        raise InputError(f"unknown real rig {name!r}; choose one of {', '.join(_REAL_RIGS)}")
    file, R, center, half, native = _REAL_RIGS[name]
    path = rigs_data_dir() / file
    all_cams = load_cameras(path)
    if name == "panoptic":
        hd = [n for n in all_cams if n.startswith("00_")]  # HD cameras are panel 00
        order = list(PANOPTIC_DEFAULT_CAMERAS) + sorted(set(hd) - set(PANOPTIC_DEFAULT_CAMERAS))
    else:
        order = sorted(all_cams)
    if camera_names is None:
        n = 5 if name == "panoptic" and num_cameras is None else num_cameras
        n = len(order) if n is None else int(n)
        _check_count(n)
        if n > len(order):
            raise InputError(f"the {name} rig has {len(order)} cameras, {n} were asked for")
        camera_names = tuple(order[:n])
    camera_names = tuple(str(c) for c in camera_names)
    missing = [c for c in camera_names if c not in all_cams]
    if missing:
        raise InputError(f"the {name} rig has no cameras {missing}; it has {order}")
    cams = []
    for cname in camera_names:
        cam = all_cams[cname]
        w, h = (cam.width, cam.height) if cam.width > 0 and cam.height > 0 else native
        # Panoptic-layout names (HD cameras are ``00_XX``); Shelf/Campus "0".."4" -> 00_00..00_04
        new_name = cam.name if name == "panoptic" else f"00_{int(cam.name):02d}"
        cam = Camera(new_name, cam.K, cam.R, cam.t, np.zeros(5), w, h)
        if image_size is None:
            size = (512, int(round(512 * h / w)))
        else:
            size = (int(image_size[0]), int(image_size[1]))
        cams.append(cam.scaled(*size) if size != (w, h) else cam)
    return Rig(
        name,
        tuple(cams),
        np.asarray(R, dtype=np.float64),
        np.zeros(3),
        np.asarray(center, dtype=np.float64),
        np.asarray(half, dtype=np.float64),
    )


def calibration_rig(
    path: str | Path,
    *,
    num_cameras: int | None = None,
    image_size: tuple[int, int] | None = None,
    distortion: bool = True,
) -> Rig:
    """The rig of any calibration file :func:`tessetrack.io.load_cameras` reads, in its own world.

    Its floor frame is the rig frame found from the calibration alone
    (:func:`tessetrack.geometry.rig_frame.rig_frame`: the calibration's up, the floor at z = 0 of a
    z-up calibration), and people walk where two or more cameras see them whole
    (:func:`~tessetrack.geometry.rig_frame.walk_area`: the largest rectangle of floor whose
    column from ankle to head height two cameras see, 0.3 m clear of its edge); where no such floor
    is 1 m across, in the capture area less its 1 m margin, at least 2 m × 2 m (a warning says so).

    Args:
        path: the calibration file.
        num_cameras: the first this many cameras (sorted by name); default all.
        image_size: (W, H) to scale every camera to; default each camera's own size.
        distortion: keep the lens distortion (False for rendered images, which have none).
    """
    from tessetrack.geometry.rig_frame import rig_frame
    from tessetrack.io.calibration import load_cameras

    all_cams = load_cameras(path)
    names = sorted(all_cams)[: len(all_cams) if num_cameras is None else int(num_cameras)]
    _check_count(len(names))
    cams = []
    for n in names:
        cam = all_cams[n]
        if cam.width <= 0 or cam.height <= 0:
            raise InputError(f"{path}: camera {n!r} has no image size; pass --image-size")
        if not distortion:
            cam = Camera(cam.name, cam.K, cam.R, cam.t, np.zeros(5), cam.width, cam.height)
        cams.append(cam.scaled(*image_size) if image_size is not None else cam)
    frame = rig_frame({c.name: c for c in cams})
    found = _walk(frame, cams)
    if found is None:
        logger.warning("%s: %s; people walk in the capture area, where fewer cameras may see them",
                       path, _NO_WALK)  # fmt: skip
        half = np.maximum((frame.area[1] - frame.area[0]) / 2 - 1.0, 1.0)  # less its 1 m margin
        found = (0.0, frame.area.mean(0) + np.stack([-half, half]))
    return _rig_in(Path(path).stem, tuple(cams), frame, *found)


def _walk(frame: RigFrame, cams: Sequence[Camera]) -> tuple[float, np.ndarray] | None:
    """:func:`~tessetrack.geometry.rig_frame.walk_area` of ``frame``, None where it is under 1 m
    across."""
    from tessetrack.geometry.rig_frame import walk_area

    found = walk_area(frame, cams)
    return None if found is None or (found[1][1] - found[1][0]).min() < 1.0 - 1e-6 else found


def _rig_in(
    name: str, cams: tuple[Camera, ...], frame: RigFrame, yaw: float, area: np.ndarray
) -> Rig:
    """The rig whose floor frame is ``frame`` turned by ``yaw`` about z, its people walking in
    ``area`` ([[x_min, y_min], [x_max, y_max]] of the turned frame)."""
    c, s = np.cos(yaw), np.sin(yaw)
    turn = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # Rz(−yaw)
    R = (turn @ frame.R).T  # world from floor
    return Rig(name, cams, R, -R @ (turn @ frame.t), area.mean(0), (area[1] - area[0]) / 2)


def two_view_rig(rig: Rig) -> Rig:
    """The same cameras, floor and up, with people walking where two or more of the cameras see
    a person whole (:func:`~tessetrack.geometry.rig_frame.walk_area`) instead of the rig's own
    area; the rig unchanged, with a warning, where no such floor is 1 m across."""
    from tessetrack.geometry.rig_frame import rig_frame

    up = rig.R_world_from_floor[:, 2]
    floor = float(up @ rig.t_world_from_floor)
    frame = rig_frame({c.name: c for c in rig.cameras}, up=tuple(up), floor=floor)
    found = _walk(frame, rig.cameras)
    if found is None:
        logger.warning("the %s rig: %s; people walk in its own area", rig.name, _NO_WALK)
        return rig
    return _rig_in(rig.name, rig.cameras, frame, *found)


def make_rig(
    name: str,
    *,
    num_cameras: int | None = None,
    image_size: tuple[int, int] | None = None,
    rng: np.random.Generator | None = None,
) -> Rig:
    """Any rig by name (:data:`RIG_NAMES`) or calibration file (:func:`calibration_rig`);
    parametric rigs default to 5 cameras at 512×512."""
    if name == "varied":
        if rng is None:
            raise InputError("the varied rig needs a random generator")
        return varied_rig(rng, num_cameras=num_cameras)
    if name in ("ring", "random"):
        w, h = image_size if image_size is not None else (512, 512)
        v = 5 if num_cameras is None else int(num_cameras)
        if name == "ring":
            return ring_rig(v, width=w, height=h)
        if rng is None:
            raise InputError("the random rig needs a random generator")
        return random_rig(v, rng, width=w, height=h)
    if name in _REAL_RIGS:
        return real_rig(name, num_cameras=num_cameras, image_size=image_size)
    if Path(name).is_file():
        return calibration_rig(name, num_cameras=num_cameras, image_size=image_size)
    raise InputError(
        f"unknown rig {name!r}; choose one of {', '.join(RIG_NAMES)} or a calibration file"
    )
