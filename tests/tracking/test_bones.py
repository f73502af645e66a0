"""Bone lengths kept along a track: a stretched upper arm is brought back, the forearm follows, the
other joints and the other tracks stay as they are."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.tracking.bones import (
    BoneConfig,
    bone_lengths,
    bone_tree,
    keep_bone_lengths,
    stature,
    stature_shares,
)

PAN = get_joint_set("panoptic19")


def _template(rng) -> np.ndarray:
    return rng.uniform(-0.5, 0.5, (PAN.num_joints, 3)) + [0, 0, 1]


def test_a_stretched_arm_is_brought_back(rng):
    pose = _template(rng)
    sh, el, wr = (PAN.index(n) for n in ("l_shoulder", "l_elbow", "l_wrist"))
    bad = pose.copy()
    bad[el] = pose[sh] + 1.5 * (pose[el] - pose[sh])  # upper arm 50 % too long
    bad[wr] = bad[el] + (pose[wr] - pose[el])  # the forearm comes along
    frames = tuple(FramePoses(t, (PersonPose(0, bad if t == 5 else pose, np.ones(PAN.num_joints)),
                                  PersonPose(1, pose + 3.0, np.ones(PAN.num_joints))))
                   for t in range(10))  # fmt: skip
    out, moved = keep_bone_lengths(Tracks(joint_names=PAN.joints, frames=frames), "panoptic19")
    assert moved == 2  # the elbow and the wrist of frame 5
    fixed = out.frames[5].people[0]
    np.testing.assert_allclose(fixed.joints, pose, atol=1e-9)
    assert fixed.scores[el] == 0.5 and fixed.scores[wr] == 1.0
    for f in out.frames:
        np.testing.assert_allclose(f.people[1].joints, pose + 3.0)


def test_tree_and_settings():
    tree = bone_tree("panoptic19")
    assert len(tree) == PAN.num_joints - 1  # every joint but the root, once
    assert len({c for _, c in tree}) == len(tree)
    with pytest.raises(InputError):
        BoneConfig(tolerance=1.5)
    with pytest.raises(InputError, match="no 'pelvis'"):
        bone_tree("panoptic19", root="pelvis")


def test_bone_lengths_by_hand():
    """Three joints in a chain, six frames: the median over the frames whose scores reach
    ``min_score`` at both ends; a bone with fewer such frames than ``min_frames`` is unknown."""
    joints = np.zeros((6, 3, 3))
    joints[:, 1, 0] = [1.0, 2.0, 3.0, 4.0, 5.0, 100.0]  # bone 0→1 lengths
    joints[:, 2, 0] = joints[:, 1, 0] + 0.5  # bone 1→2: 0.5 in every frame
    scores = np.ones((6, 3))
    scores[5, 1] = 0.2  # frame 5's joint 1 is weak: both of its bones leave that frame out
    scores[0, 2] = 0.0
    tree = [(0, 1), (1, 2)]
    lengths = bone_lengths(joints, scores, tree, BoneConfig(min_score=0.5, min_frames=4))
    np.testing.assert_allclose(lengths, [3.0, 0.5])  # median of 1..5; frames 1-4
    too_few = bone_lengths(joints, scores, tree, BoneConfig(min_score=0.5, min_frames=5))
    assert too_few[0] == 3.0 and np.isnan(too_few[1])  # bone 1→2 has only 4 good frames
    assert bone_lengths(joints[:0], scores[:0], tree, BoneConfig()).shape == (2,)


def test_stature_shares_and_stature_by_hand():
    """Shares: the forearm is 0.153 of the stature, a shoulder from the neck half the shoulder
    breadth (0.100), the nose 0.149 from the neck and an ear 0.063 from its eye; the face's do
    not measure the stature. The stature is the median over frames and bones of length / share,
    and unknown from fewer than three bones."""
    tree = bone_tree("panoptic19")
    shares = stature_shares("panoptic19", tree)
    named = {(PAN.joints[a], PAN.joints[b]): s for (a, b), s in zip(tree, shares, strict=True)}
    assert named[("l_elbow", "l_wrist")] == pytest.approx(0.153)
    assert named[("neck", "r_shoulder")] == pytest.approx(0.100)
    assert named[("neck", "nose")] == pytest.approx(0.149)
    assert named[("nose", "r_eye")] == pytest.approx(0.031)
    assert named[("l_eye", "l_ear")] == pytest.approx(0.063)
    measure = stature_shares("panoptic19", tree, for_stature=True)
    head = ("nose", "l_eye", "r_eye", "l_ear", "r_ear")
    face = [e for e, (_, b) in enumerate(tree) if PAN.joints[b] in head]
    assert len(face) == 5 and np.isnan(measure[face]).all()
    assert np.array_equal(np.isnan(measure), np.isnan(shares) | np.isin(np.arange(len(tree)), face))
    # three bones along x, lengths giving the statures 1.5 (forearm), 1.8 (upper arm), 2.0 (spine)
    chain = [(PAN.index(a), PAN.index(b)) for a, b in
             [("l_elbow", "l_wrist"), ("l_shoulder", "l_elbow"), ("mid_hip", "neck")]]  # fmt: skip
    sub = stature_shares("panoptic19", chain)
    joints = np.zeros((1, PAN.num_joints, 3))
    joints[0, PAN.index("l_wrist"), 0] = sub[0] * 1.5
    joints[0, PAN.index("l_shoulder"), 0] = -sub[1] * 1.8
    joints[0, PAN.index("neck"), 0] = sub[2] * 2.0
    good = np.ones((1, PAN.num_joints), bool)
    assert stature(joints, good, chain, sub) == pytest.approx(1.8)
    good[0, PAN.index("neck")] = False  # two bones left
    assert np.isnan(stature(joints, good, chain, sub))
    assert np.isnan(stature(joints[:0], good[:0], chain, sub))
    # both halves of one breadth are one kind of bone: four of them are not enough
    halves = [(PAN.index("mid_hip"), PAN.index(f"{s}_hip")) for s in "lr"]
    halves += [(PAN.index("neck"), PAN.index(f"{s}_shoulder")) for s in "lr"]
    assert np.isnan(stature(joints, good, halves, stature_shares("panoptic19", halves)))
    # the whole tree: the face (no share for the stature) and unknown joints are left out
    full = np.random.default_rng(0).normal(0.0, 0.3, (2, PAN.num_joints, 3))
    full[1, PAN.index("l_wrist")] = np.nan
    h = stature(full, np.ones((2, PAN.num_joints), bool), tree, measure)
    assert np.isfinite(h) and h > 0


def test_stature_shares_of_body25_leave_the_feet_out():
    tree = bone_tree("body25")
    shares = stature_shares("body25", tree)
    names = get_joint_set("body25").joints
    foot = [e for e, (_, b) in enumerate(tree) if "toe" in names[b] or "heel" in names[b]]
    assert len(foot) == 6 and np.isnan(shares[foot]).all()
    assert np.isfinite(shares).sum() == 18  # spine, 2 hips, 2 shoulders, 4 arm, 4 leg, 5 face bones
    assert np.isfinite(stature_shares("body25", tree, for_stature=True)).sum() == 13
