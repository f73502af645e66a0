"""Left-out-camera errors against a hand-made case."""

from __future__ import annotations

import numpy as np
import pytest

from rig_helpers import PAN, cv_project, pose, rig
from tessetrack.eval.reprojection import left_out_errors


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
    none = left_out_errors([], det[None], cam, detections_joint_set="panoptic19")
    assert (none.found, none.people, none.pixels.size) == (0, 1, 0)
