"""Left-out-camera errors and the distance to the detected people, against hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from rig_helpers import PAN, cv_project, pose, rig
from tessetrack.eval.reprojection import common_people, left_out_errors, person_to_detections


def test_errors_in_pixels_and_relative_to_height(rng):
    cam = next(iter(rig().values()))
    person = pose(rng)
    uv = cv_project(cam, person)
    det = np.concatenate([uv, np.full((PAN.num_joints, 1), 0.9)], 1)
    det[4, 0] += 10.0  # one joint 10 px off
    det[7, 2] = 0.1  # one joint not confident: not compared
    height = det[det[:, 2] >= 0.5, 1].max() - det[det[:, 2] >= 0.5, 1].min()
    stray = det.copy()
    stray[:, 0] += 5000  # a person the pose does not explain
    out = left_out_errors([person], np.stack([stray, det]), cam, detections_joint_set="panoptic19")
    assert (out.found, out.people) == (1, 2)
    assert out.pixels.size == PAN.num_joints - 1
    assert out.pixels.max() == pytest.approx(10.0, abs=1e-6) and np.sort(out.pixels)[-2] < 1e-6
    np.testing.assert_allclose(out.relative, out.pixels / height)
    assert (out.person == 1).all()  # every compared joint is the second 2D person's
    none = left_out_errors([], det[None], cam, detections_joint_set="panoptic19")
    assert (none.found, none.people, none.pixels.size) == (0, 1, 0)


def test_distance_to_the_nearest_detected_person_by_hand():
    uv = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [np.nan, np.nan]])
    near = np.c_[uv + [3.0, 4.0], np.full(5, 0.9)]  # every joint 5 px off
    far = np.c_[uv + [30.0, 40.0], np.full(5, 0.9)]  # 50 px off
    weak = np.c_[uv, np.full(5, 0.1)]  # exact, but every score below 0.3: not compared
    d = person_to_detections(uv, np.stack([far, near, weak]))
    assert d == pytest.approx(5.0)
    # joints of low score are ignored: two usable joints are too few
    few = near.copy()
    few[2:, 2] = 0.0
    assert np.isnan(person_to_detections(uv, few[None]))
    assert np.isnan(person_to_detections(uv, np.zeros((0, 5, 3))))


def test_median_ignores_one_bad_joint():
    uv = np.zeros((5, 2))
    det = np.c_[np.zeros((5, 2)), np.ones(5)]
    det[0, :2] = (100.0, 0.0)  # one joint far off
    assert person_to_detections(uv, det[None]) == 0.0


def test_two_methods_compared_on_the_people_both_paired(rng):
    cam = next(iter(rig().values()))
    a, b = pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))
    dets = np.stack([np.c_[cv_project(cam, p), np.full(PAN.num_joints, 0.9)] for p in (a, b)])
    off = b + [0.0, 0.0, 0.05]  # the second person 5 cm too high
    both = left_out_errors([a, off], dets, cam, detections_joint_set="panoptic19")
    one = left_out_errors([a], dets, cam, detections_joint_set="panoptic19")
    assert (both.found, one.found) == (2, 1) and both.pixels.max() > 1.0
    # on the people both paired, only person 0 (exact for both methods) is left
    fair_both, fair_one = common_people(both, one)
    assert (fair_both.found, fair_one.found) == (1, 1)
    assert fair_both.pixels.size == fair_one.pixels.size == PAN.num_joints
    assert fair_both.pixels.max() < 1e-6 and (fair_both.person == 0).all()
    # a method that leaves joints 0-4 unknown: the other is compared on joints 5.. only
    partial = a.copy()
    partial[:5] = np.nan
    fewer = left_out_errors([partial], dets, cam, detections_joint_set="panoptic19")
    x, y = common_people(both, fewer)
    assert x.pixels.size == y.pixels.size == PAN.num_joints - 5
    assert sorted(x.joint.tolist()) == sorted(y.joint.tolist()) == list(range(5, PAN.num_joints))


def test_a_refused_pair_cannot_push_an_accepted_one_aside(rng):
    """Poses A, B and 2D people X, Y along the image's x axis, in units of the 2D height:
    A-X 0.3 (accepted), A-Y 0.6, B-X 0.7, B-Y 1.6 (refused at the 0.5 gate). Refused pairs at
    their own cost would win (0.6 + 0.7 < 0.3 + 1.6) and pair nobody."""
    cam = next(iter(rig().values()))
    a = pose(rng)
    a[:, :2] = a[:, :2] * 0.2 + a[:, :2].mean(0) * 0.8  # a slim person: little depth spread
    uv = cv_project(cam, a)
    h = np.ptp(uv[:, 1])
    x, y = uv + [0.3 * h, 0.0], uv - [0.6 * h, 0.0]
    depth = float(cam.depth(a.mean(0, keepdims=True))[0])
    b = a + cam.R[0] * (1.0 * h * depth / cam.K[0, 0])  # one height to the image's right
    dets = np.stack([np.c_[d, np.full(PAN.num_joints, 0.9)] for d in (x, y)])
    out = left_out_errors([a, b], dets, cam, detections_joint_set="panoptic19")
    assert out.found == 1 and (out.person == 0).all()
    np.testing.assert_allclose(out.relative, 0.3 * h / (np.ptp(x[:, 1])), rtol=1e-6)
