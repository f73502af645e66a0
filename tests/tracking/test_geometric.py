"""The geometric baseline: two people, four views, one view's people swapped left/right and
listed in another order, a stray person in one view; exact up to numerics."""

from __future__ import annotations

import numpy as np

from rig_helpers import PAN, cv_project, pose, rig
from tessetrack.tracking.geometric import triangulate_people
from tessetrack.tracking.refine import mirror_index


def test_two_people_found_and_triangulated(rng):
    cams = rig()
    truth = [pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))]
    dets = {}
    for k, (name, cam) in enumerate(cams.items()):
        people = [np.concatenate([cv_project(cam, t), np.full((PAN.num_joints, 1), 0.9)], 1)
                  for t in truth]  # fmt: skip
        if k == 2:
            people = [p[mirror_index("panoptic19").numpy()] for p in people][::-1]
        if k == 3:  # somebody only this camera sees
            people.append(np.concatenate([rng.uniform(0, 400, (PAN.num_joints, 2)),
                                          np.full((PAN.num_joints, 1), 0.9)], 1))  # fmt: skip
        dets[name] = np.stack(people)
    found = triangulate_people(dets, cams, detections_joint_set="panoptic19")
    assert len(found) == 2
    found = sorted(found, key=lambda f: np.nanmean(f[0][:, 0]))
    for (pts, views), t in zip(found, truth, strict=True):
        np.testing.assert_allclose(pts, t, atol=1e-6)
        assert (views == 4).all()


def test_nobody_with_one_view(rng):
    cams = rig()
    t = pose(rng)
    name, cam = next(iter(cams.items()))
    dets = {name: np.concatenate([cv_project(cam, t), np.ones((PAN.num_joints, 1))], 1)[None]}
    assert triangulate_people(dets, cams, detections_joint_set="panoptic19") == []


def test_a_person_half_out_of_one_view_is_paired_by_the_joints_both_show(rng):
    # two views; the second shows only the upper body (legs out of its image: confidence 0);
    # the legs stay unknown (one view), the rest is triangulated exactly
    cams = dict(list(rig().items())[:2])
    truth = pose(rng)
    legs = np.array([PAN.index(n) for n in ("l_knee", "l_ankle", "r_knee", "r_ankle")])
    dets = {}
    for k, (name, cam) in enumerate(cams.items()):
        conf = np.full((PAN.num_joints, 1), 0.9)
        if k == 1:
            conf[legs] = 0.0
        dets[name] = np.concatenate([cv_project(cam, truth), conf], 1)[None]
    found = triangulate_people(dets, cams, detections_joint_set="panoptic19")
    assert len(found) == 1
    pts, views = found[0]
    rest = np.setdiff1d(np.arange(PAN.num_joints), legs)
    np.testing.assert_allclose(pts[rest], truth[rest], atol=1e-6)
    assert np.isnan(pts[legs]).all() and (views[rest] == 2).all() and (views[legs] == 0).all()
