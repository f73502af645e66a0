from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from tessetrack.errors import ConfigError
from tessetrack.tracking.online import (
    Observation,
    OnlineTracker,
    TrackerConfig,
    pose_distance_link,
)


class DotProductMatcher(torch.nn.Module):
    """Stub learned matcher: mutual argmax of descriptor dot products above a threshold."""

    def forward(self, d0, d1, m0, m1):
        s = torch.einsum("bnd,bmd->bnm", d0, d1)
        best1 = s.argmax(-1)
        best0 = s.argmax(-2)
        n = torch.arange(s.shape[1])
        mutual = best0.gather(1, best1) == n[None]
        ok = mutual & (s.max(-1).values > 0.5)

        class Out:
            matches0 = torch.where(ok, best1, torch.full_like(best1, -1))

        return Out()


def _pose(center: np.ndarray) -> np.ndarray:
    return center[None, :] + np.linspace(0, 1, 19)[:, None] * np.array([0.0, 0.0, 1.7])


def test_pose_distance_link_refused_pair_cannot_push_an_accepted_one_aside():
    # gate 0.5 m: A at x=0, B at x=1; then X at 0.45, Y at -0.6. Only A-X passes the gate;
    # unclamped costs would choose A-Y + B-X (both refused) and link nobody.
    link = pose_distance_link(max_distance=0.5)
    prev = [Observation(_pose(np.array([x, 0.0, 0.0]))) for x in (0.0, 1.0)]
    cur = [Observation(_pose(np.array([x, 0.0, 0.0]))) for x in (0.45, -0.6)]
    assert link(prev, cur).tolist() == [0, -1]
    no_gate = pose_distance_link(max_distance=float("inf"))
    assert no_gate(prev, cur).tolist() == [1, 0]  # A-Y + B-X is the cheaper total
    unknown = [Observation(np.full((19, 3), np.nan)), cur[1]]  # a pose with no joint known
    assert no_gate(prev, unknown).tolist() == [1, -1]  # no joint in common: never linked


def test_ids_survive_a_crossing_with_identity_descriptors():
    from tessetrack.tracking.online import descriptor_link

    # Two people walk towards each other along x and pass through the same point at frame 10.
    # Their (stub) descriptors encode identity, so the learned link keeps the IDs, while
    # the pose-distance link alone cannot know who is who at the crossing.
    id_desc = torch.eye(2)
    tracker = OnlineTracker(descriptor_link(DotProductMatcher()), TrackerConfig(max_gap=5))
    ids_of_a, ids_of_b = set(), set()
    for f in range(21):
        xa, xb = -1.0 + 0.1 * f, 1.0 - 0.1 * f
        obs = [
            Observation(_pose(np.array([xb, 0, 0])), descriptor=id_desc[1]),  # order shuffled
            Observation(_pose(np.array([xa, 0, 0])), descriptor=id_desc[0]),
        ]
        out = tracker.update(f, obs)
        assert len(out.people) == 2
        if f == 10:  # both at x = 0: positions cannot tell them apart
            continue
        for p in out.people:
            (ids_of_a if np.isclose(p.joints[0, 0], xa) else ids_of_b).add(p.id)
    # Each person kept one ID over all 21 frames, and the two IDs differ.
    assert len(ids_of_a) == 1 and len(ids_of_b) == 1 and ids_of_a != ids_of_b


def test_distance_gate_stops_the_learned_link_swapping_far_people():
    """Two people 3 m apart with swapped (stub) descriptors: ungated, the learned link swaps their
    IDs; gated at 0.5 m between detected centres, each keeps its own."""
    from tessetrack.model.matcher import LearnedMatcher
    from tessetrack.tracking.online import descriptor_link

    torch.manual_seed(0)
    matcher = LearnedMatcher(dim=4, heads=2, layers=2, sinkhorn_iters=50).eval()
    for p in matcher.gnn.parameters():  # an identity GNN: scores are the descriptor dot products
        torch.nn.init.zeros_(p)
    matcher.gnn.final_proj.weight.data = 4.0 * torch.eye(4)
    a, b = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([3.0, 0.0, 1.0])
    da, db = torch.eye(4)[0], torch.eye(4)[1]
    prev = [Observation(_pose(a.numpy()), descriptor=da, position=a),
            Observation(_pose(b.numpy()), descriptor=db, position=b)]  # fmt: skip
    step = torch.tensor([0.05, 0.0, 0.0])
    cur = [Observation(_pose((a + step).numpy()), descriptor=db, position=a + step),
           Observation(_pose((b + step).numpy()), descriptor=da, position=b + step)]  # fmt: skip
    assert descriptor_link(matcher)(prev, cur).tolist() == [1, 0]  # swapped by the descriptors
    assert descriptor_link(matcher, 0.5)(prev, cur).tolist() == [0, 1]
    with pytest.raises(ValueError, match="needs a position"):
        descriptor_link(matcher, 0.5)([Observation(_pose(a.numpy()), descriptor=da)], cur)


def test_births_deaths_and_reidentification_within_gap():
    tracker = OnlineTracker(pose_distance_link(max_distance=0.3), TrackerConfig(max_gap=3))
    a = _pose(np.zeros(3))
    b = _pose(np.array([3.0, 0, 0]))
    assert [p.id for p in tracker.update(0, [Observation(a)]).people] == [0]
    assert [p.id for p in tracker.update(1, [Observation(a), Observation(b)]).people] == [
        0,
        1,
    ]  # birth
    tracker.update(2, [Observation(b)])  # a missed at frame 2 ...
    assert [p.id for p in tracker.update(4, [Observation(a), Observation(b)]).people] == [
        0,
        1,
    ]  # ... re-identified (gap 3)
    tracker.update(5, [Observation(b)])
    # a unseen since frame 4: at frame 8 the gap is 4 > 3, so its track has ended and a new ID is born.
    assert [p.id for p in tracker.update(8, [Observation(a), Observation(b)]).people] == [1, 2]


def _ids_of_one_person_with_a_duplicate(cascade: bool) -> list[int]:
    """Frame 0: one person detected twice, 10 cm apart (tracks 0 and 1); then one observation per
    frame, alternately nearer the duplicate's last position and the person's."""
    tracker = OnlineTracker(pose_distance_link(max_distance=0.3), TrackerConfig(cascade=cascade))
    x = lambda v: Observation(_pose(np.array([v, 0.0, 0.0])))  # noqa: E731
    tracker.update(0, [x(0.0), x(0.1)])
    return [tracker.update(f, [x(v)]).people[0].id for f, v in enumerate([0.09, 0.02, 0.08], 1)]


def test_cascade_links_the_most_recently_seen_track_first():
    # one matching over all tracks: the lone observation goes to whichever track's last pose is
    # nearest, so the ID flips between the person's track and its duplicate's
    assert _ids_of_one_person_with_a_duplicate(cascade=False) == [1, 0, 1]
    # the cascade offers it to the track seen at the previous frame first: one stable ID
    assert _ids_of_one_person_with_a_duplicate(cascade=True) == [1, 1, 1]


def test_cascade_falls_back_to_older_tracks_for_what_is_left():
    """Re-identification still works: an observation the recent tracks do not take is matched
    against the tracks lost longer (here within max_gap 3), not born."""
    tracker = OnlineTracker(pose_distance_link(max_distance=0.3), TrackerConfig(cascade=True))
    a, b = _pose(np.zeros(3)), _pose(np.array([3.0, 0, 0]))
    tracker.update(0, [Observation(a), Observation(b)])
    tracker.update(1, [Observation(b)])  # a missed
    assert [p.id for p in tracker.update(3, [Observation(a), Observation(b)]).people] == [0, 1]


def test_empty_frames_and_low_scores():
    tracker = OnlineTracker(pose_distance_link(), TrackerConfig(min_detection_score=0.5))
    assert tracker.update(0, []).people == ()
    out = tracker.update(1, [Observation(_pose(np.zeros(3)), detection_score=0.2)])
    assert out.people == ()
    with pytest.raises(ValueError, match="frames must increase"):
        tracker.update(1, [])


def test_bad_config_is_refused():
    with pytest.raises(ConfigError, match="max_gap"):
        TrackerConfig(max_gap=-1)
    with pytest.raises(ConfigError, match="tracker.link must be one of model, hungarian"):
        TrackerConfig(link="nearest")


def test_memory_stays_constant_on_a_long_stream():
    # 5000 frames of a cheap stub input: 3 people that come and go; the tracker must not grow.
    rng = np.random.default_rng(0)
    tracker = OnlineTracker(
        pose_distance_link(max_distance=0.3), TrackerConfig(max_gap=10, history=5)
    )
    tracemalloc.start()
    sizes = []
    for f in range(5000):
        n = int(rng.integers(0, 4))
        obs = [Observation(_pose(np.array([2.0 * k + 0.001 * (f % 50), 0, 0]))) for k in range(n)]
        tracker.update(f, obs)
        if f in (1000, 4999):
            sizes.append(tracemalloc.get_traced_memory()[0])
        assert (
            len(tracker.tracks) <= 3 + 3 * 10
        )  # at most the live people plus births within the gap
        assert all(len(t.history) <= 5 for t in tracker.tracks)
    tracemalloc.stop()
    # Allocation at frame 4999 vs frame 1000: no growth beyond a few kB of noise.
    assert sizes[1] - sizes[0] < 50_000
