"""Scene composition: determinism, presence intervals, no interpenetration."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.synth.motion import CLIP_SPLITS, load_clip, load_skeleton
from tessetrack.synth.scene import SceneConfig, first_conflict, generate_scene

AREA = dict(area_center=np.zeros(2), area_half_size=np.array([2.0, 2.0]))


def _scene(seed: int, **kw):
    clips = [load_clip(n) for n in CLIP_SPLITS["train"]]
    cfg = SceneConfig(**{"num_people": 8, "num_frames": 150, **kw})
    return generate_scene(cfg, clips, load_skeleton(), np.random.default_rng(seed), **AREA)


def test_deterministic_per_seed() -> None:
    a, b, c = _scene(1), _scene(1), _scene(2)
    np.testing.assert_array_equal(a.joints, b.joints)
    np.testing.assert_array_equal(a.present, b.present)
    assert a.people == b.people
    assert a.joints.shape != c.joints.shape or not np.array_equal(a.joints, c.joints, True)


def test_eight_people_never_interpenetrate() -> None:
    s = _scene(5)
    assert s.num_people >= 6  # of 8 asked for, in a 4 m × 4 m area
    assert np.isnan(s.joints[~s.present]).all() and np.isfinite(s.joints[s.present]).all()
    for i in range(s.num_people):
        for k in range(i + 1, s.num_people):
            c = first_conflict(
                s.joints[:, i],
                s.present[:, i],
                s.joints[:, k],
                s.present[:, k],
                min_root_distance=0.5,
                min_joint_distance=0.1,
            )
            assert c == -1


def test_people_enter_and_leave() -> None:
    s = _scene(3, enter_leave_prob=1.0)
    counts = s.present.sum(0)
    assert (counts < s.num_frames).any()  # someone is absent part of the time
    assert (counts >= 60).all()  # min presence 2 s × 29.97 fps = 60 frames


def test_first_conflict_by_hand() -> None:
    a = np.zeros((3, 19, 3))
    b = np.zeros((3, 19, 3))
    b[:, :, 0] = [[2.0], [0.4], [0.3]]  # 2 m, then 0.4 m < 0.5 m apart
    both = np.ones(3, bool)
    kw = dict(min_root_distance=0.5, min_joint_distance=0.1)
    assert first_conflict(a, both, b, both, **kw) == 1
    assert first_conflict(a, np.array([True, False, False]), b, both, **kw) == -1


def test_bad_config() -> None:
    with pytest.raises(InputError):
        _scene(0, num_people=0)
    with pytest.raises(InputError):
        _scene(0, num_frames=0)
