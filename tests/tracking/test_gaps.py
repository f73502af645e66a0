"""Short misses of a track filled from the 2D evidence: two people walking, the tracker misses one of
them for a few frames; the fill gives back exactly the true poses with the right identities, and
leaves long gaps, people nobody tracks and people already tracked alone."""

from __future__ import annotations

import numpy as np
import pytest

from rig_helpers import PAN, cv_project, pose, rig
from tessetrack.errors import InputError
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.tracking.gaps import (
    GapConfig,
    _bridged,
    _strays,
    expected_centres,
    fill_gaps,
    refine_and_fill,
    stitch_tracks,
)
from tessetrack.tracking.refine import refine_tracks


def _scene(rng, frames: int = 12):
    """Two people 1.6 m apart walking +x at 3 cm per frame; every camera sees both."""
    cams = rig()
    base = [pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))]
    truth = {f: [b + [0.03 * f, 0, 0] for b in base] for f in range(frames)}
    data = {}
    for f, people in truth.items():
        dets = {n: np.stack([np.concatenate([cv_project(c, t), np.full((PAN.num_joints, 1), 0.9)], 1)
                             for t in people]) for n, c in cams.items()}  # fmt: skip
        data[f] = (dets, cams)
    return truth, data


def _tracks(truth, missing: dict[int, set[int]]) -> Tracks:
    frames = []
    for f, people in truth.items():
        kept = tuple(PersonPose(i, t, np.ones(PAN.num_joints)) for i, t in enumerate(people)
                     if i not in missing.get(f, set()))  # fmt: skip
        frames.append(FramePoses(f, kept))
    return Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=30.0)


def test_short_miss_filled_with_the_true_pose_and_identity(rng):
    truth, data = _scene(rng)
    missing = {4: {1}, 5: {1}, 6: {1, 0}}
    filled, added = fill_gaps(_tracks(truth, missing), data, detections_joint_set="panoptic19",
                              joint_set="panoptic19")  # fmt: skip
    assert added == 4
    for fp in filled.frames:
        assert sorted(p.id for p in fp.people) == [0, 1]
        for p in fp.people:
            np.testing.assert_allclose(p.joints, truth[fp.frame][p.id], atol=1e-6)
    p = next(p for p in filled.frames[5].people if p.id == 1)
    assert np.allclose(p.scores, 0.5)  # fill_score × all four views agree


def test_long_gaps_and_unknown_people_left_alone(rng):
    truth, data = _scene(rng)
    # person 1 missing in frames 2..9 (8 frames), person 0 never missing
    tracks = _tracks(truth, {f: {1} for f in range(2, 10)})
    out, added = fill_gaps(tracks, data, detections_joint_set="panoptic19", joint_set="panoptic19",
                           config=GapConfig(max_gap=5))  # fmt: skip
    # too long to bridge; each side is extended by up to 5 frames: 2..6 and 5..9 → all 8
    assert added == 8
    out, added = fill_gaps(tracks, data, detections_joint_set="panoptic19", joint_set="panoptic19",
                           config=GapConfig(max_gap=2))  # fmt: skip
    assert added == 4  # frames 2, 3 (after its sighting at 1) and 8, 9 (before the one at 10)
    # a person no track has is not invented
    only0 = _tracks(truth, {f: {1} for f in truth})
    _, added = fill_gaps(only0, data, detections_joint_set="panoptic19", joint_set="panoptic19")
    assert added == 0


def test_a_far_candidate_is_not_taken(rng):
    truth, data = _scene(rng)
    tracks = _tracks(truth, {5: {1}})
    moved = dict(data)
    dets, cams = data[5]
    # at frame 5 person 1's 2D evidence belongs to somebody 2 m away
    far = truth[5][1] + [0, 2.0, 0]
    moved[5] = ({n: np.stack([d[0], np.concatenate([cv_project(cams[n], far),
                                                      np.full((PAN.num_joints, 1), 0.9)], 1)])
                 for n, d in dets.items()}, cams)  # fmt: skip
    _, added = fill_gaps(tracks, moved, detections_joint_set="panoptic19", joint_set="panoptic19")
    assert added == 0


def test_expected_centres_interpolate():
    def person(i, x):
        j = np.zeros((PAN.num_joints, 3))
        j[:, 0] = x
        return PersonPose(i, j)

    tracks = Tracks(joint_names=PAN.joints, frames=(
        FramePoses(0, (person(0, 0.0),)), FramePoses(1, ()), FramePoses(2, ()),
        FramePoses(3, (person(0, 3.0),))))  # fmt: skip
    want = expected_centres(tracks, "panoptic19", max_gap=5)
    assert want[1][0][0][0] == pytest.approx(1.0) and want[1][0][1] == 1
    assert want[2][0][0][0] == pytest.approx(2.0)
    near = expected_centres(tracks, "panoptic19", max_gap=1)  # too long: the nearest sighting
    assert near[1][0][0][0] == pytest.approx(0.0) and near[2][0][0][0] == pytest.approx(3.0)
    assert expected_centres(tracks, "panoptic19", max_gap=0) == {}
    # only misses between two sightings: the 2-frame gap with max_gap 1 is not filled at all,
    # and a track seen at frames 0 and 3 is never extended past them
    assert expected_centres(tracks, "panoptic19", max_gap=1, extend_ends=False) == {}
    longer = Tracks(joint_names=PAN.joints, frames=(*tracks.frames, FramePoses(4, ())))
    assert 4 in expected_centres(longer, "panoptic19", max_gap=5)
    inner = expected_centres(longer, "panoptic19", max_gap=5, extend_ends=False)
    assert sorted(inner) == [1, 2] and inner[2][0][0][0] == pytest.approx(2.0)


def test_bad_settings():
    with pytest.raises(InputError):
        GapConfig(max_gap=-1)
    with pytest.raises(InputError):
        GapConfig(fill_score=0.0)
    with pytest.raises(InputError):
        GapConfig(stray=-1)


def test_a_filled_joint_off_the_body_is_left_unknown(rng):
    truth, data = _scene(rng)
    tracks = _tracks(truth, {5: {1}})
    dets, cams = data[5]
    wrong = truth[5][1].copy()
    wrong[8] += [0.0, 0.0, -0.8]  # l_ankle 0.8 m lower, consistently in every view
    moved = dict(data)
    moved[5] = ({n: np.stack([d[0], np.concatenate([cv_project(cams[n], wrong),
                                                      np.full((PAN.num_joints, 1), 0.9)], 1)])
                 for n, d in dets.items()}, cams)  # fmt: skip
    out, added = fill_gaps(tracks, moved, detections_joint_set="panoptic19", joint_set="panoptic19")
    assert added == 1
    p = next(p for p in out.frames[5].people if p.id == 1)
    assert np.isnan(p.joints[8]).all() and p.scores[8] == 0.0
    keep = np.arange(PAN.num_joints) != 8
    np.testing.assert_allclose(p.joints[keep], truth[5][1][keep], atol=1e-6)


def test_a_track_lost_and_found_again_under_a_new_id_is_joined(rng):
    """Person A walks +x at 3 cm a frame (30 fps): tracked as 0 up to frame 9, then as 5 from
    frame 12 and as 9 from frame 20 (two re-identifications the tracker missed). Person B, 1.6 m
    away, is 7 from frame 12: too far from where A was to be A. Track 8 overlaps track 0 in time:
    never joined to it. Joined: 5 and 9 into 0, nothing else."""
    a, b = pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))
    frames = []
    for f in range(30):
        people = []
        if f <= 9 or f >= 12:
            people.append(PersonPose(0 if f <= 9 else 5 if f < 20 else 9, a + [0.03 * f, 0, 0]))
        if f >= 12:
            people.append(PersonPose(7, b + [0.03 * f, 0, 0]))
        if 5 <= f <= 15:
            people.append(PersonPose(8, a + [0.03 * f, 0.6, 0]))
        frames.append(FramePoses(f, tuple(people)))
    tracks = Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=30.0)
    out, joined = stitch_tracks(tracks, "panoptic19")
    ids = {fp.frame: sorted(p.id for p in fp.people) for fp in out.frames}
    assert joined == 2
    assert ids[0] == [0] and ids[13] == [0, 7, 8] and ids[25] == [0, 7]
    # a longest miss of 1 frame: the 2-frame miss stays, the 5 -> 9 handover is still joined
    same, joined = stitch_tracks(tracks, "panoptic19", GapConfig(max_gap=1))
    assert joined == 1 and {p.id for fp in same.frames for p in fp.people} == {0, 5, 7, 8}


def test_two_tracks_taking_turns_on_one_person_are_joined(rng):
    """Person A walks +x at 3 cm a frame, tracked as 0 and 4 in turns (the tracker's matching
    flipping: 0 in frames 0-9 and 13, 4 in 10-12 and 14-20, no frame with both). Person B, 1.6 m
    away, is 1 throughout. Track 5 is a third person, C, 2 m from A, seen only in frames 21-25,
    right after A's last sighting: too far to be A. Joined: 4 into 0, nothing else."""
    a, b, c = pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3)), pose(rng, (-0.8, 2.0))
    frames = []
    for f in range(26):
        people = [PersonPose(1, b + [0.03 * f, 0, 0])]
        if f <= 20:
            people.append(PersonPose(0 if f <= 9 or f == 13 else 4, a + [0.03 * f, 0, 0]))
        else:
            people.append(PersonPose(5, c + [0.03 * f, 0, 0]))
        frames.append(FramePoses(f, tuple(people)))
    tracks = Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=30.0)
    out, joined = stitch_tracks(tracks, "panoptic19")
    assert joined == 1
    ids = {fp.frame: sorted(p.id for p in fp.people) for fp in out.frames}
    assert all(ids[f] == [0, 1] for f in range(21)) and ids[22] == [1, 5]
    # a hand-over further than a person can walk is refused even between tracks taking turns
    far = Tracks(joint_names=PAN.joints, frames=tuple(
        FramePoses(f, (PersonPose(0 if f % 2 else 4, (a if f % 2 else c) + [0.03 * f, 0, 0]),))
        for f in range(10)), fps=30.0)  # fmt: skip
    assert stitch_tracks(far, "panoptic19")[1] == 0


def test_two_tracks_that_could_each_continue_one_are_not_both_joined_to_it(rng):
    """A is 0 up to frame 9; from frame 11 both 3 (on A) and 6 (a double 10 cm off) could continue
    it, but they share frames: only the nearer, 3, joins 0."""
    a = pose(rng)
    frames = []
    for f in range(20):
        step = a + [0.03 * f, 0, 0]
        people = [PersonPose(0, step)] if f <= 9 else [] if f == 10 else [
            PersonPose(3, step), PersonPose(6, step + [0, 0.1, 0])]  # fmt: skip
        frames.append(FramePoses(f, tuple(people)))
    out, joined = stitch_tracks(Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=30.0),
                                "panoptic19")  # fmt: skip
    assert joined == 1
    assert sorted(p.id for p in out.frames[15].people) == [0, 6]


def _stray_scene(a, stray_offset: float) -> Tracks:
    """A walks +x at 3 cm a frame: track 0 in frames 0-9 and once more in frame 14, there
    ``stray_offset`` metres off A along y; track 3 on A from frame 14 on."""
    frames = []
    for f in range(25):
        step = a + [0.03 * f, 0, 0]
        people = [PersonPose(0, step)] if f <= 9 else []
        if f == 14:
            people.append(PersonPose(0, step + [0, stray_offset, 0]))
        if f >= 14:
            people.append(PersonPose(3, step))
        frames.append(FramePoses(f, tuple(people)))
    return Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=30.0)


def test_a_stray_last_pose_where_a_new_track_takes_the_person_on_is_dropped(rng):
    a = pose(rng)
    out, joined = stitch_tracks(_stray_scene(a, 0.5), "panoptic19")
    assert joined == 1
    ids = {fp.frame: [p.id for p in fp.people] for fp in out.frames}
    assert ids[9] == [0] and ids[14] == [0] and ids[20] == [0]
    kept = out.frames[14].people[0]
    np.testing.assert_allclose(kept.joints, a + [0.03 * 14, 0, 0])  # the new track's pose
    # the stray pose nearer where the person was last seen than the new track's: both stay
    near = _stray_scene(a, 0.0)
    near = Tracks(joint_names=PAN.joints, fps=30.0, frames=tuple(
        FramePoses(fp.frame, tuple(PersonPose(p.id, p.joints + ([0, 0.2, 0] if p.id == 3 else 0))
                                   for p in fp.people)) for fp in near.frames))  # fmt: skip
    assert stitch_tracks(near, "panoptic19")[1] == 0
    # without strays (stray=0) the shared frame keeps the two tracks apart
    assert stitch_tracks(_stray_scene(a, 0.5), "panoptic19", GapConfig(stray=0))[1] == 0


def test_tracks_sharing_more_than_a_stray_end_are_not_joined(rng):
    """Track 0 is on A in frames 0-9 and 0.5 m off in 14-16, which track 3 (on A from 14)
    covers too: three poses after the miss are more than ``stray`` (2), no join; with
    ``stray=3`` they are dropped and the tracks joined. Without the miss (track 0 in every
    frame up to 16) nothing is a stray end."""
    a = pose(rng)

    def scene(lost: bool) -> Tracks:
        frames = []
        for f in range(25):
            step = a + [0.03 * f, 0, 0]
            on = f <= 16 and not (lost and 10 <= f <= 13)
            people = [PersonPose(0, step + ([0, 0.5, 0] if f >= 14 else 0))] if on else []
            if f >= 14:
                people.append(PersonPose(3, step))
            frames.append(FramePoses(f, tuple(people)))
        return Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=30.0)

    assert stitch_tracks(scene(True), "panoptic19")[1] == 0
    out, joined = stitch_tracks(scene(True), "panoptic19", GapConfig(stray=3))
    assert joined == 1 and all(len(fp.people) == 1 for fp in out.frames if fp.frame >= 14)
    assert stitch_tracks(scene(False), "panoptic19", GapConfig(stray=3))[1] == 0


def test_refine_and_fill_follows_a_person_the_network_lost_between_two_tracks(rng):
    """A person walks 14 frames; only view 0 shows them at frames 5-7. The network tracks them
    as 0 up to frame 4, misses them in 5-7 and takes them on as 7 from frame 8, where 0 has one
    more, stray pose 0.5 m off. Joined before the refinement, the track is followed through 5-7
    from view 0 alone (the refinement's lost-track pairing, run again on the joined tracks) under
    one id, and the stray pose goes. Joining only the refined tracks leaves 5-7 empty (no two
    views to triangulate), and so does not joining."""
    cams = rig()
    names = list(cams)
    step = np.array([0.03, 0.01, 0.0])
    base = pose(rng)
    truth = [base + f * step for f in range(14)]
    frames = {}
    for f, t in enumerate(truth):
        dets = {n: np.concatenate([cv_project(c, t), np.full((PAN.num_joints, 1), 0.9)], 1)[None]
                for n, c in cams.items()}  # fmt: skip
        if 5 <= f <= 7:
            dets = {n: (d if n == names[0] else d[:0]) for n, d in dets.items()}
        frames[f] = (dets, cams)
    people = []
    for f, t in enumerate(truth):
        net = t + rng.normal(0, 0.02, t.shape)
        here = (PersonPose(0, net),) if f <= 4 else () if f <= 7 else (PersonPose(7, net),)
        if f == 8:
            here = (*here, PersonPose(0, net + [0.0, 0.5, 0.0]))
        people.append(FramePoses(f, here))
    tracks = Tracks(joint_names=PAN.joints, frames=tuple(people), fps=30.0)
    kw = {"detections_joint_set": "panoptic19", "joint_set": "panoptic19"}
    out, _ = refine_and_fill(tracks, frames, **kw)
    assert all([p.id for p in fp.people] == [0] for fp in out.frames)
    hip = PAN.index("mid_hip")
    for f in (5, 6, 7):
        assert np.linalg.norm(out.frames[f].people[0].joints[hip] - truth[f][hip]) < 1e-3
    late, _ = stitch_tracks(refine_tracks(tracks, frames, **kw), "panoptic19")
    assert [len(fp.people) for fp in late.frames][5:8] == [0, 0, 0]
    apart, _ = refine_and_fill(tracks, frames, gaps=GapConfig(stitch=False), **kw)
    assert [len(fp.people) for fp in apart.frames][5:8] == [0, 0, 0]


def test_strays_by_hand():
    assert _strays([0, 1, 2, 3, 6], True, 2) == {6}  # a miss of 2 frames before it
    assert _strays([0, 1, 2, 3, 5], True, 2) == set()  # a miss of 1 frame: no stray
    assert _strays([0, 1, 2, 3, 7, 8], True, 2) == {7, 8}
    assert _strays([0, 1, 2, 3, 7, 8, 9], True, 2) == set()  # more than ``most``
    assert _strays([0, 4], True, 2) == set()  # not fewer than the rest
    assert _strays([0, 5, 6, 7, 8], False, 2) == {0}
    assert _strays([-10, -6, -5, -4], False, 2) == {-10}
    assert _strays([0, 1, 2, 3, 6], True, 0) == set()


def test_a_stray_first_pose_of_a_later_track_is_dropped(rng):
    """A is 0 in frames 0-9 and 3 from frame 12; 3 has one stray pose at frame 5, 0.5 m off A,
    where 0 is on A: 3's stray pose goes and the two are joined."""
    a = pose(rng)
    frames = []
    for f in range(20):
        step = a + [0.03 * f, 0, 0]
        people = [PersonPose(0, step)] if f <= 9 else [PersonPose(3, step)] if f >= 12 else []
        if f == 5:
            people.append(PersonPose(3, step + [0, 0.5, 0]))
        frames.append(FramePoses(f, tuple(people)))
    out, joined = stitch_tracks(Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=30.0),
                                "panoptic19")  # fmt: skip
    assert joined == 1
    assert all([p.id for p in fp.people] == ([0] if fp.frame not in (10, 11) else [])
               for fp in out.frames)  # fmt: skip
    np.testing.assert_allclose(out.frames[5].people[0].joints, a + [0.15, 0, 0])


def test_bridged_by_hand(rng):
    """Track 0 is in frames 0, 1 and 4; the second refinement also has it in 2, 3 and 5, and
    track 1 (not joined) in 2. Added: 0 in frame 2 only (in 3 track 5 stands within 0.4 m of
    where it would go; 5 is after its last frame), and nothing of track 1."""
    a, b = pose(rng), pose(rng, (2.0, 0.0))

    def tracks(rows):
        return Tracks(joint_names=PAN.joints, fps=30.0, frames=tuple(
            FramePoses(f, tuple(PersonPose(i, a + [0.03 * f, 0, 0] + off) for i, off in rows.get(f, [])))
            for f in range(6)))  # fmt: skip

    first = tracks({0: [(0, 0)], 1: [(0, 0)], 3: [(5, [0, 0.2, 0])], 4: [(0, 0)]})
    again = tracks({f: [(0, 0)] for f in range(6)} | {2: [(0, 0), (1, b - a)]})
    out = _bridged(first, again, {0}, "panoptic19", 0.4)
    ids = {fp.frame: sorted(p.id for p in fp.people) for fp in out.frames}
    assert ids == {0: [0], 1: [0], 2: [0], 3: [5], 4: [0], 5: []}
