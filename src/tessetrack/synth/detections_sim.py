"""Simulated 2D detections (OpenPose-like BODY25/COCO) from projected ground truth.

A detector's typical errors, each drawn from an explicit numpy Generator:

* Gaussian jitter proportional to the person's image height (``jitter``);
* missed joints (``miss_prob``; ``occluded_miss_prob`` for joints another body hides, and
  always for joints outside the image or behind the camera) — written as ``(0, 0, 0)`` like
  OpenPose;
* left/right swaps (``swap_prob`` per person): one mirrored joint pair, or with ``swap_pairs`` > 1
  between one and that many pairs (a detector that reads a body back to front flips most of them);
* false-positive people (Poisson, ``false_positives_per_image``): a real person's pose, shifted
  and shrunk or grown, with low confidences;
* confidences: high for clean joints, lower for occluded and jittered ones;
* left/right twin peaks (``twin_prob``, per detected joint that has a twin): the joint also shows
  at its twin's position, as a 2D network's heatmap of a symmetric body does — written as an extra
  person row, a mirror image of the person with only those joints;
* stray peaks (``stray_per_joint``, Poisson per image and joint): a lone joint response near a
  person, off by ``stray_spread`` of the person's height, written as extra one-joint rows;
* whole people missed in a view (``person_miss_prob``), as a top-down detector whose person box
  failed;
* per-joint systematic offsets (``offsets``): where a detector puts a joint relative to ours,
  ``down·h·d̂ + side·s⃗`` with d̂ the person's 2D neck→hip direction, h its 2D height and s⃗ the 2D
  vector from its left to its right side (:func:`body_axes`);
* gross errors (``outlier_prob``): a joint thrown ``outlier_spread`` × h off;
* confidences of clean joints drawn from N(``confidence_mean``, ``confidence_sd``).

Twins and strays are off by default; they describe a 2D heatmap network's peaks rather than a
bottom-up detector's people (measured with ``benchmarks/peak_errors.py``). The other new errors are
off by default too; :data:`DETECTOR_PROFILES` holds measured settings of real detectors
(``benchmarks/detector_errors.py`` measures them, :func:`tessetrack.eval.detector_errors.fit_noise`
fits them).

Joints a joint set has but Panoptic-19 cannot form (BODY25's feet) are always missed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from tessetrack.errors import InputError
from tessetrack.skeletons import JointSet, convert_joints, get_joint_set

__all__ = [
    "DETECTOR_PROFILES",
    "DetectionNoise",
    "body_axes",
    "detection_noise",
    "simulate_detections",
    "vertical_span",
]


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
    person_miss_prob: float = 0.0
    swap_pairs: int = 1
    offsets: tuple[tuple[str, float, float], ...] = ()
    outlier_prob: float = 0.0
    outlier_spread: float = 0.3
    confidence_mean: float = 0.85
    confidence_sd: float = 0.08

    def __post_init__(self) -> None:
        try:  # YAML gives lists: keep the config hashable and comparable
            offsets = tuple((str(n), float(a), float(b)) for n, a, b in self.offsets)
        except (TypeError, ValueError):
            raise InputError(
                f"detection noise: offsets must be [joint, down, side] triples, got {self.offsets!r}"
            ) from None
        object.__setattr__(self, "offsets", offsets)
        if int(self.swap_pairs) < 1 or int(self.min_visible_joints) < 1:
            raise InputError("detection noise: swap_pairs and min_visible_joints must be ≥ 1")
        for name in ("jitter", "false_positives_per_image", "stray_per_joint", "stray_spread",
                     "outlier_spread", "confidence_sd"):  # fmt: skip
            if getattr(self, name) < 0:
                raise InputError(f"detection noise: {name} must be ≥ 0, got {getattr(self, name)}")
        for name in ("miss_prob", "occluded_miss_prob", "swap_prob", "twin_prob",
                     "person_miss_prob", "outlier_prob", "confidence_mean"):  # fmt: skip
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(
                    f"detection noise: {name} must be in [0, 1], got {getattr(self, name)}"
                )


#: Measured settings of real 2D detectors (``profile`` in :func:`detection_noise`).
#: ``openpose``: the simulator's defaults (VoxelPose's Shelf recipe, OpenPose-like).
#: ``blazepose``: the built-in detector, fitted by ``benchmarks/detector_errors.py`` on real
#: recordings (every camera against a triangulation from the others;
#: ``benchmarks/results/detector_errors.json``).
DETECTOR_PROFILES: dict[str, DetectionNoise] = {
    "openpose": DetectionNoise(),
    "blazepose": DetectionNoise(
        jitter=0.033,
        miss_prob=0.022,
        swap_prob=0.253,
        swap_pairs=11,
        false_positives_per_image=0.637,
        person_miss_prob=0.229,
        outlier_prob=0.19,
        outlier_spread=0.355,
        confidence_mean=0.939,
        confidence_sd=0.122,
        offsets=(  # joint, down, side (|both| < 0.01 left out)
            ("r_shoulder", -0.009, -0.096),
            ("r_elbow", 0.004, -0.052),
            ("r_wrist", 0.006, -0.035),
            ("l_shoulder", 0.007, 0.101),
            ("l_elbow", 0.002, 0.051),
            ("l_wrist", -0.005, 0.025),
            ("mid_hip", 0.003, 0.024),
            ("r_hip", 0.0, -0.108),
            ("r_knee", -0.002, -0.065),
            ("r_ankle", -0.01, -0.077),
            ("l_hip", 0.003, 0.106),
            ("l_knee", 0.003, 0.063),
            ("l_ankle", 0.003, 0.036),
            ("r_eye", 0.004, -0.049),
            ("l_eye", 0.007, 0.052),
            ("r_ear", 0.001, -0.09),
            ("l_ear", 0.007, 0.097),
            ("l_heel", -0.001, 0.041),
            ("r_big_toe", -0.002, -0.037),
            ("r_heel", -0.008, -0.068),
        ),
    ),
}


def detection_noise(spec: Mapping[str, Any] | DetectionNoise) -> DetectionNoise:
    """A noise model from a mapping: ``profile`` (a :data:`DETECTOR_PROFILES` name; default: the
    plain :class:`DetectionNoise`) plus any fields to override.

    Raises:
        InputError: an unknown profile or field, or a bad value.
    """
    if isinstance(spec, DetectionNoise):
        return spec
    if not isinstance(spec, Mapping):
        raise InputError(f"detection noise: expected a mapping, got {spec!r}")
    spec = dict(spec)
    name = spec.pop("profile", None)
    if name is not None and name not in DETECTOR_PROFILES:
        raise InputError(
            f"detection noise: unknown profile {name!r}; known: {sorted(DETECTOR_PROFILES)}"
        )
    known = {f.name for f in fields(DetectionNoise)}
    bad = sorted(set(spec) - known)
    if bad:
        raise InputError(f"detection noise: unknown keys {bad}; known: profile, {sorted(known)}")
    base = DETECTOR_PROFILES[name] if name is not None else DetectionNoise()
    return replace(base, **spec)


def _detect_person(
    xy: np.ndarray,
    z: np.ndarray,
    hidden: np.ndarray,
    shift: np.ndarray,
    js: JointSet,
    width: int,
    height: int,
    noise: DetectionNoise,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float] | None:
    """One person's (J, 3) detection (u, v, confidence; zeros where missed) and 2D height from
    (J, 2) pixels ``xy``, depths ``z``, occlusion ``hidden`` and systematic ``shift``; None when
    the person is behind the camera, missed as a whole or shows too few joints."""
    J = js.num_joints
    ok = np.isfinite(xy).all(-1) & np.isfinite(z) & (z > 0.05)
    if not ok.any():
        return None
    inside = ok & (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1)
    inside &= (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
    span = max(float(np.ptp(xy[ok, 1]) if ok.sum() > 1 else 0.0), 10.0)
    pts = xy + shift + rng.normal(0.0, noise.jitter * span, (J, 2))
    if noise.outlier_prob > 0:
        gross = rng.random(J) < noise.outlier_prob
        pts[gross] += rng.normal(0.0, noise.outlier_spread * span, (int(gross.sum()), 2))
    miss = rng.random(J) < np.where(hidden, noise.occluded_miss_prob, noise.miss_prob)
    found = inside & ~miss
    conf = rng.normal(noise.confidence_mean, noise.confidence_sd, J)
    conf = np.clip(conf - 0.3 * hidden, 0.05, 1.0)
    if noise.person_miss_prob > 0 and rng.random() < noise.person_miss_prob:
        return None
    det = np.zeros((J, 3))
    det[found, :2] = pts[found]
    det[found, 2] = conf[found]
    if rng.random() < noise.swap_prob and js.flip_pairs:
        if noise.swap_pairs <= 1:
            chosen = [js.flip_pairs[int(rng.integers(len(js.flip_pairs)))]]
        else:
            k = int(rng.integers(1, min(noise.swap_pairs, len(js.flip_pairs)) + 1))
            pick = rng.choice(len(js.flip_pairs), size=k, replace=False)
            chosen = [js.flip_pairs[int(c)] for c in pick]
        for a, b in chosen:
            det[[a, b]] = det[[b, a]]
    if int(found.sum()) < noise.min_visible_joints:
        return None
    return det, span


def _false_positives(
    people: list[np.ndarray],
    J: int,
    width: int,
    height: int,
    noise: DetectionNoise,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Poisson(``false_positives_per_image``) ghosts: detected people (or earlier ghosts) moved,
    scaled and given low confidences (none in an image without people)."""
    pool = list(people)
    n_fp = int(rng.poisson(noise.false_positives_per_image))
    for _ in range(n_fp if people else 0):
        src = pool[int(rng.integers(len(pool)))].copy()
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
            pool.append(src)
    return pool[len(people) :]


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
    shift = _offsets(xy, js.name, noise.offsets)  # P×J×2 systematic offsets
    people = []
    heights = []
    for i in range(P):
        row = _detect_person(xy[i], z[i], hidden[i], shift[i], js, width, height, noise, rng)
        if row is not None:
            people.append(row[0])
            heights.append(row[1])
    extra = _twin_rows(people, js.flip_pairs, noise.twin_prob, rng)
    extra += _stray_rows(people, heights, J, width, height, noise, rng)
    people += _false_positives(people, J, width, height, noise, rng)
    people += extra
    if not people:
        return np.zeros((0, J, 3))
    out = np.stack(people)  # P'×J×3
    return out[rng.permutation(out.shape[0])]


def body_axes(uv: np.ndarray, joint_set: str) -> tuple[np.ndarray, np.ndarray]:
    """Each person's 2D body frame: unit neck → hip direction and left → right side vector.

    Args:
        uv: (P, J, 2) pixel positions in ``joint_set`` (NaN: missing).
        joint_set: must have ``l_/r_shoulder`` and ``l_/r_hip``.

    Returns:
        down (P, 2) unit vectors (image down where the body gives none) and side (P, 2) pixel
        vectors: the mean of the right shoulder and hip minus that of the left ones (0 where unknown).
    """
    js = get_joint_set(joint_set)
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, js.num_joints, 2)
    try:
        ls, rs, lh, rh = (js.index(n) for n in ("l_shoulder", "r_shoulder", "l_hip", "r_hip"))
    except ValueError:
        raise InputError(f"{js.name}: body axes need shoulders and hips") from None
    with np.errstate(invalid="ignore"):
        top = (uv[:, ls] + uv[:, rs]) / 2
        bottom = (uv[:, lh] + uv[:, rh]) / 2
        d = bottom - top
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        down = np.where(np.isfinite(n) & (n > 1e-6), d / np.where(n > 1e-6, n, 1.0), [0.0, 1.0])
        side = np.nan_to_num((uv[:, rs] + uv[:, rh]) / 2 - (uv[:, ls] + uv[:, lh]) / 2)
    return down, side


def vertical_span(uv: np.ndarray) -> np.ndarray:
    """(P,) each person's 2D height: the span of its finite joints' v (0 with fewer than two)."""
    v = np.asarray(uv, dtype=np.float64)[..., 1]
    finite = np.isfinite(v)
    span = np.max(np.where(finite, v, -np.inf), -1) - np.min(np.where(finite, v, np.inf), -1)
    return np.where(finite.sum(-1) >= 2, span, 0.0)


def _offsets(
    xy: np.ndarray, joint_set: str, offsets: tuple[tuple[str, float, float], ...]
) -> np.ndarray:
    """(P, J, 2) pixel offsets ``down·h·d̂ + side·s⃗`` of the named joints (zero elsewhere)."""
    out = np.zeros_like(xy)
    if not offsets or xy.shape[0] == 0:
        return out
    js = get_joint_set(joint_set)
    down, side = body_axes(xy, js.name)
    h = np.maximum(vertical_span(xy), 10.0)[:, None]
    for name, a, b in offsets:
        if name in js.joints:
            out[:, js.index(name)] = a * h * down + b * side
    return out


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
