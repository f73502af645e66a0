"""Small exact test rigs shared by the refinement, baseline, reprojection and calibration tests:
four cameras with lens distortion around the origin, poses of 19 joints, OpenCV's own projection;
a ring of cameras and two people seen by them, for refining a rig from its people."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from tessetrack.geometry.camera import Camera
from tessetrack.io.detections import Detections2D
from tessetrack.skeletons import get_joint_set
from tessetrack.synth.rigs import look_at_camera

PAN = get_joint_set("panoptic19")


def look_at(name: str, eye, target=(0.0, 0.0, 1.0), size=(640, 480)) -> Camera:
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0, 0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    K = np.array([[500.0, 0, size[0] / 2], [0, 500.0, size[1] / 2], [0, 0, 1]])
    return Camera(name, K, R, -R @ eye, np.array([0.05, -0.02, 0.001, 0.0, 0.0]), *size)


def rig():
    return {f"c{i}": look_at(f"c{i}", (4 * np.cos(a), 4 * np.sin(a), 2.0))
            for i, a in enumerate(np.linspace(0, 2 * np.pi, 4, endpoint=False))}  # fmt: skip


def pose(rng, centre=(0.0, 0.0)) -> np.ndarray:
    pts = rng.uniform(-0.3, 0.3, (PAN.num_joints, 3))
    pts[:, 0] += centre[0]
    pts[:, 1] += centre[1]
    pts[:, 2] = np.linspace(0.1, 1.7, PAN.num_joints)
    return pts


def cv_project(cam: Camera, pts: np.ndarray) -> np.ndarray:
    uv, _ = cv2.projectPoints(pts, cv2.Rodrigues(cam.R)[0], cam.t, cam.K, cam.dist)
    return uv.reshape(-1, 2)


def cameras_seeing(cams, world: np.ndarray) -> int:
    """How many of ``cams`` see every point of ``world`` (N, 3): in front of the camera and inside
    its image by OpenCV's projection."""
    n = 0
    for cam in cams:
        uv = cv_project(cam, world)
        n += bool(((cam.depth(world) > 0) & (uv >= 0).all(-1)
                   & (uv < [cam.width, cam.height]).all(-1)).all())  # fmt: skip
    return n


def people_ring(n: int = 4) -> dict[str, Camera]:
    """``n`` cameras 4 m from the middle of the floor, 2 m up, looking at (0, 0, 1)."""
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False) + 0.3
    return {
        f"cam{i}": look_at_camera(f"cam{i}", np.array([4 * np.cos(a), 4 * np.sin(a), 2.0]),
                                  np.array([0.0, 0.0, 1.0]), width=1280, height=720, fov_deg=70)
        for i, a in enumerate(angles)
    }  # fmt: skip


def people_seen(
    cameras: dict[str, Camera], rng, frames: int = 40, hidden: tuple[str, ...] = ()
) -> Detections2D:
    """Two people (25 joints each, a fixed shape 1.7 m tall) walking and turning around the
    middle, seen by every camera with 0.5 px of noise; the cameras ``hidden`` miss the second
    person in the first 5 frames."""
    shapes = rng.uniform([-0.25, -0.15, 0.0], [0.25, 0.15, 1.7], (2, 25, 3))  # 2×25×3
    by_camera: dict[str, dict[int, np.ndarray]] = {n: {} for n in cameras}
    for f in range(frames):
        people = []
        for p in range(2):
            a = 0.05 * f + p * np.pi
            turn = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
            where = np.array([1.2 * np.cos(0.03 * f + 2 * p), 1.2 * np.sin(0.03 * f + 2 * p), 0])
            people.append(shapes[p] @ turn.T + where)
        for name, cam in cameras.items():
            uv = np.stack([cam.project(x) for x in people]) + rng.normal(0, 0.5, (2, 25, 2))
            seen = np.concatenate([uv, np.full((2, 25, 1), 0.9)], axis=-1)
            by_camera[name][f] = seen[:1] if name in hidden and f < 5 else seen
    return Detections2D("body25", by_camera)


def turned(cam: Camera, deg: float, axis, shift) -> Camera:
    """``cam`` turned by ``deg`` about ``axis`` (its own frame) and moved by ``shift`` (world)."""
    axis, shift = np.asarray(axis, dtype=float), np.asarray(shift, dtype=float)
    rot = Rotation.from_rotvec(np.radians(deg) * axis / np.linalg.norm(axis)).as_matrix()
    R = rot @ cam.R
    return Camera(cam.name, cam.K, R, -R @ (cam.center + shift), cam.dist, cam.width, cam.height)
