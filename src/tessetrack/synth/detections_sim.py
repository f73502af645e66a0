"""Simulated 2D detections (OpenPose-like BODY25/COCO) from projected ground truth.

A detector's typical errors, each drawn from an explicit numpy Generator:

* Gaussian jitter proportional to the person's image height (``jitter``);
* missed joints (``miss_prob``; ``occluded_miss_prob`` for joints another body hides, and
  always for joints outside the image or behind the camera) — written as ``(0, 0, 0)`` like
  OpenPose;
* left/right swaps of a limb pair (``swap_prob`` per person);
* false-positive people (Poisson, ``false_positives_per_image``): a real person's pose, shifted
  and shrunk or grown, with low confidences;
* confidences: high for clean joints, lower for occluded and jittered ones;
* left/right twin peaks (``twin_prob``, per detected joint that has a twin): the joint also shows
  at its twin's position, as a 2D network's heatmap of a symmetric body does — written as an extra
  person row, a mirror image of the person with only those joints;
* stray peaks (``stray_per_joint``, Poisson per image and joint): a lone joint response near a
  person, off by ``stray_spread`` of the person's height, written as extra one-joint rows.

The last two are off by default; they describe a 2D heatmap network's peaks rather than a
bottom-up detector's people (measured with ``benchmarks/peak_errors.py``).

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
    twin_prob: float = 0.0
    stray_per_joint: float = 0.0
    stray_spread: float = 0.3

    def __post_init__(self) -> None:
        for name in ("jitter", "false_positives_per_image", "stray_per_joint", "stray_spread"):
            if getattr(self, name) < 0:
                raise InputError(f"detection noise: {name} must be ≥ 0, got {getattr(self, name)}")
        for name in ("miss_prob", "occluded_miss_prob", "swap_prob", "twin_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(
                    f"detection noise: {name} must be in [0, 1], got {getattr(self, name)}"
                )


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
    heights = []
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
            heights.append(max(float(span), 10.0))
    extra = _twin_rows(people, js.flip_pairs, noise.twin_prob, rng)
    extra += _stray_rows(people, heights, J, width, height, noise, rng)
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
    people += extra
    if not people:
        return np.zeros((0, J, 3))
    out = np.stack(people)  # P'×J×3
    return out[rng.permutation(out.shape[0])]


def _twin_rows(
    people: list[np.ndarray],
    flip_pairs: tuple[tuple[int, int], ...],
    prob: float,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Per person, a row holding, at each joint that shows twice, its twin's detection."""
    rows = []
    if prob <= 0 or not flip_pairs:
        return rows
    for det in people:
        ghost = np.zeros_like(det)
        for a, b in flip_pairs:
            for j, twin in ((a, b), (b, a)):
                if det[j, 2] > 0 and det[twin, 2] > 0 and rng.random() < prob:
                    ghost[j, :2] = det[twin, :2]
                    ghost[j, 2] = det[j, 2] * rng.uniform(0.4, 1.0)
        if (ghost[:, 2] > 0).any():
            rows.append(ghost)
    return rows


def _stray_rows(
    people: list[np.ndarray],
    heights: list[float],
    num_joints: int,
    width: int,
    height: int,
    noise: DetectionNoise,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Lone joint responses near the people: Poisson(``stray_per_joint``) per joint, each at a random
    detected joint of a random person, moved by ``stray_spread`` × that person's height."""
    if noise.stray_per_joint <= 0 or not people:
        return []
    counts = rng.poisson(noise.stray_per_joint, num_joints)
    rows = [np.zeros((num_joints, 3)) for _ in range(int(counts.max(initial=0)))]
    for j in range(num_joints):
        for k in range(int(counts[j])):
            i = int(rng.integers(len(people)))
            found = np.nonzero(people[i][:, 2] > 0)[0]
            src = people[i][found[int(rng.integers(len(found)))], :2]
            uv = src + rng.normal(0.0, noise.stray_spread * heights[i], 2)
            if 0 <= uv[0] <= width - 1 and 0 <= uv[1] <= height - 1:
                rows[k][j] = (uv[0], uv[1], rng.uniform(0.3, 0.8))
    return [r for r in rows if (r[:, 2] > 0).any()]
