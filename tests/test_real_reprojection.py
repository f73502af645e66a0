"""benchmarks/real_reprojection.py: tracked poses against the real detections they came from."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def real_reprojection():
    return load_benchmark("real_reprojection")


def test_distance_to_the_nearest_detected_person_by_hand(real_reprojection):
    uv = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [np.nan, np.nan]])
    near = np.c_[uv + [3.0, 4.0], np.full(5, 0.9)]  # every joint 5 px off
    far = np.c_[uv + [30.0, 40.0], np.full(5, 0.9)]  # 50 px off
    weak = np.c_[uv, np.full(5, 0.1)]  # exact, but every score below 0.3: not compared
    d = real_reprojection.person_to_detections(uv, np.stack([far, near, weak]))
    assert d == pytest.approx(5.0)
    # joints of low score are ignored: two usable joints are too few
    few = near.copy()
    few[2:, 2] = 0.0
    assert np.isnan(real_reprojection.person_to_detections(uv, few[None]))
    assert np.isnan(real_reprojection.person_to_detections(uv, np.zeros((0, 5, 3))))


def test_median_ignores_one_bad_joint(real_reprojection):
    uv = np.zeros((5, 2))
    det = np.c_[np.zeros((5, 2)), np.ones(5)]
    det[0, :2] = (100.0, 0.0)  # one joint far off
    assert real_reprojection.person_to_detections(uv, det[None]) == 0.0
