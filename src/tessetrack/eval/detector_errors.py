"""How a 2D detector errs: its people compared with where the joints should be, and the
:class:`~tessetrack.synth.detections_sim.DetectionNoise` that reproduces it.

"Where the joints should be" is the projection of known 3D joints: the ground truth of a rendered
scene, or, on a real recording without ground truth, a triangulation from the other cameras (then
the errors also hold the triangulation's and the calibration's, an upper bound). Per view,
:func:`compare_view` pairs the expected people with the detected ones (Hungarian on the median joint
distance relative to the person's height, gated) and keeps, per paired person, every joint's residual
in the person's own image frame; :func:`fit_noise` turns many views into the simulator's parameters:

* ``person_miss_prob``: expected people (enough joints in the image) with no detection;
* ``false_positives_per_image``: detections paired with nobody;
* ``swap_prob`` / ``swap_pairs``: from the share of left/right pairs read the other way round
  (among pairs far enough apart to tell) and how many pairs a person with a swap has swapped, the
  simulator's per-person probability and its 1 … ``swap_pairs`` pairs per swap;
* ``offsets``: per joint, a systematic displacement ``down·h·d̂ + side·s⃗`` (d̂ the person's 2D
  neck→hip direction, h its 2D height, s⃗ the 2D vector from its left to its right side, which
  shrinks and turns with the body as a real sideways offset does), least squares over the inliers;
* ``jitter``: robust σ (1.4826 · MAD) per coordinate of what remains, relative to h;
* ``outlier_prob`` / ``outlier_spread``: joints more than ``outlier`` × h off, and how far;
* ``confidence_mean`` / ``confidence_sd`` and ``miss_prob``: the confidences of the good joints, and
  the share of expected in-image joints reported with confidence below ``min_confidence``.

Checked in ``tests/eval/test_detector_errors.py`` by fitting detections simulated with known
parameters and getting them back.

:func:`temporal_jitter` measures the part of a detector's error that changes from one frame to the
next, from one camera's detections alone (no calibration, no triangulation): what smoothing over
time can take out. The rest — offsets that last over frames — it cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tessetrack.errors import InputError
from tessetrack.skeletons import get_joint_set
from tessetrack.synth.detections_sim import DetectionNoise, body_axes, vertical_span

__all__ = ["TemporalJitter", "ViewComparison", "compare_view", "fit_noise", "temporal_jitter"]


@dataclass(frozen=True)
class ViewComparison:
    """One image: expected people against a detector's people (M paired people, J joints).

    Attributes:
        residual: (M, J, 2) detected − expected position, pixels (NaN where either is missing).
        confidence: (M, J) the detector's confidences (0 where it reports nothing).
        inside: (M, J) the expected joint lies in the image.
        height: (M,) the expected person's 2D height, pixels.
        down: (M, 2) unit neck → hip direction of the expected person.
        side: (M, 2) its left → right vector, pixels.
        swapped: (M,) how many left/right pairs were read the other way round.
        swappable: (M,) how many left/right pairs could be told apart (both joints detected and
            expected at least a tenth of the height apart).
        expected: expected people with enough joints in the image.
        missed: of those, how many no detection was paired with.
        extra: detections paired with nobody.
    """

    residual: np.ndarray
    confidence: np.ndarray
    inside: np.ndarray
    height: np.ndarray
    down: np.ndarray
    side: np.ndarray
    swapped: np.ndarray
    swappable: np.ndarray
    expected: int
    missed: int
    extra: int


def compare_view(
    expected: np.ndarray,
    detections: np.ndarray,
    *,
    width: int,
    height: int,
    joint_set: str,
    min_joints: int = 4,
    min_confidence: float = 0.1,
    gate: float = 0.5,
) -> ViewComparison:
    """Pair one image's expected people with its detected ones and measure the differences.

    Args:
        expected: (P, J, 2) where the joints should be, pixels (NaN: unknown or absent).
        detections: (D, J, 3) the detector's people (u, v, confidence; confidence 0: missing).
        width, height: image size.
        joint_set: the joint set of both (needs shoulders and hips).
        min_joints: an expected person counts when at least this many joints are in the image.
        min_confidence: detected joints below it are not used to pair people.
        gate: pairs whose median joint distance exceeds this share of the height are not paired.
    """
    js = get_joint_set(joint_set)
    exp = np.asarray(expected, dtype=np.float64).reshape(-1, js.num_joints, 2)
    det = np.asarray(detections, dtype=np.float64).reshape(-1, js.num_joints, 3)
    inside = np.isfinite(exp).all(-1)
    inside &= (exp[..., 0] >= 0) & (exp[..., 0] <= width - 1)
    inside &= (exp[..., 1] >= 0) & (exp[..., 1] <= height - 1)
    counted = inside.sum(-1) >= min_joints
    exp, inside = exp[counted], inside[counted]
    down, side = body_axes(exp, js.name)
    heights = np.maximum(vertical_span(exp), 10.0)
    P, D = exp.shape[0], det.shape[0]
    cost = np.full((P, D), np.inf)
    for p in range(P):
        for d in range(D):
            ok = inside[p] & (det[d, :, 2] >= min_confidence)
            if ok.sum() >= min_joints:
                dist = np.linalg.norm(det[d, ok, :2] - exp[p, ok], axis=-1)
                cost[p, d] = np.median(dist) / heights[p]
    pairs = []
    if P and D:
        rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
        pairs = [(r, c) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= gate]
    M = len(pairs)
    residual = np.full((M, js.num_joints, 2), np.nan)
    conf = np.zeros((M, js.num_joints))
    swapped = np.zeros(M, int)
    swappable = np.zeros(M, int)
    for m, (p, d) in enumerate(pairs):
        found = det[d, :, 2] > 0
        residual[m, found] = det[d, found, :2] - exp[p, found]
        conf[m] = det[d, :, 2]
        for a, b in js.flip_pairs:
            if not (found[a] and found[b] and np.isfinite(exp[p, [a, b]]).all()):
                continue
            if np.linalg.norm(exp[p, a] - exp[p, b]) < 0.1 * heights[p]:
                continue
            swappable[m] += 1
            same = np.linalg.norm(residual[m, a]) + np.linalg.norm(residual[m, b])
            cross = np.linalg.norm(det[d, a, :2] - exp[p, b]) + np.linalg.norm(
                det[d, b, :2] - exp[p, a]
            )
            if cross < 0.5 * same and same > 0.1 * heights[p]:
                swapped[m] += 1
                residual[m, [a, b]] = np.nan  # a swap is not jitter
    idx = [p for p, _ in pairs]
    return ViewComparison(
        residual=residual,
        confidence=conf,
        inside=inside[idx],
        height=heights[idx],
        down=down[idx],
        side=side[idx],
        swapped=swapped,
        swappable=swappable,
        expected=P,
        missed=P - M,
        extra=D - M,
    )


def _fit_offsets(
    names: Sequence[str],
    res: np.ndarray,
    h: np.ndarray,
    down: np.ndarray,
    side: np.ndarray,
    inlier: np.ndarray,
    min_samples: int,
) -> tuple[list[tuple[str, float, float]], dict[str, dict], np.ndarray]:
    """Per joint, the systematic offset ``a·h·down + b·side`` of the (M, J, 2) residuals ``res``
    (least squares over the inliers; joints with fewer than ``min_samples`` keep none).

    Returns the offsets (name, a, b), per-joint measurements (samples, a, b, jitter) and the
    residuals with the offsets taken out."""
    offsets = []
    per_joint: dict[str, dict] = {}
    corrected = res.copy()
    for j, name in enumerate(names):
        sel = inlier[:, j]
        entry: dict = {"samples": int(sel.sum())}
        if sel.sum() >= min_samples:
            # residual = a·h·d̂ + b·s⃗ : two unknowns, two equations per sample
            A = np.concatenate([h[sel] * down[sel], side[sel]], axis=0).reshape(2, -1, 2)
            A = A.transpose(1, 2, 0).reshape(-1, 2)  # (2n)×2: rows (u, v) of each sample
            y = res[sel, j].reshape(-1)
            (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
            corrected[:, j] -= a * h * down + b * side
            offsets.append((name, round(float(a), 4), round(float(b), 4)))
            entry.update(down=float(a), side=float(b))
            c = corrected[sel, j] / h[sel]
            entry["jitter"] = float(1.4826 * np.median(np.abs(c - np.median(c, 0))))
        per_joint[name] = entry
    return offsets, per_joint, corrected


def fit_noise(
    views: Sequence[ViewComparison],
    joint_set: str,
    *,
    outlier: float = 0.2,
    min_confidence: float = 0.3,
    min_samples: int = 20,
) -> tuple[DetectionNoise, dict]:
    """The :class:`DetectionNoise` that reproduces the measured errors, and the measurements.

    Args:
        views: comparisons of many images (:func:`compare_view`).
        joint_set: their joint set.
        outlier: residuals beyond this share of the person's height are gross errors.
        min_confidence: expected in-image joints reported below it count as missed.
        min_samples: joints with fewer good samples keep no offset.

    Returns:
        (the noise model, a JSON-ready dict of the measurements behind it, per joint too).
    """
    js = get_joint_set(joint_set)
    if not views:
        raise InputError("fit_noise: no views to fit")
    res = np.concatenate([v.residual for v in views])  # M×J×2
    if res.shape[0] == 0:
        raise InputError("fit_noise: no detected person was paired with an expected one")
    conf = np.concatenate([v.confidence for v in views])
    inside = np.concatenate([v.inside for v in views])
    h = np.concatenate([v.height for v in views])[:, None]  # M×1
    down = np.concatenate([v.down for v in views])  # M×2
    side = np.concatenate([v.side for v in views])
    swapped = np.concatenate([v.swapped for v in views])
    swappable = np.concatenate([v.swappable for v in views])
    swap_prob, swap_pairs = _swaps(swapped, swappable, len(js.flip_pairs))
    expected = sum(v.expected for v in views)
    rel = np.linalg.norm(res, axis=-1) / h  # M×J (NaN: missing)
    good = np.isfinite(rel) & inside & (conf >= min_confidence)
    inlier = good & (rel <= outlier)
    offsets, per_joint, corrected = _fit_offsets(js.joints, res, h, down, side, inlier, min_samples)
    c_in = (corrected / h[..., None])[inlier]  # n×2
    jitter = float(1.4826 * np.median(np.abs(c_in - np.median(c_in, 0)))) if len(c_in) else 0.0
    rel_c = np.linalg.norm(corrected, axis=-1) / h
    gross = good & (rel_c > outlier)
    exp_joints = inside & np.isfinite(rel) | inside & (conf == 0)
    low = inside & (conf < min_confidence)
    conf_good = conf[inlier]
    noise = DetectionNoise(
        jitter=round(jitter, 4),
        miss_prob=round(float(low.sum() / max(int(inside.sum()), 1)), 4),
        swap_prob=round(swap_prob, 4),
        swap_pairs=swap_pairs,
        false_positives_per_image=round(sum(v.extra for v in views) / len(views), 4),
        person_miss_prob=round(sum(v.missed for v in views) / max(expected, 1), 4),
        offsets=tuple(offsets),
        outlier_prob=round(float(gross.sum() / max(int(good.sum()), 1)), 4),
        outlier_spread=round(float(np.median(rel_c[gross])), 4) if gross.any() else 0.0,
        confidence_mean=round(float(np.mean(conf_good)), 4) if conf_good.size else 0.85,
        confidence_sd=round(float(np.std(conf_good)), 4) if conf_good.size else 0.08,
    )
    stats = {
        "images": len(views),
        "expected_people": expected,
        "paired_people": int(res.shape[0]),
        "joints_in_image": int(inside.sum()),
        "joints_compared": int(good.sum()),
        "expected_joints": int(exp_joints.sum()),
        "median_error_pct_height": 100 * float(np.median(rel[good])) if good.any() else None,
        "per_joint": per_joint,
    }
    return noise, stats


def _swaps(swapped: np.ndarray, swappable: np.ndarray, num_pairs: int) -> tuple[float, int]:
    """(per-person swap probability, most pairs per swap) of the simulator that swaps a uniform
    1 … k of its ``num_pairs`` pairs: per-pair rate r = s·E[m]/n, E[m] = (k + 1)/2.

    m per swapped person: the first swapped pair was seen; the rest scale to all pairs by the share
    of the others that could be told apart.
    """
    if num_pairs == 0 or swappable.sum() == 0 or not swapped.any():
        return 0.0, 1
    rate = float(swapped.sum() / swappable.sum())
    hit = swapped > 0
    m = 1 + (swapped[hit] - 1) * (num_pairs - 1) / np.maximum(swappable[hit] - 1, 1)
    k = int(np.clip(round(2 * float(np.mean(m)) - 1), 1, num_pairs))
    return float(min(1.0, rate * num_pairs / ((k + 1) / 2))), k


@dataclass(frozen=True)
class TemporalJitter:
    """A detector's frame-to-frame jitter in one camera, relative to the 2D person's height.

    Attributes:
        sigma: robust σ per coordinate of the white (frame-to-frame) part: median |d| / 0.6745 / √6
            of the second differences d (white noise of σ gives them a variance of 6σ²); the rare
            large jumps (left/right swaps, another person) count little (one in 13 differences
            hit: +9 %).
        std: the same from the standard deviation of d: the jumps count.
        coordinates: second differences measured (two per joint and frame).
    """

    sigma: float
    std: float
    coordinates: int

    @property
    def median_2d(self) -> float:
        """Median 2D distance of a joint from where it should be, were the jitter all there is
        (Rayleigh median, √(2 ln 2) · σ)."""
        return float(np.sqrt(2 * np.log(2)) * self.sigma)


def _centre(
    person: np.ndarray, min_score: float, min_joints: int
) -> tuple[np.ndarray, float] | None:
    """(centre (2,), 2D height) of one detected person (J, 3)'s joints scored ≥ ``min_score``."""
    ok = person[:, 2] >= min_score
    if ok.sum() < min_joints:
        return None
    return person[ok, :2].mean(0), max(float(np.ptp(person[ok, 1])), 1.0)


def _nearest(people: np.ndarray, centre: np.ndarray, reach: float, min_score: float,
             min_joints: int) -> np.ndarray | None:  # fmt: skip
    """The person of ``people`` (P, J, 3) whose centre is nearest ``centre``, within ``reach`` px."""
    best, found = reach, None
    for q in people:
        c = _centre(q, min_score, min_joints)
        if c is not None and (gap := float(np.linalg.norm(c[0] - centre))) < best:
            best, found = gap, q
    return found


def temporal_jitter(
    sequence: Sequence[np.ndarray | None],
    *,
    min_score: float = 0.5,
    min_joints: int = 8,
    reach: float = 0.2,
) -> TemporalJitter:
    """How much one camera's 2D joints jitter from frame to frame, relative to each person's 2D
    height (the vertical extent of its scored joints, as the left-out camera's errors measure it:
    meant for people standing up).

    For every person of frame t with ``min_joints`` joints scored ≥ ``min_score``, the nearest
    person in frames t-1 and t+1 (centres within ``reach`` × its 2D height) and the second
    difference x[t-1] - 2·x[t] + x[t+1] of the joints all three score, over the person's height.
    A joint's motion adds a·Δt² to it (a wrist swinging 0.3 m at 1 Hz, at 60 fps: about 0.2 % of a
    person's height; 4 × that at 30 fps), so ``sigma`` is an upper bound of the white part.

    Args:
        sequence: consecutive frames of one camera: (P, J, 3) people (u, v, score) or None (no
            detections in that frame).

    Raises:
        InputError: a frame that is not (P, J, 3) (an empty (0,) array counts as no people).

    Returns:
        :class:`TemporalJitter` (NaN σ when no person is seen in three frames in a row).
    """
    diffs = []
    for before, now, after in zip(sequence, sequence[1:], sequence[2:], strict=False):
        if before is None or now is None or after is None:
            continue
        people = np.asarray(now, dtype=np.float64)
        if people.size and (people.ndim != 3 or people.shape[-1] != 3):
            raise InputError(f"temporal_jitter: expected (P, J, 3) people, got {people.shape}")
        for person in people if people.ndim == 3 else ():
            mid = _centre(person, min_score, min_joints)
            if mid is None:
                continue
            pair = [_nearest(np.asarray(x, np.float64), mid[0], reach * mid[1], min_score,
                             min_joints) for x in (before, after)]  # fmt: skip
            if pair[0] is None or pair[1] is None:
                continue
            ok = (pair[0][:, 2] >= min_score) & (person[:, 2] >= min_score)
            ok &= pair[1][:, 2] >= min_score
            diffs.append(
                ((pair[0][ok, :2] - 2 * person[ok, :2] + pair[1][ok, :2]) / mid[1]).ravel()
            )
    d = np.concatenate(diffs) if diffs else np.zeros(0)
    if not d.size:
        return TemporalJitter(float("nan"), float("nan"), 0)
    sigma = float(np.median(np.abs(d)) / 0.6745 / np.sqrt(6))
    return TemporalJitter(sigma, float(np.std(d) / np.sqrt(6)), int(d.size))
