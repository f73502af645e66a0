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


_CLEAN = dict(jitter=0.0, miss_prob=0.0, swap_prob=0.0, false_positives_per_image=0.0)


def test_twin_peaks_put_a_joint_at_its_twins_position() -> None:
    from tessetrack.skeletons import PANOPTIC19

    uv, depth = _people()
    kw = dict(depth=depth, width=400, height=400, joint_set="panoptic19")
    det = simulate_detections(
        uv, rng=np.random.default_rng(4), noise=DetectionNoise(**_CLEAN, twin_prob=1.0), **kw
    )
    assert det.shape == (6, 19, 3)  # 3 people + their 3 mirror rows
    twins = {a: b for a, b in PANOPTIC19.flip_pairs} | {b: a for a, b in PANOPTIC19.flip_pairs}
    for person in uv:
        # the mirror row of this person: its left shoulder sits at the person's right shoulder
        a, b = next(iter(PANOPTIC19.flip_pairs))
        row = det[np.argmin(np.linalg.norm(det[:, a, :2] - person[b], axis=-1))]
        for j, t in twins.items():
            np.testing.assert_allclose(row[j, :2], person[t])
            assert 0 < row[j, 2] <= 1.0
        assert (row[[j for j in range(19) if j not in twins], 2] == 0).all()
    plain = simulate_detections(
        uv, rng=np.random.default_rng(4), noise=DetectionNoise(**_CLEAN), **kw
    )
    assert plain.shape == (3, 19, 3)


def test_stray_peaks_are_lone_joints_near_the_people_at_the_asked_rate() -> None:
    uv, depth = _people()
    noise = DetectionNoise(**_CLEAN, stray_per_joint=0.5, stray_spread=0.1)
    kw = dict(depth=depth, width=400, height=400, joint_set="panoptic19", noise=noise)
    counts = []
    for s in range(60):
        det = simulate_detections(uv, rng=np.random.default_rng(s), **kw)
        real = np.array([any(np.allclose(d[:, :2], p) for p in uv) for d in det])
        strays = det[~real]
        counts.append(int((strays[..., 2] > 0).sum()))
        conf = strays[..., 2][strays[..., 2] > 0]
        assert ((conf >= 0.3) & (conf <= 0.8)).all()
        # each stray lies within a few spreads (0.1 × height ≤ 20 px) of some joint of the people
        for u, v in strays[..., :2][strays[..., 2] > 0]:
            assert np.linalg.norm(uv.reshape(-1, 2) - (u, v), axis=-1).min() < 5 * 0.1 * 200
    assert abs(np.mean(counts) / 19 - 0.5) < 0.05  # Poisson(0.5) per joint, all inside the image


def test_noise_out_of_range_is_refused() -> None:
    import pytest

    from tessetrack.errors import InputError

    with pytest.raises(InputError, match="twin_prob"):
        DetectionNoise(twin_prob=1.5)
    with pytest.raises(InputError, match="stray_per_joint"):
        DetectionNoise(stray_per_joint=-1.0)
