"""Write synthetic scenes in the CMU Panoptic on-disk layout (so the Panoptic reader loads them).

``OUT/`` (``seq`` = the folder's name):

* ``calibration_<seq>.json`` — ``{"cameras": [{"name", "type": "hd", "resolution": [W, H], "K",
  "distCoef", "R", "t"}]}`` with ``t`` in **centimetres** as a 3×1 list (Panoptic's world is cm);
* ``hdPose3d_stage1_coco19/body3DScene_<frame:08d>.json`` — ``{"version": 0.7, "univTime",
  "fpsType": "hd_29_97", "bodies": [{"id", "joints19": [x, y, z, conf, ...]}]}``, cm;
* ``hdImgs/<cam>/<cam>_<frame:08d>.jpg`` — the rendered images (unless ``--no-images``);
* ``detections/<cam>/<frame:012d>_keypoints.json`` — simulated OpenPose detections (optional);
* ``tessetrack_synth.json`` — metadata: seed, rig, clips used, split, fps, people.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tessetrack.geometry.camera import Camera

__all__ = [
    "POSE_FOLDER",
    "IMAGE_FOLDER",
    "METADATA_FILE",
    "M_TO_CM",
    "calibration_path",
    "write_calibration",
    "write_body3d_scene",
    "image_path",
    "write_image",
    "write_metadata",
]

POSE_FOLDER = "hdPose3d_stage1_coco19"
IMAGE_FOLDER = "hdImgs"
METADATA_FILE = "tessetrack_synth.json"
M_TO_CM = 100.0


def calibration_path(out: Path) -> Path:
    return Path(out) / f"calibration_{Path(out).name}.json"


def write_calibration(out: Path, cameras: list[Camera] | tuple[Camera, ...]) -> Path:
    """Write Panoptic's calibration json (t in cm) for the cameras; returns its path."""
    doc = {
        "calibDataSource": "tessetrack.synth",
        "cameras": [
            {
                "name": cam.name,
                "type": "hd",
                "resolution": [int(cam.width), int(cam.height)],
                "panel": 0,
                "node": i,
                "K": cam.K.tolist(),
                "distCoef": cam.dist.tolist(),
                "R": cam.R.tolist(),
                "t": (cam.t * M_TO_CM).reshape(3, 1).tolist(),
            }
            for i, cam in enumerate(cameras)
        ],
    }
    path = calibration_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    return path


def write_body3d_scene(
    out: Path, frame: int, joints_world: np.ndarray, ids: list[int], fps: float
) -> Path:
    """Write one ``body3DScene`` file.

    Args:
        out: dataset folder.
        frame: frame index.
        joints_world: (P, 19, 3) metres of the people present (no NaN).
        ids: P person ids.
        fps: frame rate (for ``univTime`` in ms).
    """
    bodies = []
    for pid, joints in zip(ids, joints_world, strict=True):
        rows = np.concatenate([joints * M_TO_CM, np.ones((joints.shape[0], 1))], axis=1)  # 19×4
        bodies.append({"id": int(pid), "joints19": [round(float(x), 4) for x in rows.reshape(-1)]})
    doc = {
        "version": 0.7,
        "univTime": round(1000.0 * frame / fps, 3),
        "fpsType": "hd_29_97",
        "bodies": bodies,
    }
    path = Path(out) / POSE_FOLDER / f"body3DScene_{frame:08d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def image_path(out: Path, camera: str, frame: int) -> Path:
    return Path(out) / IMAGE_FOLDER / camera / f"{camera}_{frame:08d}.jpg"


def write_image(out: Path, camera: str, frame: int, rgb: np.ndarray, quality: int = 92) -> Path:
    """Write an (H, W, 3) uint8 RGB image as JPEG."""
    import cv2

    path = image_path(out, camera, frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        from tessetrack.errors import InputError

        raise InputError("cannot write image", path)
    return path


def write_metadata(out: Path, metadata: dict) -> Path:
    path = Path(out) / METADATA_FILE
    path.write_text(json.dumps(metadata, indent=1))
    return path
