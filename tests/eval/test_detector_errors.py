"""Detector error measurement: detections simulated with known errors are fitted back."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.eval.detector_errors import compare_view, fit_noise
from tessetrack.skeletons import convert_joints
from tessetrack.synth.detections_sim import (
    DETECTOR_PROFILES,
    DetectionNoise,
    body_axes,
    detection_noise,
    simulate_detections,
)

# a standing person facing +y (Panoptic-19 order), metres
_BODY = {
    "neck": (0, 0, 1.5), "nose": (0, 0.08, 1.62), "mid_hip": (0, 0, 0.95),
    "l_shoulder": (0.2, 0, 1.45), "l_elbow": (0.25, 0, 1.18), "l_wrist": (0.27, 0.05, 0.92),
    "l_hip": (0.1, 0, 0.95), "l_knee": (0.11, 0.02, 0.5), "l_ankle": (0.11, 0, 0.08),
    "r_shoulder": (-0.2, 0, 1.45), "r_elbow": (-0.25, 0, 1.18), "r_wrist": (-0.27, 0.05, 0.92),
    "r_hip": (-0.1, 0, 0.95), "r_knee": (-0.11, 0.02, 0.5), "r_ankle": (-0.11, 0, 0.08),
    "l_eye": (0.035, 0.1, 1.66), "l_ear": (0.075, 0.02, 1.64),
    "r_eye": (-0.035, 0.1, 1.66), "r_ear": (-0.075, 0.02, 1.64),
}  # fmt: skip
_ORDER = ("neck nose mid_hip l_shoulder l_elbow l_wrist l_hip l_knee l_ankle r_shoulder r_elbow "
          "r_wrist r_hip r_knee r_ankle l_eye l_ear r_eye r_ear").split()  # fmt: skip
TEMPLATE = np.array([_BODY[n] for n in _ORDER], float)


def _views(noise: DetectionNoise, n: int, seed: int = 0):
    """n images of 2 people at random places and headings, seen by a camera 5 m away."""
    rng = np.random.default_rng(seed)
    f, w, h = 800.0, 1280, 960
    out = []
    for _ in range(n):
        pts = []
        for _p in range(2):
            a = rng.uniform(0, 2 * np.pi)
            Rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
            pts.append(TEMPLATE @ Rz.T + [rng.uniform(-1.5, 1.5), rng.uniform(-1, 1), 0])
        pts = np.stack(pts)  # P×19×3, world: x right, y away from the camera, z up
        cam = np.stack([pts[..., 0], 1.0 - pts[..., 2], pts[..., 1] + 5.0], -1)  # x, down, depth
        uv = f * cam[..., :2] / cam[..., 2:] + [w / 2, h / 2]
        det = simulate_detections(uv, depth=cam[..., 2], width=w, height=h, rng=rng,
                                  joint_set="body25", noise=noise)  # fmt: skip
        expected = convert_joints(uv, "panoptic19", "body25")
        out.append(compare_view(expected, det, width=w, height=h, joint_set="body25"))
    return out


def test_fit_recovers_known_errors() -> None:
    truth = DetectionNoise(
        jitter=0.02, miss_prob=0.05, swap_prob=0.2, swap_pairs=1, false_positives_per_image=0.5,
        person_miss_prob=0.25, offsets=(("r_hip", 0.03, -0.2), ("l_ear", -0.02, 0.3)),
        outlier_prob=0.05, outlier_spread=0.4, confidence_mean=0.8, confidence_sd=0.1,
    )  # fmt: skip
    fitted, stats = fit_noise(_views(truth, 400), "body25")
    assert fitted.jitter == pytest.approx(truth.jitter, rel=0.15)
    assert fitted.person_miss_prob == pytest.approx(truth.person_miss_prob, abs=0.04)
    assert fitted.swap_prob == pytest.approx(truth.swap_prob, abs=0.05)
    assert fitted.swap_pairs == 1
    assert fitted.confidence_mean == pytest.approx(0.8, abs=0.02)
    assert fitted.confidence_sd == pytest.approx(0.1, abs=0.02)
    # feet (always missed by the simulator) and real misses both count as missed in-image joints
    assert fitted.miss_prob > truth.miss_prob
    assert 0.02 < fitted.outlier_prob < 0.08
    assert fitted.false_positives_per_image == pytest.approx(0.5, abs=0.15)
    off = {n: (a, b) for n, a, b in fitted.offsets}
    assert off["r_hip"] == pytest.approx((0.03, -0.2), abs=0.015)
    assert off["l_ear"] == pytest.approx((-0.02, 0.3), abs=0.015)
    assert off["l_hip"] == pytest.approx((0.0, 0.0), abs=0.015)
    assert stats["per_joint"]["r_hip"]["samples"] > 100


def test_fit_sees_multi_pair_swaps() -> None:
    truth = DetectionNoise(jitter=0.01, miss_prob=0.0, swap_prob=0.5, swap_pairs=6,
                           false_positives_per_image=0.0)  # fmt: skip
    fitted, _ = fit_noise(_views(truth, 150, seed=1), "body25")
    assert fitted.swap_prob == pytest.approx(0.5, abs=0.1)
    assert 4 <= fitted.swap_pairs <= 6


def test_clean_detections_fit_to_no_error() -> None:
    clean = DetectionNoise(jitter=0.0, miss_prob=0.0, swap_prob=0.0, false_positives_per_image=0.0)
    fitted, stats = fit_noise(_views(clean, 20), "body25")
    assert fitted.jitter == 0.0 and fitted.swap_prob == 0.0 and fitted.person_miss_prob == 0.0
    assert fitted.outlier_prob == 0.0
    assert all(abs(a) < 1e-9 and abs(b) < 1e-9 for _, a, b in fitted.offsets)
    assert stats["median_error_pct_height"] == pytest.approx(0.0, abs=1e-9)


def test_compare_view_counts_missed_and_extra_people() -> None:
    exp = np.full((2, 25, 2), np.nan)
    exp[0, :19] = np.column_stack([np.linspace(100, 200, 19), np.linspace(100, 400, 19)])
    exp[1, :19] = exp[0, :19] + [500, 0]
    det = np.zeros((2, 25, 3))
    det[0, :19, :2] = exp[0, :19] + 3.0  # person 0, 3 px off in u and v
    det[0, :19, 2] = 0.9
    det[1, :19, :2] = exp[0, :19] + [200, 0]  # nobody there
    det[1, :19, 2] = 0.9
    v = compare_view(exp, det, width=1000, height=600, joint_set="body25")
    assert (v.expected, v.missed, v.extra) == (2, 1, 1)
    assert np.allclose(v.residual[0, :19], 3.0)
    assert v.height[0] == pytest.approx(300.0)


def test_body_axes_of_a_facing_person() -> None:
    uv = convert_joints(
        TEMPLATE[None][..., [0, 2]] * [100, -100] + [500, 300], "panoptic19", "body25"
    )
    down, side = body_axes(uv, "body25")
    assert np.allclose(down[0], [0, 1])
    assert np.allclose(side[0], [-30.0, 0.0])  # right side at smaller x (x scaled by 100)


def test_noise_from_a_profile_and_overrides() -> None:
    n = detection_noise({"profile": "blazepose", "jitter": 0.05})
    assert n.jitter == 0.05
    assert n.person_miss_prob == DETECTOR_PROFILES["blazepose"].person_miss_prob
    assert detection_noise({}) == DetectionNoise()
    assert detection_noise({"offsets": [["r_hip", 0.1, 0.2]]}).offsets == (("r_hip", 0.1, 0.2),)
    with pytest.raises(InputError, match="unknown profile 'hrnet'"):
        detection_noise({"profile": "hrnet"})
    with pytest.raises(InputError, match="unknown keys"):
        detection_noise({"jiter": 0.1})
    with pytest.raises(InputError, match="offsets"):
        detection_noise({"offsets": [["r_hip", 0.1]]})


def _walkers(frames: int, sigma: float, bias: float = 0.0, seed: int = 0) -> list[np.ndarray]:
    """Two 2D people (19 joints, 300 px tall) walking across at 60 fps, their joints swinging
    slowly, with white noise ``sigma`` (share of the height) per coordinate and a fixed offset
    ``bias`` (share of the height) per joint."""
    rng = np.random.default_rng(seed)
    base = np.stack([np.linspace(-40, 40, 19), np.linspace(0, 300, 19)], -1)  # J×2
    offset = bias * 300 * rng.standard_normal((2, 19, 2))
    out = []
    for t in range(frames):
        people = []
        for k, x0 in enumerate((200.0, 900.0)):
            swing = 15 * np.sin(2 * np.pi * 1.0 * t / 60 + np.arange(19))[:, None]  # 1 Hz
            uv = base + [x0 + 2.0 * t, 100.0] + swing + offset[k]
            uv = uv + sigma * 300 * rng.standard_normal(uv.shape)
            people.append(np.concatenate([uv, np.full((19, 1), 0.9)], -1))
        out.append(np.stack(people))
    return out


def test_temporal_jitter_gets_white_noise_back():
    from tessetrack.eval.detector_errors import temporal_jitter

    for sigma in (0.005, 0.02):
        got = temporal_jitter(_walkers(200, sigma))
        assert got.sigma == pytest.approx(sigma, rel=0.1)
        assert got.coordinates == 2 * 198 * 19 * 2
    # median_2d: the median 2D distance white noise of that σ gives (measured, not the formula)
    xy = np.random.default_rng(3).normal(0.0, got.sigma, (200_000, 2))
    assert got.median_2d == pytest.approx(np.median(np.linalg.norm(xy, axis=1)), rel=0.01)


def test_temporal_jitter_ignores_lasting_offsets_and_rare_jumps():
    from tessetrack.eval.detector_errors import temporal_jitter

    lasting = temporal_jitter(_walkers(120, 0.0, bias=0.05))  # 5 % offsets, no jitter
    assert lasting.sigma < 0.002  # only the 1 Hz swing's curvature is left
    seq = _walkers(200, 0.01, seed=1)
    for t in range(5, 200, 20):  # one frame in 20: a person's joints read in the wrong order
        seq[t][0, :, :2] = seq[t][0, ::-1, :2]
    jumpy = temporal_jitter(seq)
    assert jumpy.sigma == pytest.approx(0.01, rel=0.15)
    assert jumpy.std > 3 * jumpy.sigma


def test_temporal_jitter_skips_gaps_and_empty_frames():
    from tessetrack.eval.detector_errors import temporal_jitter

    seq: list = _walkers(30, 0.01)
    seq[10], seq[20] = None, np.zeros((0, 19, 3))
    got = temporal_jitter(seq)
    # triples (t-1, t, t+1) touching frame 10 or 20 are skipped: 28 - 6 left, 2 people, 19 joints
    assert got.coordinates == (28 - 6) * 2 * 19 * 2
    nothing = temporal_jitter([None, None, None])
    assert nothing.coordinates == 0 and np.isnan(nothing.sigma)
    assert temporal_jitter([]).coordinates == 0
    with pytest.raises(InputError, match="expected"):
        temporal_jitter([seq[0], seq[0][0], seq[0]])  # one person given as (J, 3)
