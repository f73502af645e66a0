"""Simulated 2D detections (OpenPose-like BODY25/COCO) from projected ground truth.

A detector's typical errors, each drawn from an explicit numpy Generator:

* Gaussian jitter proportional to the person's image height (``jitter``);
* missed joints (``miss_prob``; ``occluded_miss_prob`` for joints another body hides, and
  always for joints outside the image or behind the camera) — written as ``(0, 0, 0)`` like
  OpenPose;
* left/right swaps of a limb pair (``swap_prob`` per person);
* false-positive people (Poisson, ``false_positives_per_image``): a real person's pose, shifted
  and shrunk or grown, with low confidences;
* confidences: high for clean joints, lower for occluded and jittered ones.

Joints a joint set has but Panoptic-19 cannot form (BODY25's feet) are always missed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessetrack.errors import InputError
from tessetrack.skeletons import convert_joints, get_joint_set

__all__ = ["DetectionNoise", "simulate_detections"]


@dataclass(frozen=True)
class DetectionNoise:
    """Error model of the simulated detector (see the module docstring)."""

    jitter: float = 0.01
    miss_prob: float = 0.03
    occluded_miss_prob: float = 0.4
    swap_prob: float = 0.03
    false_positives_per_image: float = 0.1
    min_visible_joints: int = 4


def simulate_detections(
    uv: np.ndarray,
    *,
    depth: np.ndarray,
    width: int,
    height: int,
    rng: np.random.Generator,
    occluded: np.ndarray | None = None,
    joint_set: str = "body25",
    noise: DetectionNoise = DetectionNoise(),
) -> np.ndarray:
    """Detections of one camera image.

    Args:
        uv: (P, 19, 2) projected Panoptic-19 joints in pixels (NaN for absent people).
        depth: (P, 19) depth of each joint along the optical axis (≤ 0: behind the camera).
        width, height: image size.
        rng: random generator.
        occluded: (P, 19) bool, joints hidden by another body (e.g. from the rendered
            segmentation), or None when unknown.
        joint_set: output joint set (``body25``, ``coco18``, ``coco17``, ...).
        noise: error model.

    Returns:
        (P', J, 3) of (u, v, confidence), people in random order; a person is reported when at
        least ``min_visible_joints`` of its joints are detected.
    """
    uv = np.asarray(uv, dtype=np.float64)
    if uv.ndim != 3 or uv.shape[1:] != (19, 2):
        raise InputError(f"expected projected Panoptic-19 joints (P, 19, 2), got {uv.shape}")
    js = get_joint_set(joint_set)
    J = js.num_joints
    P = uv.shape[0]
    occl = np.zeros((P, 19), bool) if occluded is None else np.asarray(occluded, bool)
    # per-joint channels converted together: u, v, depth, occluded
    stack = np.concatenate([uv, depth[..., None], occl[..., None].astype(float)], axis=-1)
    conv = convert_joints(stack, "panoptic19", js.name)  # P×J×4
    xy, z, hidden = conv[..., :2], conv[..., 2], conv[..., 3] > 0
    people = []
    for i in range(P):
        ok = np.isfinite(xy[i]).all(-1) & np.isfinite(z[i]) & (z[i] > 0.05)
        if not ok.any():
            continue
        inside = ok & (xy[i, :, 0] >= 0) & (xy[i, :, 0] <= width - 1)
        inside &= (xy[i, :, 1] >= 0) & (xy[i, :, 1] <= height - 1)
        span = np.ptp(xy[i, ok, 1]) if ok.sum() > 1 else 0.0
        sigma = noise.jitter * max(float(span), 10.0)
        pts = xy[i] + rng.normal(0.0, sigma, (J, 2))
        miss = rng.random(J) < np.where(hidden[i], noise.occluded_miss_prob, noise.miss_prob)
        found = inside & ~miss
        conf = np.clip(rng.normal(0.85, 0.08, J) - 0.3 * hidden[i], 0.05, 1.0)
        det = np.zeros((J, 3))
        det[found, :2] = pts[found]
        det[found, 2] = conf[found]
        if rng.random() < noise.swap_prob and js.flip_pairs:
            a, b = js.flip_pairs[int(rng.integers(len(js.flip_pairs)))]
            det[[a, b]] = det[[b, a]]
        if int(found.sum()) >= noise.min_visible_joints:
            people.append(det)
    n_fp = int(rng.poisson(noise.false_positives_per_image))
    for _ in range(n_fp if people else 0):
        src = people[int(rng.integers(len(people)))].copy()
        found = src[:, 2] > 0
        shift = rng.uniform([-0.3 * width, -0.3 * height], [0.3 * width, 0.3 * height])
        s = rng.uniform(0.7, 1.3)
        center = src[found, :2].mean(0)
        src[found, :2] = (src[found, :2] - center) * s + center + shift
        src[found, 2] = rng.uniform(0.05, 0.4, int(found.sum()))
        keep = found & (src[:, 0] >= 0) & (src[:, 0] <= width - 1)
        keep &= (src[:, 1] >= 0) & (src[:, 1] <= height - 1)
        src[~keep] = 0.0
        if int(keep.sum()) >= noise.min_visible_joints:
            people.append(src)
    if not people:
        return np.zeros((0, J, 3))
    out = np.stack(people)  # P'×J×3
    return out[rng.permutation(out.shape[0])]
