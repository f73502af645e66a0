"""Refinement from 2D detections: exact cases built with OpenCV's projection (an independent
route), outlier views, left/right swaps, the fallback to the network's joints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rig_helpers import PAN, cv_project, pose, rig
from tessetrack.errors import InputError
from tessetrack.geometry.camera import stack_cameras
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.tracking.bones import bone_tree, stature_shares
from tessetrack.tracking.refine import (
    RefineConfig,
    _fit_frame,
    _pair_views,
    _same_pairing,
    bone_directions,
    drop_duplicates,
    keep_bone_consistent,
    lost_people,
    match_people,
    mirror_index,
    place_on_rays,
    refine_frame,
    refine_tracks,
    robust_triangulate,
    track_shapes,
)


def test_robust_triangulate_drops_the_disagreeing_view(rng):
    cams = rig()
    truth = pose(rng)
    uv = np.stack([cv_project(c, truth) for c in cams.values()], axis=1)  # J×V×2
    uv[:5, 2] += 60.0  # view 2 is 60 px off at the first five joints
    st = stack_cameras(list(cams.values()), dtype=torch.float64)
    pts, views, err = robust_triangulate(
        torch.tensor(uv)[None], torch.ones(1, PAN.num_joints, 4, dtype=torch.float64), st,
        torch.full((1, 1), 10.0, dtype=torch.float64), 2,
    )  # fmt: skip
    np.testing.assert_allclose(pts[0].numpy(), truth, atol=1e-6)
    assert views[0, :5].tolist() == [3] * 5 and views[0, 5:].eq(4).all()
    assert float(err.max()) < 1e-4


def test_match_people_reads_a_swapped_person(rng):
    projected = torch.tensor(rng.uniform(0, 400, (2, PAN.num_joints, 2)))
    mirror = mirror_index("panoptic19")
    dets = torch.cat([projected, torch.ones(2, PAN.num_joints, 1, dtype=torch.float64)], -1)
    dets = dets[[1, 0]]  # order of the 2D people differs from the tracked people
    dets[0] = dets[0][mirror]  # tracked person 1 detected with its sides swapped
    match, swapped = match_people(projected, torch.ones(2, PAN.num_joints, dtype=torch.bool), dets,
                                  RefineConfig(), mirror)  # fmt: skip
    assert match.tolist() == [1, 0] and swapped.tolist() == [False, True]


def test_match_people_measures_a_whole_track_by_its_projection():
    # a person 400 px tall whose 2D person shows only its top joints (89 px: cut by the image's
    # edge), 42 px off: half the part shown, a tenth of the person; paired only for a whole track
    j = PAN.num_joints
    v = np.linspace(0.0, 400.0, j)
    projected = torch.tensor(np.stack([np.full(j, 200.0), v], -1))[None]  # 1×J×2
    dets = torch.cat([projected + 30.0, torch.ones(1, j, 1, dtype=torch.float64)], -1)
    dets[0, v > 100.0, 2] = 0.0
    front = torch.ones(1, j, dtype=torch.bool)
    whole = match_people(projected, front, dets, RefineConfig(), whole=torch.tensor([True]))[0]
    part = match_people(projected, front, dets, RefineConfig(), whole=torch.tensor([False]))[0]
    assert whole.tolist() == [0] and part.tolist() == [-1]
    assert match_people(projected, front, dets, RefineConfig())[0].tolist() == [-1]


def test_match_people_lets_no_refused_pair_push_a_person_off_their_own():
    # 2D people a (x = 0) and b (x = 45), 200 px tall; tracked A 2 px off a (cost 0.01; b: 0.215),
    # tracked B 62 px off a (0.31, over the 0.3 gate; b: 0.535). A-b + B-a costs less than
    # A-a + B-b, but B-a is refused: A keeps a and B stays unpaired
    j = PAN.num_joints
    line = torch.tensor(np.stack([np.zeros(j), np.linspace(0.0, 200.0, j)], -1))  # J×2
    shift = torch.tensor([1.0, 0.0], dtype=torch.float64)
    projected = torch.stack([line + 2.0 * shift, line - 62.0 * shift])  # A, B
    conf = torch.ones(j, 1, dtype=torch.float64)
    dets = torch.stack([torch.cat([line, conf], -1), torch.cat([line + 45.0 * shift, conf], -1)])
    match, _ = match_people(projected, torch.ones(2, j, dtype=torch.bool), dets, RefineConfig())
    assert match.tolist() == [0, -1]
    # b at x = 58 (A-b 0.28); B 52 px above x = 24.86: B-a 0.29 (accepted), B-b 0.31 (refused).
    # A-b + B-a (0.57) costs more than A-a + B unpaired (0.01 + the gate): A keeps a
    dets[1, :, 0] = 58.0
    projected[1] = line + torch.tensor([24.86, 52.4], dtype=torch.float64)
    match, _ = match_people(projected, torch.ones(2, j, dtype=torch.bool), dets, RefineConfig())
    assert match.tolist() == [0, -1]


def test_a_joint_just_in_front_of_a_camera_does_not_stretch_a_whole_track(rng):
    # a trusted track with one joint 5 cm in front of the lens, 0.5 m below its axis: projected,
    # that joint lies ~10 focal lengths away, and the track's projected height would let a 2D
    # person half its height off pass the gate; such a joint is not projected
    cam = rig()["c0"]
    truth = pose(rng)
    track = truth.copy()
    centre = -cam.R.T @ cam.t
    track[0] = centre + 0.05 * cam.R[2] + 0.5 * cam.R[1]
    dets = np.concatenate([cv_project(cam, truth), np.full((PAN.num_joints, 1), 0.9)], 1)
    dets[0, 2] = 0.0  # the 2D person does not show that joint
    dets[:, 0] += 0.5 * np.ptp(dets[1:, 1])
    args = (torch.tensor(track)[None], [torch.tensor(dets)[None]],
            stack_cameras([cam], dtype=torch.float64), mirror_index("panoptic19"), RefineConfig())  # fmt: skip
    assert not bool((_pair_views(*args, whole=torch.tensor([True]))[1] > 0).any())
    dets[:, 0] -= 0.4 * np.ptp(dets[1:, 1])  # a tenth of its height off: paired
    args = (*args[:1], [torch.tensor(dets)[None]], *args[2:])
    assert bool((_pair_views(*args, whole=torch.tensor([True]))[1] > 0).any())


def test_drop_duplicates_keeps_the_first_ranked_of_one_person_found_twice(rng):
    a = pose(rng)
    twin = a + 0.1  # the same person found again, 17 cm off
    twin[:4] = np.nan  # joints one of them lacks are not compared
    other = pose(rng, (2.0, 0.0))
    joints = torch.tensor(np.stack([twin, a, other]))
    keep = drop_duplicates(joints, torch.tensor([0, 1, 2]), 0.3)
    assert keep.tolist() == [True, False, True]
    assert drop_duplicates(joints, torch.tensor([1, 0, 2]), 0.3).tolist() == [False, True, True]
    assert drop_duplicates(joints, torch.tensor([0, 1, 2]), 0.1).all()  # 17 cm apart: two people
    assert drop_duplicates(joints, torch.tensor([0, 1, 2]), 0.0).all()
    few = torch.tensor(np.stack([a, np.where(np.arange(len(a))[:, None] < 2, a, np.nan)]))
    assert drop_duplicates(few, torch.tensor([0, 1]), 0.3).all()  # two joints in common: unsure


def test_refine_frame_refines_the_older_of_two_tracks_on_one_person(rng):
    # track 7 lies nearer the person's 2D joints, but track 3 is older: it keeps the person
    cams = rig()
    truth = pose(rng)
    dets = {name: np.concatenate([cv_project(cam, truth), np.full((PAN.num_joints, 1), 0.9)],
                                 1)[None] for name, cam in cams.items()}  # fmt: skip
    people = [
        PersonPose(7, truth + 0.01, np.ones(PAN.num_joints)),
        PersonPose(3, truth + rng.normal(0, 0.05, truth.shape), np.ones(PAN.num_joints)),
    ]
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19", "trusted": (3, 7)}
    out = refine_frame(people, dets, cams, **kw)
    assert [p.id for p in out] == [3]
    np.testing.assert_allclose(out[0].joints, truth, atol=1e-6)
    both = refine_frame(people, dets, cams, config=RefineConfig(duplicate=0.0), **kw)
    assert [p.id for p in both] == [7]  # without the rule the nearer track takes the 2D people


def test_refine_frame_recovers_exact_joints_and_keeps_the_network_where_unseen(rng):
    cams = rig()
    truth = [pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))]
    network = [t + rng.normal(0, 0.04, t.shape) for t in truth]  # a coarse network pose
    dets = {}
    for k, (name, cam) in enumerate(cams.items()):
        people = []
        for p, t in enumerate(truth):
            d = np.concatenate([cv_project(cam, t), np.full((PAN.num_joints, 1), 0.9)], 1)
            if k == 1 and p == 0:
                d = d[mirror_index("panoptic19").numpy()]  # one view swaps one person's sides
            people.append(d)
        dets[name] = np.stack(people[::-1])  # another order than the tracks
    # joint 3 of person 0 is seen by one view only: it must stay the network's
    for name in list(cams)[1:]:  # (view c1 lists that person's sides swapped: its joint 3 is at 9)
        dets[name][1, 9 if name == "c1" else 3, 2] = 0.0
    people = [PersonPose(i, n, np.full(PAN.num_joints, 0.8)) for i, n in enumerate(network)]
    out = refine_frame(
        people, dets, cams, detections_joint_set="panoptic19", joint_set="panoptic19"
    )
    for i in range(2):
        keep = np.ones(PAN.num_joints, bool)
        if i == 0:
            keep[3] = False
            np.testing.assert_allclose(out[0].joints[3], network[0][3])
            assert out[0].scores[3] == pytest.approx(0.4)
        np.testing.assert_allclose(out[i].joints[keep], truth[i][keep], atol=1e-6)
        assert (out[i].scores[keep] > 0.8).all()
    before = np.linalg.norm(network[0] - truth[0], axis=-1).mean()
    assert before > 0.03  # the network was centimetres off


def test_refine_config_checks():
    with pytest.raises(Exception, match="min_views"):
        RefineConfig(min_views=1)


def test_a_joint_two_views_place_far_from_the_network_is_not_taken(rng):
    """Only two views see joint 5, and both put it 0.6 m off (consistently: it triangulates and
    reprojects perfectly): the network's joint is kept; all other joints are refined."""
    cams = rig()
    truth = pose(rng)
    network = truth + rng.normal(0, 0.03, truth.shape)
    wrong = truth.copy()
    wrong[5] += [0.0, 0.0, 0.6]
    dets = {}
    for k, (name, cam) in enumerate(cams.items()):
        d = np.concatenate([cv_project(cam, wrong), np.full((PAN.num_joints, 1), 0.9)], 1)
        d_true = np.concatenate([cv_project(cam, truth), np.full((PAN.num_joints, 1), 0.9)], 1)
        d_true[5] = d[5]
        if k >= 2:
            d_true[5, 2] = 0.0  # views c2, c3 do not see joint 5
        dets[name] = d_true[None]
    out = refine_frame([PersonPose(0, network, np.ones(PAN.num_joints))], dets, cams,
                       detections_joint_set="panoptic19", joint_set="panoptic19")[0]  # fmt: skip
    np.testing.assert_allclose(out.joints[5], network[5])
    keep = np.arange(PAN.num_joints) != 5
    np.testing.assert_allclose(out.joints[keep], truth[keep], atol=1e-6)
    # with a looser limit the two views' point is taken
    far = refine_frame([PersonPose(0, network, np.ones(PAN.num_joints))], dets, cams,
                       detections_joint_set="panoptic19", joint_set="panoptic19",
                       config=RefineConfig(max_shift=1.0))[0]  # fmt: skip
    np.testing.assert_allclose(far.joints[5], wrong[5], atol=1e-6)


def test_a_joint_three_views_place_far_from_the_network_is_taken(rng):
    """The network's joint 5 is 0.5 m off; three views agree where it really is: their point is
    taken (three rays that meet are not all wrong along one epipolar line). With two views, or
    with ``vouch_views=0``, the shift limit keeps the network's joint."""
    cams = rig()
    truth = pose(rng)
    network = truth.copy()
    network[5] += [0.0, 0.5, 0.0]

    def refined(seen_by: int, config: RefineConfig | None = None) -> np.ndarray:
        dets = {}
        for k, (name, cam) in enumerate(cams.items()):
            d = np.concatenate([cv_project(cam, truth), np.full((PAN.num_joints, 1), 0.9)], 1)
            d[5, 2] = 0.9 if k < seen_by else 0.0
            dets[name] = d[None]
        return refine_frame([PersonPose(0, network, np.ones(PAN.num_joints))], dets, cams,
                            detections_joint_set="panoptic19", joint_set="panoptic19",
                            config=config)[0].joints  # fmt: skip

    np.testing.assert_allclose(refined(3)[5], truth[5], atol=1e-6)
    np.testing.assert_allclose(refined(2)[5], network[5])
    np.testing.assert_allclose(refined(3, RefineConfig(vouch_views=0))[5], network[5])
    np.testing.assert_allclose(refined(3, RefineConfig(vouch_views=4))[5], network[5])
    np.testing.assert_allclose(refined(4, RefineConfig(vouch_views=4))[5], truth[5], atol=1e-6)
    with pytest.raises(InputError, match="vouch_views"):
        RefineConfig(vouch_views=2)
    assert RefineConfig(min_views=3).vouch_views == 3  # every joint three views triangulate holds


def _detections(cams, people, confidence=0.9):
    """camera name -> (P, J, 3) exact 2D people of (J, 3) poses."""
    return {name: np.stack([np.concatenate([cv_project(cam, t), np.full((PAN.num_joints, 1),
                                                                       confidence)], 1)
                            for t in people]) for name, cam in cams.items()}  # fmt: skip


def test_a_person_no_view_shows_is_dropped_and_kept_without_the_rule(rng):
    """A ghost of the 3D detector (a pose where no 2D person is) leaves the frame; with
    ``min_support=0`` it stays, with the network's joints and halved scores."""
    cams = rig()
    truth = [pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))]
    ghost = pose(rng, (0.0, -1.6))
    people = [PersonPose(i, t + rng.normal(0, 0.03, t.shape), np.full(PAN.num_joints, 0.8))
              for i, t in enumerate([truth[0], ghost, truth[1]])]  # fmt: skip
    dets = _detections(cams, truth)
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19"}
    out = refine_frame(people, dets, cams, **kw)
    assert [p.id for p in out] == [0, 2]
    for p, t in zip(out, truth, strict=True):
        np.testing.assert_allclose(p.joints, t, atol=1e-6)
    kept = refine_frame(people, dets, cams, config=RefineConfig(min_support=0), **kw)
    assert [p.id for p in kept] == [0, 1, 2]
    np.testing.assert_allclose(kept[1].joints, people[1].joints)
    np.testing.assert_allclose(kept[1].scores, 0.4)


def test_one_view_keeps_a_trusted_track_only(rng):
    """Frame 1 has one view of each person: the track the 2D evidence supports elsewhere keeps its
    pose there, the track no two views ever support loses it; a frame where only one camera found
    anybody needs only that one view."""
    cams = rig()
    names = list(cams)
    a, b = pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))
    full = _detections(cams, [a])  # person b: never seen by two views
    one = {n: (full[n] if n == names[0] else np.zeros((0, PAN.num_joints, 3))) for n in names}
    one[names[1]] = _detections({names[1]: cams[names[1]]}, [b])[names[1]]
    frames = {0: (full, cams), 1: (one, cams), 2: (full, cams)}
    net = [PersonPose(0, a, None), PersonPose(1, b, None)]
    tracks = Tracks(
        joint_names=PAN.joints, frames=tuple(FramePoses(f, tuple(net)) for f in range(3))
    )
    out = refine_tracks(tracks, frames, detections_joint_set="panoptic19", joint_set="panoptic19")
    assert [[p.id for p in fp.people] for fp in out.frames] == [[0], [0], [0]]
    only = {n: (full[n] if n == names[0] else np.zeros((0, PAN.num_joints, 3))) for n in names}
    alone = refine_frame([PersonPose(0, a, None)], only, cams, detections_joint_set="panoptic19",
                         joint_set="panoptic19")  # fmt: skip
    assert [p.id for p in alone] == [0]


def test_min_support_and_trust_share_are_checked():
    with pytest.raises(InputError, match="min_support"):
        RefineConfig(min_support=-1)
    with pytest.raises(InputError, match="trust_share"):
        RefineConfig(trust_share=1.5)
    with pytest.raises(InputError, match="root_gap"):
        RefineConfig(root_gap=-1)
    with pytest.raises(InputError, match="duplicate"):
        RefineConfig(duplicate=-0.1)


def test_frames_that_cannot_tell_do_not_count_for_trust(rng):
    """Frames where one view alone found anybody say nothing about a track: a track seen only in
    such frames and in one frame with two views of support is trusted; a frame without any
    detection file and an empty frame are left as they are."""
    cams = rig()
    names = list(cams)
    a = pose(rng, (-0.8, 0.0))
    full = _detections(cams, [a])
    lone = {n: (full[n] if n == names[0] else np.zeros((0, PAN.num_joints, 3))) for n in names}
    frames = {0: (lone, cams), 1: (lone, cams), 2: (full, cams)}
    net = (PersonPose(0, a, None),)
    tracks = Tracks(joint_names=PAN.joints,
                    frames=(*(FramePoses(f, net) for f in range(4)), FramePoses(4, ())))  # fmt: skip
    out = refine_tracks(tracks, frames, detections_joint_set="panoptic19", joint_set="panoptic19")
    assert [[p.id for p in fp.people] for fp in out.frames] == [[0], [0], [0], [0], []]


def _rays_case(rng, joint):
    """A person, its exact 2D joints in the four views and its bones; every joint placed but
    ``joint``, which only view 0 shows (placed (1, J), w (1, J, 4))."""
    cams = rig()
    truth = pose(rng)
    st = stack_cameras(list(cams.values()), dtype=torch.float64)
    uv = torch.tensor(np.stack([cv_project(c, truth) for c in cams.values()], axis=1))[None]
    tree = bone_tree("panoptic19")
    lengths = torch.tensor([[np.linalg.norm(truth[b] - truth[a]) for a, b in tree]])
    placed = torch.ones(1, PAN.num_joints, dtype=torch.bool)
    placed[0, joint] = False
    w = torch.zeros(1, PAN.num_joints, 4, dtype=torch.float64)
    w[0, joint, 0] = 0.9
    return cams, truth, st, uv, tree, lengths, placed, w


def test_place_on_rays_puts_a_joint_on_its_ray_at_its_bone_length(rng):
    """A wrist only view 0 shows goes back exactly where it was (the crossing nearer the
    network's guess); a 2D wrist whose ray misses the bone's sphere is not used, nor one whose
    network joint is unknown."""
    wrist = PAN.index("l_wrist")
    cams, truth, st, uv, tree, lengths, placed, w = _rays_case(rng, wrist)
    guess = torch.tensor(truth)[None].clone()
    guess[0, wrist] += 0.005  # the network's wrist, 5 mm off
    out, new = place_on_rays(guess, placed, uv, w, st, tree, lengths, torch.full((1, 3), np.nan))
    np.testing.assert_allclose(out[0, wrist].numpy(), truth[wrist], atol=1e-6)
    assert new[0].nonzero().flatten().tolist() == [wrist]
    uv_off = uv.clone()
    uv_off[0, wrist, 0] += 150.0  # a wrong 2D wrist, far from where the forearm can reach
    out, new = place_on_rays(guess, placed, uv_off, w, st, tree, lengths,
                             torch.full((1, 3), np.nan))  # fmt: skip
    assert not new.any() and torch.equal(out, guess)
    unknown = guess.clone()
    unknown[0, wrist] = float("nan")  # nothing to choose the crossing by: left as it is
    assert not place_on_rays(unknown, placed, uv, w, st, tree, lengths,
                             torch.full((1, 3), np.nan))[1].any()  # fmt: skip


def test_place_on_rays_puts_the_root_nearest_where_the_track_was(rng):
    """A mid-hip no two views show goes to the point of view 0's ray nearest the expected root
    (it projects onto the 2D mid-hip, OpenCV's projection, and lies near the truth); an expected
    root a metre off is not trusted."""
    hip = PAN.index("mid_hip")
    cams, truth, st, uv, tree, lengths, placed, w = _rays_case(rng, hip)
    joints = torch.tensor(truth)[None]
    expected = torch.tensor(truth[hip] + [0.05, -0.03, 0.02])[None]
    out, new = place_on_rays(joints, placed, uv, w, st, tree, lengths, expected)
    assert new[0].nonzero().flatten().tolist() == [hip]
    at = out[0, hip].numpy()
    np.testing.assert_allclose(cv_project(cams["c0"], at[None])[0], uv[0, hip, 0].numpy(),
                               atol=1e-6)  # fmt: skip
    assert np.linalg.norm(at - truth[hip]) < 0.065
    far = torch.tensor(truth[hip] + [1.0, 0.0, 0.0])[None]
    assert not place_on_rays(joints, placed, uv, w, st, tree, lengths, far)[1].any()


def test_place_on_rays_takes_the_crossing_the_bone_direction_points_to(rng):
    """The network's wrist lies at the other crossing of view 0's ray with the forearm's sphere
    (a wrist thrown forward instead of back, along the ray): by it the wrong crossing is taken;
    with the forearm's direction from nearby frames, the true wrist."""
    wrist = PAN.index("l_wrist")
    cams, truth, st, uv, tree, lengths, placed, w = _rays_case(rng, wrist)
    elbow = next(a for a, b in tree if b == wrist)
    cam = cams["c0"]
    origin = -cam.R.T @ cam.t  # view 0's centre; its ray through the true wrist:
    d = (truth[wrist] - origin) / np.linalg.norm(truth[wrist] - origin)
    s_true = d @ (truth[wrist] - origin)
    s_mid = d @ (truth[elbow] - origin)
    other = origin + (2 * s_mid - s_true) * d  # the ray's second crossing of the forearm's sphere
    assert np.linalg.norm(other - truth[wrist]) > 0.05  # the two crossings lie apart
    guess = torch.tensor(truth)[None].clone()
    guess[0, wrist] = torch.tensor(other)
    nan_root = torch.full((1, 3), np.nan)
    out, _ = place_on_rays(guess, placed, uv, w, st, tree, lengths, nan_root)
    np.testing.assert_allclose(out[0, wrist].numpy(), other, atol=1e-6)
    directions = torch.full((1, len(tree), 3), np.nan, dtype=torch.float64)
    e = [b for _, b in tree].index(wrist)
    bone = truth[wrist] - truth[elbow]
    turned = bone / np.linalg.norm(bone) + rng.normal(0, 0.05, 3)  # it turned a little since
    directions[0, e] = torch.tensor(turned / np.linalg.norm(turned))
    out, new = place_on_rays(guess, placed, uv, w, st, tree, lengths, nan_root,
                             directions=directions)  # fmt: skip
    np.testing.assert_allclose(out[0, wrist].numpy(), truth[wrist], atol=1e-6)
    assert new[0].nonzero().flatten().tolist() == [wrist]
    unknown = guess.clone()
    unknown[0, wrist] = float("nan")  # no network joint: the direction alone places it
    out, new = place_on_rays(unknown, placed, uv, w, st, tree, lengths, nan_root,
                             directions=directions)  # fmt: skip
    np.testing.assert_allclose(out[0, wrist].numpy(), truth[wrist], atol=1e-6)


def test_bone_directions_by_hand():
    """One bone triangulated along x in frame 0 and along y in frame 4: frame 2 (its bone not
    triangulated, its joints pointing along z) gets the two interpolated (45°); frame 4 its own;
    frame 9 (not triangulated) frame 4's within the gap and nothing beyond it; a bone never
    triangulated has no direction; one that turned round between frames 0 and 4 neither."""
    tree = [(0, 1), (0, 2)]
    frames = np.array([0, 2, 4, 9])
    joints = np.zeros((4, 3, 3))
    joints[:, 1] = [0.0, 0.0, 1.0]  # where not triangulated: a wrong direction, not a zero one
    joints[:, 2] = [0.0, 0.0, 1.0]
    joints[0, 1] = [2.0, 0.0, 0.0]
    joints[2, 1] = [0.0, 0.5, 0.0]
    tri = np.ones((4, 3), dtype=bool)
    tri[[1, 3], 1] = False
    tri[:, 2] = False
    out = bone_directions(frames, joints, tri, tree, gap=5)
    np.testing.assert_allclose(out[0, 0], [1, 0, 0])
    np.testing.assert_allclose(out[1, 0], [2**-0.5, 2**-0.5, 0])
    np.testing.assert_allclose(out[2, 0], [0, 1, 0])
    np.testing.assert_allclose(out[3, 0], [0, 1, 0])
    assert np.isnan(out[:, 1]).all()
    assert np.isnan(bone_directions(frames, joints, tri, tree, gap=4)[3]).all()
    opposite = joints.copy()
    opposite[2, 1] = [-1.0, 0.0, 0.0]  # turned round between frames 0 and 4: no direction
    turned = bone_directions(frames, opposite, tri, tree, gap=5)
    assert np.isnan(turned[1]).all()
    np.testing.assert_allclose(turned[2, 0], [-1, 0, 0])  # frame 4 keeps its own
    with pytest.raises(ValueError, match="same"):  # one frame id too few
        bone_directions(frames[:3], joints, tri, tree, gap=5)


def test_track_shapes_gives_each_frame_its_bone_directions_in_any_order(rng):
    """Frames handed over out of order: each frame's shape holds its own bone directions (the
    forearm of a walk whose elbow angle changes frame by frame), and frame 5, whose wrist was
    not triangulated, the direction halfway between frames 4 and 6's."""
    tree = bone_tree("panoptic19")
    elbow, wrist = PAN.index("l_elbow"), PAN.index("l_wrist")
    e = tree.index((elbow, wrist))
    frames = list(range(10))
    poses = _walking(np.array(frames), rng)
    for f in frames:  # the forearm swings by 0.1 rad per frame
        a = 0.1 * f
        poses[f][wrist] = poses[f][elbow] + 0.25 * np.array([np.cos(a), 0.0, -np.sin(a)])
    tri = np.ones((10, PAN.num_joints), dtype=bool)
    tri[5, wrist] = False
    order = [7, 2, 9, 0, 5, 1, 8, 3, 6, 4]
    refined = {f: ((PersonPose(1, poses[f], None),), tri[f][None]) for f in order}
    shapes = track_shapes(refined, "panoptic19", root_gap=15, proportion_slack=0.25)[1]
    for f in frames:
        want = np.array([np.cos(0.1 * f), 0.0, -np.sin(0.1 * f)])
        np.testing.assert_allclose(shapes[f].directions[e], want, atol=1e-9)


def _walking(frames: np.ndarray, rng) -> list[np.ndarray]:
    """A person whose mid-hip goes round a circle of 2 m at 0.08 rad per frame."""
    base = pose(rng)
    hip = PAN.index("mid_hip")
    out = []
    for f in frames:
        at = np.array([2.0 * np.cos(0.08 * f), 2.0 * np.sin(0.08 * f), base[hip, 2]])
        out.append(base - base[hip] + at)
    return out


def test_track_shapes_follows_the_curve_of_a_missed_mid_hip(rng):
    """A mid-hip not triangulated in frames 10-19 of a walk round a circle: expected on a curve
    through the frames before and after with their velocities (under 3 cm off), not on the
    chord between them (19 cm off in the middle); a straight walk at constant speed is
    expected exactly; with fewer than three frames on a side, on the straight line."""
    hip = PAN.index("mid_hip")
    frames = np.arange(30)
    poses = _walking(frames, rng)
    tri = np.ones((len(frames), PAN.num_joints), dtype=bool)
    tri[10:20, hip] = False
    refined = {int(f): ((PersonPose(3, poses[f], None),), tri[f][None]) for f in frames}
    shapes = track_shapes(refined, "panoptic19", root_gap=15, proportion_slack=0.25)[3]
    curve = np.array([np.linalg.norm(shapes[f].root - poses[f][hip]) for f in range(10, 20)])
    a, b = poses[9][hip], poses[20][hip]
    chord = np.array([np.linalg.norm(a + (f - 9) / 11 * (b - a) - poses[f][hip])
                      for f in range(10, 20)])  # fmt: skip
    assert chord.max() > 0.15 and curve.max() < 0.03
    straight = {f: ((PersonPose(3, poses[0] + [0.03 * f, 0.01 * f, 0.0], None),), tri[f][None])
                for f in range(30)}  # fmt: skip
    line = track_shapes(straight, "panoptic19", root_gap=15, proportion_slack=0.25)[3]
    np.testing.assert_allclose(line[15].root, poses[0][hip] + [0.45, 0.15, 0.0], atol=1e-9)
    short = {f: v for f, v in refined.items() if f >= 8}  # frames 8 and 9 only before the gap
    few = track_shapes(short, "panoptic19", root_gap=15, proportion_slack=0.25)[3]
    u = (15 - 9) / 11
    np.testing.assert_allclose(few[15].root, (1 - u) * a + u * b, atol=1e-9)


def test_keep_bone_consistent_walks_the_skeleton_outwards(rng):
    """Face joints the shift limit rejected are kept where each lies at its bone length from a
    parent that holds: all five from a good neck; a left eye 30 % of its bone off is not, nor
    the left ear beyond it; nothing without a bone length or without being a candidate."""
    truth = torch.tensor(pose(rng))[None]
    tree = bone_tree("panoptic19")
    lengths = torch.stack([(truth[0, b] - truth[0, a]).norm() for a, b in tree])[None]
    face = [PAN.index(n) for n in ("nose", "l_eye", "r_eye", "l_ear", "r_ear")]
    candidate = torch.zeros(1, PAN.num_joints, dtype=torch.bool)
    candidate[0, face] = True
    good = ~candidate
    assert keep_bone_consistent(truth, candidate, good, tree, lengths).all()
    eye, ear, nose = PAN.index("l_eye"), PAN.index("l_ear"), PAN.index("nose")
    off = truth.clone()
    off[0, eye] += 0.3 * (truth[0, eye] - truth[0, nose])  # the bone 30 % longer
    off[0, ear] += off[0, eye] - truth[0, eye]  # the ear keeps its own bone length
    kept = keep_bone_consistent(off, candidate, good, tree, lengths)[0]
    assert (
        not kept[eye]
        and not kept[ear]
        and kept[[nose, PAN.index("r_eye"), PAN.index("r_ear")]].all()
    )
    unknown = lengths.clone()
    unknown[0, tree.index((PAN.index("neck"), nose))] = float("nan")
    assert not keep_bone_consistent(truth, candidate, good, tree, unknown)[0, face].any()
    assert torch.equal(
        keep_bone_consistent(truth, torch.zeros_like(candidate), good, tree, lengths), good
    )


def test_refine_tracks_keeps_a_far_head_the_bones_vouch_for(rng):
    """Four views see a walking person exactly; at frame 4 the network's head is 0.5 m off, past
    ``max_shift``: the views' head is at the track's bone lengths from the neck and replaces it
    exactly. A single frame refined without the track's bone lengths keeps the network's (the
    four views alone vouch for it unless ``vouch_views=0``)."""
    cams = rig()
    base = pose(rng)
    truth = [base + f * np.array([0.03, 0.01, 0.0]) for f in range(10)]
    face = [PAN.index(n) for n in ("nose", "l_eye", "r_eye", "l_ear", "r_ear")]
    net = [t + rng.normal(0, 0.02, t.shape) for t in truth]
    net[4][face] += [0.5, 0.0, 0.0]
    frames = {f: (_detections(cams, [t]), cams) for f, t in enumerate(truth)}
    tracks = Tracks(joint_names=PAN.joints,
                    frames=tuple(FramePoses(f, (PersonPose(0, n, None),)) for f, n in enumerate(net)))  # fmt: skip
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19",
          "config": RefineConfig(vouch_views=0)}  # fmt: skip
    out = {fp.frame: fp.people[0] for fp in refine_tracks(tracks, frames, **kw).frames}
    np.testing.assert_allclose(out[4].joints, truth[4], atol=1e-6)
    assert (out[4].scores[face] > 0.8).all()  # scored as triangulated joints (four views agree)
    alone = refine_frame([PersonPose(0, net[4], None)], frames[4][0], cams, **kw)[0]
    np.testing.assert_allclose(alone.joints[face], net[4][face])
    kw["config"] = RefineConfig()
    alone = refine_frame([PersonPose(0, net[4], None)], frames[4][0], cams, **kw)[0]
    np.testing.assert_allclose(alone.joints[face], truth[4][face], atol=1e-6)


def test_refine_tracks_places_what_one_view_shows(rng):
    """A person walking in a straight line, seen by four views except at frame 5 (one view sees
    everything) and frames 8-9 (one view sees the right arm): the bone lengths and the mid-hip's
    path from the other frames put those joints back where they were (a ray may cross a bone's
    sphere twice near the network's guess: most joints, not all, are exact); without the
    placement the network's joints (2 cm off) stay."""
    cams = rig()
    names = list(cams)
    base = pose(rng)
    step = np.array([0.03, 0.01, 0.0])
    truth = [base + f * step for f in range(10)]
    arm = [PAN.index(n) for n in ("r_elbow", "r_wrist")]
    frames = {}
    for f, t in enumerate(truth):
        dets = _detections(cams, [t])
        if f == 5:
            dets = {n: (d if n == names[0] else np.zeros((0, PAN.num_joints, 3)))
                    for n, d in dets.items()}  # fmt: skip
        if f in (8, 9):
            for n in names[1:]:
                dets[n][:, arm] = 0.0
        frames[f] = (dets, cams)
    net = [t + rng.normal(0, 0.02, t.shape) for t in truth]
    tracks = Tracks(joint_names=PAN.joints,
                    frames=tuple(FramePoses(f, (PersonPose(0, n, None),)) for f, n in enumerate(net)))  # fmt: skip
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19"}
    out = {fp.frame: fp.people[0].joints for fp in refine_tracks(tracks, frames, **kw).frames}
    off = refine_tracks(tracks, frames, config=RefineConfig(one_view=False), **kw)
    off = {fp.frame: fp.people[0].joints for fp in off.frames}
    err = lambda got, f, js: np.linalg.norm(got[f][js] - truth[f][js], axis=-1)  # noqa: E731
    every = list(range(PAN.num_joints))
    assert (err(out, 5, every) < 1e-3).sum() >= 14 and err(off, 5, every).min() > 1e-3
    assert err(out, 5, every).mean() < 0.5 * err(off, 5, every).mean()
    for f in (8, 9):
        assert err(out, f, arm).mean() < 0.5 * err(off, f, arm).mean()
        others = [j for j in every if j not in arm]
        assert err(out, f, others).max() < 1e-6
    assert sum(int((err(out, f, arm) < 1e-3).sum()) for f in (8, 9)) >= 3


def test_lost_people_by_hand(rng):
    """A trusted track walking straight, lost at frames 4 and 6 and after frame 11: expected at 4
    and 6 with the pose of the nearer frame that triangulated its mid-hip (frame 5 did not),
    moved onto the mid-hip's path, scores halved; nothing where the track is present, after its
    last frame, for an untrusted track, outside the frames asked for, or beyond the gap."""
    hip = PAN.index("mid_hip")
    base = pose(rng)
    step = np.array([0.03, 0.01, 0.0])
    at = {f: base + f * step + rng.normal(0, 0.05, base.shape) for f in range(14)}  # own shapes
    for f in at:
        at[f][hip] = base[hip] + f * step
    refined = {f: (PersonPose(2, at[f], np.full(PAN.num_joints, 0.8)),
                   PersonPose(5, at[f] + [2.0, 0.0, 0.0], None))
               for f in range(12) if f not in (4, 6)}  # fmt: skip
    good = {f: np.ones((2, PAN.num_joints), dtype=bool) for f in refined}
    good[5][0, hip] = False  # frame 5 kept the track without triangulating its mid-hip
    lost = lost_people(refined, good, {2}, list(range(14)), "panoptic19", gap=3)
    assert sorted(lost) == [4, 6] and all(list(v) == [2] for v in lost.values())
    for f, near in ((4, 3), (6, 7)):
        got = lost[f][2]
        np.testing.assert_allclose(got.joints[hip], at[f][hip], atol=1e-9)
        np.testing.assert_allclose(got.joints - got.joints[hip], at[near] - at[near][hip],
                                   atol=1e-9)  # fmt: skip
        np.testing.assert_allclose(got.scores, 0.4)
    assert sorted(lost_people(refined, good, {2}, [4, 5], "panoptic19", gap=3)) == [4]
    assert lost_people(refined, good, {2}, list(range(14)), "panoptic19", gap=1) == {}
    untrusted = lost_people(refined, good, {5}, list(range(14)), "panoptic19", gap=3)
    assert sorted(untrusted) == [4, 6]  # track 5 has no scores: half of ones
    np.testing.assert_allclose(untrusted[4][5].scores, 0.5)
    assert lost_people(refined, good, set(), list(range(14)), "panoptic19", gap=3) == {}


def _lost_walk(rng, cams, others=()):
    """A person walking straight whom only view 0 sees at frames 5 and 6, where the network
    placed them 0.8 m off across that view (frame 5) or missed them (frame 6); ``others``: more
    people every view sees, tracked exactly. Returns the truth, the frames and the tracks."""
    names = list(cams)
    base = pose(rng)
    step = np.array([0.03, 0.01, 0.0])
    truth = [base + f * step for f in range(12)]
    frames = {}
    for f, t in enumerate(truth):
        dets = _detections(cams, [t])
        if f in (5, 6):
            dets = {n: (d if n == names[0] else d[:0]) for n, d in dets.items()}
        if others:
            extra = _detections(cams, list(others))
            dets = {n: np.concatenate([d, extra[n]]) for n, d in dets.items()}
        frames[f] = (dets, cams)
    net = [t + rng.normal(0, 0.02, t.shape) for t in truth]
    net[5] = net[5] + [0.0, 0.8, 0.0]  # across the view of the camera that sees them
    rest = tuple(PersonPose(1 + i, o, None) for i, o in enumerate(others))
    people = [((PersonPose(0, n, None),) if f != 6 else ()) + rest for f, n in enumerate(net)]
    tracks = Tracks(joint_names=PAN.joints,
                    frames=tuple(FramePoses(f, p) for f, p in enumerate(people)))  # fmt: skip
    return truth, frames, tracks


def test_refine_tracks_pairs_a_lost_trusted_track_again(rng):
    """No view's 2D person matches the lost person at frames 5 and 6, and without ``keep_lost``
    both frames drop the track. With it, the track is paired again from where it should be, and
    the view places its mid-hip and most joints exactly; another person every view sees comes
    out the same either way."""
    cams = rig()
    other = pose(rng, (1.2, -1.0))
    truth, frames, tracks = _lost_walk(rng, cams, [other])
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19"}
    off = refine_tracks(tracks, frames, config=RefineConfig(keep_lost=False), **kw)
    assert [[p.id for p in fp.people] for fp in off.frames][4:8] == [[0, 1], [1], [1], [0, 1]]
    out = refine_tracks(tracks, frames, **kw)
    hip = PAN.index("mid_hip")
    for f in (5, 6):
        person = {p.id: p for p in out.frames[f].people}
        assert sorted(person) == [0, 1]
        err = np.linalg.norm(person[0].joints - truth[f], axis=-1)
        assert err[hip] < 1e-6 and (err < 1e-3).sum() >= 14
    for a, b in zip(off.frames, out.frames, strict=True):
        np.testing.assert_array_equal([p.joints for p in a.people if p.id == 1],
                                      [p.joints for p in b.people if p.id == 1])  # fmt: skip


def test_same_pairing_asks_for_the_same_2d_people_in_every_view(rng):
    """A new pairing of a frame stands only where every person the first kept is still there
    with the same 2D people: a person added beside them does not matter; one dropped, or one
    whose 2D person changed in a single view, does."""
    cams = rig()
    a, b = pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))
    dets = _detections(cams, [a, b])
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19",
          "config": RefineConfig(), "trusted": {0, 1}}  # fmt: skip
    one = _fit_frame([PersonPose(0, a, None)], dets, cams, **kw)
    both = _fit_frame([PersonPose(0, a, None), PersonPose(1, b, None)], dets, cams, **kw)
    assert _same_pairing(None, both) and _same_pairing(one, both)
    assert not _same_pairing(both, one)
    moved = both.uv.clone()
    moved[0, :, 2] += 1.0  # person 0's 2D person in view 2 is another one
    assert not _same_pairing(both, dataclasses.replace(both, uv=moved))


def test_a_lost_track_does_not_push_out_the_person_under_a_new_id(rng):
    """At frame 5 the network found the lost person again under a new track id (where view 0
    shows them): the guessed pose of the lost track would push that one out as a duplicate, so
    the frame keeps its first pairing; frame 6, where the network found nobody, gets the lost
    track back."""
    cams = rig()
    truth, frames, tracks = _lost_walk(rng, cams)
    fps = list(tracks.frames)
    fps[5] = FramePoses(5, (*fps[5].people, PersonPose(9, truth[5] + 0.01, None)))
    tracks = Tracks(joint_names=PAN.joints, frames=tuple(fps))
    out = refine_tracks(tracks, frames, detections_joint_set="panoptic19", joint_set="panoptic19")
    assert [p.id for p in out.frames[5].people] == [9]
    assert [p.id for p in out.frames[6].people] == [0]


def test_a_guessed_pose_gets_its_own_2d_person_only_where_the_others_leave_it(rng):
    """Two 2D people a and b in every view. The network placed person 0 at a, 8 cm off; the
    guessed pose of a lost track (1) lies exactly on a, and would take it from person 0 in a
    joint pairing. Paired after the others, it gets nothing and person 0 keeps a; a second
    guess (2) on b still gets b. With a third 2D person 0.2 m beside a, the guess does not fall
    back on that one (another person's, whose own pose the network lost)."""
    cams = rig()
    a, b = pose(rng, (-0.6, 0.0)), pose(rng, (0.9, 0.4))
    dets = _detections(cams, [a, b])
    st = stack_cameras(list(cams.values()), dtype=torch.float64)
    converted = [torch.tensor(d) for d in dets.values()]
    joints = torch.tensor(np.stack([a + [0.08, 0.0, 0.0], a, b]))
    mirror, config = mirror_index("panoptic19"), RefineConfig()
    w = _pair_views(joints[:2], converted, st, mirror, config)[1]
    assert (w[0].amax(0) == 0).all() and (w[1].amax(0) > 0).all()  # jointly: the guess wins
    later = torch.tensor([False, True, True])
    uv, w, _ = _pair_views(joints, converted, st, mirror, config, later=later)
    assert (w[0].amax(0) > 0).all() and (w[1].amax(0) == 0).all() and (w[2].amax(0) > 0).all()
    for k, cam in enumerate(cams.values()):
        np.testing.assert_allclose(uv[0, :, k].numpy(), cv_project(cam, a), atol=1e-9)
        np.testing.assert_allclose(uv[2, :, k].numpy(), cv_project(cam, b), atol=1e-9)
    beside = [torch.tensor(d) for d in _detections(cams, [a, b, a + [0.2, 0.0, 0.0]]).values()]
    w = _pair_views(joints[:2], beside, st, mirror, config, later=later[:2])[1]
    assert (w[0].amax(0) > 0).all() and (w[1].amax(0) == 0).all()


def test_a_lost_tracks_guess_leaves_a_placed_persons_2d_person_to_them():
    """Frame 6: the network missed person 0 (only view 0 shows them) and placed person 1, who
    stands 0.6 m behind them as camera 1 sees it, 0.2 m off. The guess for 0 fits 1's 2D person
    in view 1 better than 1's own pose does; paired after 1, it leaves it to 1 and takes 0's own
    2D person in view 0, so the frame's new pairing stands and 0 is back."""
    cams = rig()
    truth = _lost_walk(np.random.default_rng(5), cams)[0]
    hip = PAN.index("mid_hip")
    ray = truth[6][hip] - cams["c1"].center
    ray /= np.linalg.norm(ray)
    behind = truth[6] + 0.6 * ray
    truth, frames, tracks = _lost_walk(np.random.default_rng(5), cams, [behind])
    side = np.cross(ray, [0.0, 0.0, 1.0])
    fps = list(tracks.frames)
    fps[6] = FramePoses(6, (PersonPose(1, behind + 0.2 * side / np.linalg.norm(side), None),))
    tracks = Tracks(joint_names=PAN.joints, frames=tuple(fps))
    out = refine_tracks(tracks, frames, detections_joint_set="panoptic19", joint_set="panoptic19")
    person = {p.id: p for p in out.frames[6].people}
    assert sorted(person) == [0, 1]
    assert np.linalg.norm(person[0].joints[hip] - truth[6][hip]) < 1e-6
    assert np.linalg.norm(person[1].joints[hip] - behind[hip]) < 1e-6


def test_one_lost_track_pushing_out_a_person_does_not_cost_another_its_frame(rng):
    """At frame 5 two trusted tracks are lost: 0 (placed far off by the network) and 1, whom
    the network found under a new id (9). Together, 1's guess pushes 9 out and the frame's new
    pairing is refused; one at a time, 0 is paired again and 9 stays."""
    cams = rig()
    other = pose(rng, (1.2, -1.0))
    truth, frames, tracks = _lost_walk(rng, cams, [other])
    fps = list(tracks.frames)
    fps[5] = FramePoses(5, (fps[5].people[0], PersonPose(9, other, None)))
    tracks = Tracks(joint_names=PAN.joints, frames=tuple(fps))
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19"}
    out = refine_tracks(tracks, frames, **kw)
    person = {p.id: p for p in out.frames[5].people}
    assert sorted(person) == [0, 9]
    hip = PAN.index("mid_hip")
    assert np.linalg.norm(person[0].joints[hip] - truth[5][hip]) < 1e-6
    assert sorted(p.id for p in out.frames[6].people) == [0, 1]


def test_refine_tracks_in_a_joint_set_without_a_mid_hip(rng):
    """COCO-17 has no mid-hip to walk the skeleton from: the joints are triangulated as usual and
    the placement on rays is left out instead of failing."""
    from tessetrack.skeletons import get_joint_set

    coco = get_joint_set("coco17")
    cams = rig()
    truth = [rng.uniform(-0.3, 0.3, (coco.num_joints, 3)) + [0, 0, 1.0] for _ in range(6)]
    frames = {}
    for f, t in enumerate(truth):
        dets = {n: np.concatenate([cv_project(c, t), np.full((coco.num_joints, 1), 0.9)], 1)[None]
                for n, c in cams.items()}  # fmt: skip
        frames[f] = (dets, cams)
    net = [t + rng.normal(0, 0.03, t.shape) for t in truth]
    tracks = Tracks(joint_names=coco.joints,
                    frames=tuple(FramePoses(f, (PersonPose(0, n, None),)) for f, n in enumerate(net)))  # fmt: skip
    out = refine_tracks(tracks, frames, detections_joint_set="coco17", joint_set="coco17")
    for fp, t in zip(out.frames, truth, strict=True):
        np.testing.assert_allclose(fp.people[0].joints, t, atol=1e-6)


def _proportioned_pose(stature: float) -> np.ndarray:
    """(19, 3) a person standing at the origin, arms bent forward, every bone that real people's
    proportions give at its mean share of ``stature`` (the face's too); any other 5 cm."""
    tree = bone_tree("panoptic19")
    shares = stature_shares("panoptic19", tree)
    way = {"neck": (0, 0, 1), "l_hip": (1, 0, 0), "r_hip": (-1, 0, 0), "nose": (0, 0.5, 1),
           "l_shoulder": (1, 0, 0), "r_shoulder": (-1, 0, 0), "l_knee": (0, 0, -1),
           "r_knee": (0, 0, -1), "l_ankle": (0, 0, -1), "r_ankle": (0, 0, -1),
           "l_elbow": (0.3, 0, -1), "r_elbow": (-0.3, 0, -1), "l_wrist": (0, 0.8, -1),
           "r_wrist": (0, 0.8, -1), "l_eye": (1, 0.3, 0.5), "r_eye": (-1, 0.3, 0.5),
           "l_ear": (1, -1, 0), "r_ear": (-1, -1, 0)}  # fmt: skip
    out = np.zeros((PAN.num_joints, 3))
    out[PAN.index("mid_hip")] = [0.0, 0.0, 0.55 * stature]
    for e, (a, b) in enumerate(tree):
        d = np.asarray(way[PAN.joints[b]], float)
        length = shares[e] * stature if np.isfinite(shares[e]) else 0.05
        out[b] = out[a] + length * d / np.linalg.norm(d)
    return out


def test_real_proportions_vouch_for_a_far_wrist_of_a_person_seen_once():
    """A single frame (no bone lengths of its own): the network's left wrist is 0.5 m off, two
    views agree where it is. The forearm real people's proportions give at the stature the other
    bones show vouches for their point; a point at 1.5× that length does not pass, nor anything
    with ``proportion_slack=0``."""
    cams = rig()
    truth = _proportioned_pose(1.75)
    wrist, elbow = PAN.index("l_wrist"), PAN.index("l_elbow")
    network = truth.copy()
    network[wrist] += [0.0, -0.5, 0.0]

    def refined(seen: np.ndarray, config: RefineConfig | None = None) -> np.ndarray:
        dets = _detections(cams, [truth])
        for k, (name, cam) in enumerate(cams.items()):
            dets[name][0, wrist, :2] = cv_project(cam, seen[None])[0]
            dets[name][0, wrist, 2] = 0.9 if k < 2 else 0.0  # two views see the wrist
        tracks = Tracks(joint_names=PAN.joints, frames=(FramePoses(0, (PersonPose(0, network, None),)),))  # fmt: skip
        out = refine_tracks(tracks, {0: (dets, cams)}, detections_joint_set="panoptic19",
                            joint_set="panoptic19", config=config)  # fmt: skip
        return out.frames[0].people[0].joints

    np.testing.assert_allclose(refined(truth[wrist])[wrist], truth[wrist], atol=1e-6)
    # a forearm 15 % longer than the mean (people differ) passes too
    longer = truth[elbow] + 1.15 * (truth[wrist] - truth[elbow])
    network[wrist] = longer + [0.0, -0.5, 0.0]
    np.testing.assert_allclose(refined(longer)[wrist], longer, atol=1e-6)
    network[wrist] = truth[wrist] + [0.0, -0.5, 0.0]
    np.testing.assert_allclose(
        refined(truth[wrist], RefineConfig(proportion_slack=0))[wrist], network[wrist]
    )
    long = truth[elbow] + 1.5 * (truth[wrist] - truth[elbow])  # 0.13 m off, far from the network's
    assert np.linalg.norm(long - network[wrist]) > RefineConfig().max_shift
    assert not np.allclose(refined(long)[wrist], long, atol=1e-3)
    with pytest.raises(InputError, match="proportion_slack"):
        RefineConfig(proportion_slack=1.0)


def test_real_face_proportions_vouch_for_a_far_head_of_a_person_seen_once():
    """A single frame: the network's eyes and ears are 0.35 m off (a head placed a voxel or more
    wrong), two views agree where they are. The nose holds; real faces' eye and ear distances from
    it vouch for the two views' points, walking nose → eyes → ears. Without real proportions the
    network's face stays."""
    cams = rig()
    truth = _proportioned_pose(1.7)
    face = [PAN.index(n) for n in ("l_eye", "r_eye", "l_ear", "r_ear")]
    network = truth.copy()
    network[face] += [0.0, 0.35, 0.0]
    dets = _detections(cams, [truth])
    for k, name in enumerate(cams):
        dets[name][0, face, 2] = 0.9 if k < 2 else 0.0  # two views see the face
    tracks = Tracks(joint_names=PAN.joints, frames=(FramePoses(0, (PersonPose(0, network, None),)),))  # fmt: skip

    def refined(config: RefineConfig) -> np.ndarray:
        out = refine_tracks(tracks, {0: (dets, cams)}, detections_joint_set="panoptic19",
                            joint_set="panoptic19", config=config)  # fmt: skip
        return out.frames[0].people[0].joints

    np.testing.assert_allclose(refined(RefineConfig())[face], truth[face], atol=1e-6)
    np.testing.assert_allclose(refined(RefineConfig(proportion_slack=0))[face], network[face])
