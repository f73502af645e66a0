"""Small exact test rigs shared by the refinement, baseline and reprojection tests: four cameras
with lens distortion around the origin, poses of 19 joints, OpenCV's own projection."""

from __future__ import annotations

import cv2
import numpy as np

from tessetrack.geometry.camera import Camera
from tessetrack.skeletons import get_joint_set

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
