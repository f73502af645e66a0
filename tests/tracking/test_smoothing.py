"""One-Euro smoothing of tracks: jitter of a still joint cut, the lag on a walking joint measured
and small, unknown joints and gaps handled, tracks kept apart."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.tracking.smoothing import OneEuroConfig, smooth_tracks


def _tracks(positions: np.ndarray, fps: float = 30.0, ids=(0,)) -> Tracks:
    """positions (T, N, J, 3) → tracks of N people over T frames."""
    frames = tuple(FramePoses(t, tuple(PersonPose(i, positions[t, k]) for k, i in enumerate(ids)))
                   for t in range(len(positions)))  # fmt: skip
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


def test_unknown_joints_gaps_and_other_tracks():
    pos = np.ones((20, 2, 2, 3))
    pos[:, 1] += 5.0
    pos[7, 0, 1] = np.nan
    tr = _tracks(pos, ids=(0, 1))
    frames = list(tr.frames)
    frames[10] = FramePoses(10, frames[10].people[1:])  # person 0 missed once
    out = smooth_tracks(Tracks(joint_names=tr.joint_names, frames=tuple(frames), fps=30.0))
    assert np.isnan(out.frames[7].people[0].joints[1]).all()  # unknown stays unknown
    for f in out.frames:
        for p in f.people:
            np.testing.assert_allclose(p.joints[np.isfinite(p.joints)], 1.0 + 5.0 * p.id)


def test_bad_settings():
    with pytest.raises(InputError):
        OneEuroConfig(min_cutoff=0.0)
