"""One person found twice in an image is kept once; distinct people, even close ones, stay."""

from __future__ import annotations

import numpy as np

from tessetrack.ops.duplicates import distinct_people, person_sizes, same_people


def _person(rng, offset=(0.0, 0.0), confidence=0.9, joints=25):
    uv = rng.uniform(0.0, 300.0, (joints, 2)) + np.asarray(offset)
    return np.concatenate([uv, np.full((joints, 1), confidence)], 1)


def test_person_sizes_by_hand():
    p = np.zeros((2, 4, 3))
    p[0, :, :2] = [[10, 20], [40, 20], [10, 120], [500, 500]]
    p[0, :, 2] = [0.9, 0.9, 0.9, 0.1]  # the far joint is not confident
    p[1, 0] = [5, 5, 0.9]  # one confident joint: no size
    assert person_sizes(p, 0.3).tolist() == [100.0, 1.0]


def test_a_copy_is_dropped_and_the_more_confident_stays(rng):
    a = _person(rng)
    copy = a.copy()
    copy[:, :2] += rng.normal(0.0, 3.0, copy[:, :2].shape)  # ~1.5 % of its 300 px size
    copy[:, 2] = 0.6
    other = _person(rng, offset=(250.0, 0.0))
    assert distinct_people(np.stack([copy, a, other])).tolist() == [False, True, True]
    assert distinct_people(np.stack([copy, a, other]), gate=0.0).all()


def test_the_median_over_the_joints_both_show_decides(rng):
    a = _person(rng)
    b = a.copy()
    b[:, 0] += 40.0  # 40 px off at every joint: 13 % of the size, two people side by side
    assert distinct_people(np.stack([a, b])).all()
    assert distinct_people(np.stack([a, b]), gate=0.2).tolist() == [True, False]
    # 12 of 25 joints far off (a person whose arms differ): the median still says "same"
    c = a.copy()
    c[:12, :2] += 200.0
    c[:, 2] = 0.5
    assert distinct_people(np.stack([a, c])).tolist() == [True, False]
    # joints one of them does not show are not compared; fewer than min_joints in common: kept
    d = a.copy()
    d[:, 2] = 0.0
    d[:4, 2] = 0.5
    assert distinct_people(np.stack([a, d])).all()
    assert distinct_people(np.stack([a, d]), min_joints=4).tolist() == [True, False]


def test_edge_cases(rng):
    assert distinct_people(np.zeros((0, 25, 3))).shape == (0,)
    assert distinct_people(_person(rng)[None]).tolist() == [True]
    assert distinct_people(np.zeros((2, 0, 3))).tolist() == [True, True]
    a = _person(rng)
    copy = a.copy()
    copy[:, 2] = 0.5
    copy[3, :2] = np.nan  # a joint without coordinates is not compared, the others still are
    assert distinct_people(np.stack([a, copy])).tolist() == [True, False]
    assert np.isfinite(person_sizes(copy[None], 0.3)).all()


def test_agrees_with_a_plain_loop(rng):
    for _ in range(20):
        people = np.stack([_person(rng, joints=8) for _ in range(4)])
        people[1, :, :2] = people[0, :, :2] + rng.normal(0.0, 20.0, (8, 2))
        people[..., 2] = rng.choice([0.1, 0.5, 0.9], people.shape[:2])
        keep = distinct_people(people, min_joints=3)
        expect = np.ones(4, dtype=bool)
        kept: list[int] = []
        for i in np.argsort(-people[..., 2].mean(-1), kind="stable"):
            for k in kept:
                both = (people[i, :, 2] >= 0.3) & (people[k, :, 2] >= 0.3)
                if both.sum() < 3:
                    continue
                med = np.median(np.linalg.norm(people[i, both, :2] - people[k, both, :2], axis=-1))
                size = max(person_sizes(people[[i, k]], 0.3))
                if med < 0.1 * size:
                    expect[i] = False
                    break
            if expect[i]:
                kept.append(i)
        assert keep.tolist() == expect.tolist()


def test_same_people_between_two_groups(rng):
    a, b = _person(rng), _person(rng, offset=(400.0, 0.0))
    near = a.copy()
    near[:, :2] += 6.0  # 8.5 px: 3 % of the size
    apart = a.copy()
    apart[:, 0] += 40.0  # 13 %: somebody beside a
    got = same_people(np.stack([a, b]), np.stack([apart, near, b]))
    np.testing.assert_array_equal(got, [[False, True, False], [False, False, True]])
    assert same_people(np.stack([a, b]), np.stack([near]), gate=0.0).shape == (2, 1)
    assert not same_people(np.stack([a]), np.stack([near]), gate=0.0).any()
    assert same_people(np.zeros((0, 25, 3)), a[None]).shape == (0, 1)
