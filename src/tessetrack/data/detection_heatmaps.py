"""2D detections → the joint heatmaps that heatmap-input (H) models take instead of image features.

One place for what inference (:class:`~tessetrack.tracking.runner.SequenceRunner` on OpenPose / COCO
files) and training (:func:`~tessetrack.train.clips.make_clip` on simulated detections) must do
identically: convert the detector's joint set to the model's, rescale image pixels to the heatmap
grid (pixel centres at integers on both sides) and render confidence-weighted Gaussians.

:func:`simulated_detection_heatmaps` is the training side of VoxelPose's recipe for Shelf/Campus:
project the ground-truth joints into each view, corrupt them like a 2D detector does
(:func:`~tessetrack.synth.detections_sim.simulate_detections`, with fresh noise at every call), and
render them — so a model can learn from motion alone, with no images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.ops.heatmaps2d import render_detection_heatmaps
from tessetrack.skeletons import convert_joints, get_joint_set
from tessetrack.synth.detections_sim import DetectionNoise, simulate_detections

__all__ = ["heatmap_size", "detection_heatmaps", "simulated_detection_heatmaps"]


def heatmap_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """(W, H) network input size → (h, w) of its heatmaps / feature maps (a quarter, rounded up)."""
    w, h = image_size
    return math.ceil(h / 4), math.ceil(w / 4)


def detection_heatmaps(
    people: np.ndarray,
    *,
    camera_size: tuple[int, int],
    out_size: tuple[int, int],
    sigma: float,
    source_joint_set: str | None,
    joint_set: str,
    where: str = "detections",
) -> Tensor:
    """Render one image's detections as the model's joint heatmaps.

    Args:
        people: (P, J', 3) of (u, v, confidence) in the pixels of an image of ``camera_size``
            (W, H); confidence 0 marks a missing joint.
        camera_size: (W, H) of the image the detections refer to.
        out_size: (h, w) of the heatmaps.
        sigma: Gaussian sigma, heatmap pixels.
        source_joint_set: joint set of the detections (None: already the model's).
        joint_set: the model's joint set (J joints).
        where: names the input in error messages.

    Returns:
        (J, h, w) float32 heatmaps in [0, 1].
    """
    js = get_joint_set(joint_set)
    fh, fw = out_size
    people = np.asarray(people, dtype=np.float64).reshape(-1, *np.shape(people)[1:])
    if len(people) == 0:
        return torch.zeros(js.num_joints, fh, fw)
    if source_joint_set is not None and get_joint_set(source_joint_set).name != js.name:
        x = np.where(people[..., 2:] > 0, people, np.nan)  # missing -> NaN through the conversion
        people = np.nan_to_num(convert_joints(x, source_joint_set, js.name), nan=0.0)
    if people.ndim != 3 or people.shape[1:] != (js.num_joints, 3):
        raise InputError(
            f"{where}: detections have shape {people.shape[1:]} per person, the model expects "
            f"({js.num_joints}, 3) ({js.name}); give their joint set"
        )
    kp = torch.tensor(people, dtype=torch.float32)
    scale = kp.new_tensor([fw / camera_size[0], fh / camera_size[1]])
    kp = torch.cat([(kp[..., :2] + 0.5) * scale - 0.5, kp[..., 2:]], dim=-1)
    return render_detection_heatmaps(kp[None], (fh, fw), sigma)[0]


def simulated_detection_heatmaps(
    joints: np.ndarray,
    cameras: Sequence[Camera | None],
    *,
    joint_set: str,
    out_size: tuple[int, int],
    sigma: float,
    rng: np.random.Generator,
    source_joint_sets: Sequence[str] = ("body25",),
    noise: DetectionNoise | Sequence[DetectionNoise] = DetectionNoise(),
) -> Tensor:
    """Heatmaps of simulated 2D detections of GT people in every view of one frame.

    Args:
        joints: (P, 19, 3) Panoptic-19 GT joints in world metres (NaN rows/joints: absent).
        cameras: V cameras (None: view absent, zeros returned for it); their width/height are the
            image size the detections are simulated at.
        joint_set: the model's joint set; out_size (h, w); sigma in heatmap pixels.
        rng: noise generator; each view draws one detector joint set from ``source_joint_sets``
            (e.g. BODY25 and COCO-17, so the model sees both conversions).
        noise: error model of the simulated detector, or several: each view draws one (a model
            that reads several detectors).

    Returns:
        (V, J, h, w) float32.
    """
    js = get_joint_set(joint_set)
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (19, 3):
        raise InputError(f"expected Panoptic-19 GT joints (P, 19, 3), got {joints.shape}")
    out = torch.zeros(len(cameras), js.num_joints, *out_size)
    for j, cam in enumerate(cameras):
        if cam is None or len(joints) == 0:
            continue
        src = source_joint_sets[int(rng.integers(len(source_joint_sets)))]
        view_noise = noise
        if not isinstance(noise, DetectionNoise):
            view_noise = noise[int(rng.integers(len(noise)))] if len(noise) > 1 else noise[0]
        uv = cam.project(joints)  # P×19×2
        depth = cam.depth(joints)  # P×19
        dets = simulate_detections(
            uv,
            depth=depth,
            width=cam.width,
            height=cam.height,
            rng=rng,
            joint_set=src,
            noise=view_noise,
        )
        out[j] = detection_heatmaps(
            dets,
            camera_size=(cam.width, cam.height),
            out_size=out_size,
            sigma=sigma,
            source_joint_set=src,
            joint_set=js.name,
            where=f"camera {cam.name!r}",
        )
    return out
