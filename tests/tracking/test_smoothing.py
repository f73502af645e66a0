"""Smoothing of tracks. One-Euro: jitter of a still joint cut, the lag on a walking joint measured
and small, unknown joints and gaps handled, tracks kept apart. LOESS: jitter cut, walking and
accelerating joints followed without lag, no window across a jump to another person, a wrong
frame and a low-scored joint weigh little, unknown joints and gaps handled."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.tracking.smoothing import (
    LoessConfig,
    OneEuroConfig,
    _cuts,
    loess_fit,
    loess_tracks,
    smooth,
    smooth_tracks,
)


def _tracks(positions: np.ndarray, fps: float = 30.0, ids=(0,), scores=None) -> Tracks:
    """positions (T, N, J, 3) → tracks of N people over T frames (scores (T, N, J) or None)."""
    frames = tuple(FramePoses(t, tuple(
        PersonPose(i, positions[t, k], None if scores is None else scores[t, k])
        for k, i in enumerate(ids))) for t in range(len(positions)))  # fmt: skip
    return Tracks(
        joint_names=tuple(f"j{j}" for j in range(positions.shape[2])), frames=frames, fps=fps
    )


def _joints(tracks: Tracks, person: int = 0) -> np.ndarray:
    return np.stack([f.people[person].joints for f in tracks.frames])


def test_still_joint_jitter_is_cut():
    rng = np.random.default_rng(0)
    noisy = 1.0 + rng.normal(0, 0.01, (300, 1, 2, 3))  # 1 cm jitter
    out = _joints(smooth_tracks(_tracks(noisy)))
    assert np.std(out[50:] - 1.0) < 0.4 * np.std(noisy[50:] - 1.0)


def test_lag_on_a_walking_joint_is_measured_small():
    t = np.arange(300) / 30.0
    walk = np.zeros((300, 1, 1, 3))
    walk[..., 0] = 1.4 * t[:, None, None]  # 1.4 m/s along x
    out = _joints(smooth_tracks(_tracks(walk)))[:, 0, 0]
    lag_frames = float(np.median((walk[100:, 0, 0, 0] - out[100:]) / (1.4 / 30.0)))
    assert 0 < lag_frames < 1.2  # measured: 0.6 frames at walking speed (jitter: 38 % left)
    # a heavier filter lags more
    slow = _joints(smooth_tracks(_tracks(walk), OneEuroConfig(min_cutoff=0.2, beta=0.0)))[:, 0, 0]
    assert np.median(walk[100:, 0, 0, 0] - slow[100:]) > 3 * np.median(
        walk[100:, 0, 0, 0] - out[100:]
    )


def _gappy() -> Tracks:
    """Two still people 5 m apart over 20 frames: person 0's second joint unknown at frame 7,
    person 0 missed at frame 10, nobody at frame 12."""
    pos = np.ones((20, 2, 2, 3))
    pos[:, 1] += 5.0
    pos[7, 0, 1] = np.nan
    tr = _tracks(pos, ids=(0, 1))
    frames = list(tr.frames)
    frames[10] = FramePoses(10, frames[10].people[1:])
    frames[12] = FramePoses(12, ())
    return Tracks(joint_names=tr.joint_names, frames=tuple(frames), fps=30.0)


def test_unknown_joints_gaps_and_other_tracks():
    out = smooth_tracks(_gappy())
    assert np.isnan(out.frames[7].people[0].joints[1]).all()  # unknown stays unknown
    for f in out.frames:
        for p in f.people:
            np.testing.assert_allclose(p.joints[np.isfinite(p.joints)], 1.0 + 5.0 * p.id)


def test_bad_settings():
    with pytest.raises(InputError):
        OneEuroConfig(min_cutoff=0.0)


def _fit(x: np.ndarray, scores: np.ndarray | None = None, frames=None, **kw) -> np.ndarray:
    """loess_fit of one track (F, J, 3) at 30 frames/s."""
    frames = np.arange(len(x)) if frames is None else np.asarray(frames)
    scores = np.ones(x.shape[:2]) if scores is None else scores
    return loess_fit(frames, x, scores, 30.0, LoessConfig(**kw))


def test_loess_cuts_jitter():
    rng = np.random.default_rng(0)
    noisy = 1.0 + rng.normal(0, 0.01, (300, 1, 2, 3))  # 1 cm jitter
    tracks = _tracks(noisy)
    loess = np.std(_joints(loess_tracks(tracks))[50:] - 1.0)
    euro = np.std(_joints(smooth_tracks(tracks))[50:] - 1.0)
    assert loess < 0.6 * np.std(noisy[50:] - 1.0)  # measured: 0.49 (One-Euro: 0.38, with lag)
    assert loess < euro * 1.5  # and no lag (below): One-Euro trades lag for its lower jitter


def test_loess_follows_walking_and_accelerating_joints_without_lag():
    t = np.arange(120) / 30.0
    walk = np.zeros((120, 1, 3))
    walk[:, 0, 0] = 1.4 * t  # 1.4 m/s
    np.testing.assert_allclose(_fit(walk), walk, atol=1e-4)  # every frame, the ends too
    fall = np.zeros((120, 1, 3))
    fall[:, 0, 2] = 2.0 - 0.5 * 9.81 * t**2 / 4  # constant acceleration
    np.testing.assert_allclose(_fit(fall)[6:-6], fall[6:-6], atol=1e-4)
    swing = np.zeros((120, 1, 3))
    swing[:, 0, 0] = 0.3 * np.sin(2 * np.pi * 1.0 * t)  # an arm swinging once a second
    assert np.abs(_fit(swing) - swing).max() < 0.005  # a window of ±0.2 s, a quadratic in it


def test_loess_does_not_reach_across_a_jump_to_another_person():
    x = np.zeros((20, 2, 3))
    x[10:, :, 0] = 3.0  # the track jumps 3 m in one frame (90 m/s)
    np.testing.assert_allclose(_fit(x), x, atol=1e-9)
    # the same step spread over 20 frames is motion, and smoothed
    slow = np.zeros((20, 2, 3))
    slow[:, :, 0] = np.minimum(np.arange(20), 10)[:, None] * 0.3  # 9 m/s, then still
    assert np.abs(_fit(slow)[9:12] - slow[9:12]).max() > 0.01


def test_loess_a_wrong_frame_barely_moves_its_neighbours():
    rng = np.random.default_rng(1)
    x = 1.0 + rng.normal(0, 0.005, (40, 3, 3))
    truth = x.copy()
    x[20, 1] += 0.5  # one joint 0.5 m off in one frame
    out, plain = _fit(x), _fit(x, robust=0)
    clean = _fit(truth)
    # the neighbours differ from the clean fit only by the sample they lost (5 mm jitter)
    assert np.abs(out[[18, 19, 21, 22], 1] - clean[[18, 19, 21, 22], 1]).max() < 0.005
    assert np.abs(plain[[19, 21], 1] - clean[[19, 21], 1]).max() > 0.05  # without reweighting
    assert np.linalg.norm(out[20, 1] - 1.0) < 0.03  # the wrong frame comes back to the path


def test_loess_weighs_joints_by_their_scores():
    x = np.zeros((30, 1, 3))
    x[15, 0, 0] = 0.08  # 8 cm off: within the outlier limit, so only the score tells
    low = np.ones((30, 1))
    low[15] = 0.0
    moved_low = np.abs(_fit(x, low)[15, 0, 0])
    moved_high = np.abs(_fit(x)[15, 0, 0])
    assert moved_low < 0.01 < moved_high
    assert moved_low < 0.25 * moved_high


def test_loess_unknown_joints_gaps_short_tracks_and_other_tracks():
    tracks = _gappy()
    out = loess_tracks(tracks)
    assert [len(f.people) for f in out.frames] == [len(f.people) for f in tracks.frames]
    assert np.isnan(out.frames[7].people[0].joints[1]).all()  # unknown stays unknown
    for f in out.frames:
        for p in f.people:
            np.testing.assert_allclose(p.joints[np.isfinite(p.joints)], 1.0 + 5.0 * p.id)
    one = _fit(np.full((1, 2, 3), 2.0))
    np.testing.assert_allclose(one, 2.0, atol=1e-9)  # a one-frame track is left as it is
    two = _fit(np.stack([np.zeros((2, 3)), np.ones((2, 3))]), frames=[0, 30])
    np.testing.assert_allclose(two, [np.zeros((2, 3)), np.ones((2, 3))], atol=1e-4)  # a line


@pytest.mark.parametrize("stride", [2, 3, 5])
def test_loess_smooths_strided_tracks_too(stride):
    # --stride keeps the input's frame ids and fps: the window widens to hold 7 samples
    rng = np.random.default_rng(3)
    frames = np.arange(200) * stride
    noisy = 1.0 + rng.normal(0, 0.01, (200, 2, 3))
    out = _fit(noisy, frames=frames)
    assert np.std(out[20:-20] - 1.0) < 0.8 * np.std(noisy[20:-20] - 1.0)
    walk = np.zeros((200, 1, 3))
    walk[:, 0, 0] = 1.4 * frames / 30.0
    np.testing.assert_allclose(_fit(walk, frames=frames), walk, atol=1e-3)


def test_loess_window_is_in_seconds():
    pos = 1.0 + np.random.default_rng(4).normal(0, 0.01, (60, 1, 1, 3))
    unknown, thirty, sixty = (
        _joints(loess_tracks(_tracks(pos, fps=f))) for f in (None, 30.0, 60.0)
    )
    np.testing.assert_array_equal(unknown, thirty)  # no frame rate: 30 frames/s
    assert np.std(sixty - 1.0) < np.std(thirty - 1.0)  # ±0.2 s holds more frames at 60 frames/s


def test_loess_cuts_only_where_the_body_jumps():
    x = np.zeros((12, 4, 3))
    x[:, :, 0] = 0.1 * np.arange(12)[:, None]  # 3 m/s
    cuts = lambda j, f=None: _cuts(np.arange(12) if f is None else f, j, 30.0, 10.0)  # noqa: E731
    assert cuts(x).tolist() == [0] * 12
    gap = np.array([0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14])  # 3 frames missed at 3 m/s
    assert cuts(0.1 * gap[:, None, None] * np.array([1, 0, 0]) + 0 * x, gap).tolist() == [0] * 12
    half = x.copy()
    half[5, 2:] = np.nan  # the legs unknown for a frame: no jump
    half[6, :2] = np.nan
    assert cuts(half).tolist() == [0] * 12
    hidden = x.copy()
    hidden[6:, :, 0] += 3.0  # another person, 3 m on, after a frame that knows no joint
    hidden[5] = np.nan
    assert cuts(hidden).tolist() == [0] * 6 + [1] * 6


def test_loess_refuses_frames_out_of_order_and_no_frame_rate():
    x = np.zeros((3, 1, 3))
    for frames in ([0, 2, 1], [0, 1, 1]):
        with pytest.raises(InputError, match="distinct and increasing"):
            loess_fit(np.array(frames), x, np.ones((3, 1)), 30.0)
    with pytest.raises(InputError, match="fps"):
        loess_fit(np.arange(3), x, np.ones((3, 1)), 0.0)


def test_smooth_picks_the_mode():
    pos = 1.0 + np.random.default_rng(2).normal(0, 0.01, (30, 1, 1, 3))
    tr = _tracks(pos)
    assert smooth(tr, "none") is tr
    np.testing.assert_array_equal(_joints(smooth(tr, "loess")), _joints(loess_tracks(tr)))
    np.testing.assert_array_equal(_joints(smooth(tr, "one-euro")), _joints(smooth_tracks(tr)))
    with pytest.raises(InputError, match="unknown smoothing 'kalman'"):
        smooth(tr, "kalman")


@pytest.mark.parametrize(
    "bad", [{"span": 0.0}, {"degree": 3}, {"robust": -1}, {"min_weight": 0.0}, {"outlier": -1.0}]
)
def test_loess_bad_settings(bad):
    with pytest.raises(InputError):
        LoessConfig(**bad)
