"""Simulated OpenPose-like detections."""

from __future__ import annotations

import numpy as np

from tessetrack.synth.detections_sim import DetectionNoise, simulate_detections


def _people() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    uv = rng.uniform(100, 300, (3, 19, 2))
    return uv, np.full((3, 19), 4.0)


def test_clean_detector_returns_the_truth() -> None:
    uv, depth = _people()
    clean = DetectionNoise(jitter=0.0, miss_prob=0.0, swap_prob=0.0, false_positives_per_image=0.0)
    det = simulate_detections(
        uv,
        depth=depth,
        width=400,
        height=400,
        rng=np.random.default_rng(1),
        noise=clean,
        joint_set="coco17",
    )
    assert det.shape == (3, 17, 3)
    # every truth person is found exactly (order shuffled): match by nose (COCO index 0, Panoptic 1)
    for person in uv:
        k = np.argmin(np.linalg.norm(det[:, 0, :2] - person[1], axis=-1))
        assert np.allclose(det[k, 0, :2], person[1])
    assert (det[..., 2] > 0).all()


def test_body25_feet_missing_and_outside_joints_dropped() -> None:
    uv, depth = _people()
    uv[0, :, 0] += 1000  # person 0 entirely right of the image
    det = simulate_detections(
        uv,
        depth=depth,
        width=400,
        height=400,
        rng=np.random.default_rng(2),
        noise=DetectionNoise(false_positives_per_image=0.0, miss_prob=0.0),
    )
    assert det.shape == (2, 25, 3)
    assert (det[:, 19:, 2] == 0).all()  # BODY25 feet: no Panoptic-19 source


def test_noise_statistics_and_determinism() -> None:
    uv, depth = _people()
    kw = dict(depth=depth, width=400, height=400, noise=DetectionNoise(miss_prob=0.2))
    a = simulate_detections(uv, rng=np.random.default_rng(3), **kw)
    b = simulate_detections(uv, rng=np.random.default_rng(3), **kw)
    np.testing.assert_array_equal(a, b)
    many = [simulate_detections(uv, rng=np.random.default_rng(s), **kw) for s in range(40)]
    # body joints of BODY25 (first 19) missed about 20 % of the time
    missed = np.mean([(d[:, :19, 2] == 0).mean() for d in many])
    assert 0.1 < missed < 0.3
    # occluded joints get lower confidence
    occ = simulate_detections(
        uv,
        rng=np.random.default_rng(4),
        occluded=np.ones((3, 19), bool),
        **{**kw, "noise": DetectionNoise(occluded_miss_prob=0.0, false_positives_per_image=0.0)},
    )
    assert occ[..., :19, 2][occ[..., :19, 2] > 0].mean() < 0.7
