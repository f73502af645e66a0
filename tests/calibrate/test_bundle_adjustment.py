from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from tessetrack.calibrate.bundle_adjustment import _sparsity, bundle_adjust, project
from tessetrack.calibrate.compare import umeyama


def test_project_by_hand():
    # identity pose, point (0.1, -0.2, 2): f0 · (0.05, -0.1) with f0 = 1000 -> (50, -100)
    uv = project(np.zeros((1, 3)), np.zeros((1, 3)), np.array([[0.1, -0.2, 2.0]]), 1000.0)
    np.testing.assert_allclose(uv, [[50.0, -100.0]])


def test_sparsity_pattern_by_hand():
    # 2 cameras (camera 0 held), 3 points; observation 1: camera 1, point 2
    m = _sparsity(2, 3, np.array([0, 1]), np.array([0, 2]), fixed_camera=0).toarray()
    assert m.shape == (4, 6 * 2 + 3 * 3)
    assert m[0, :12].sum() == 0 and m[0, 12:15].all()  # held camera: only its point's 3 columns
    assert m[2, 6:12].all() and m[2, 18:21].all() and m[2].sum() == 9


def test_bundle_adjustment_recovers_a_perturbed_rig(rng):
    """4 cameras on a circle looking at 200 points; poses and points perturbed; after the
    adjustment the reprojection is exact and the rig equals the truth up to a similarity."""
    V, N, f0 = 4, 200, 1000.0
    points = rng.uniform(-1, 1, (N, 3))
    rvecs, tvecs = np.zeros((V, 3)), np.zeros((V, 3))
    for v in range(V):
        angle = 2 * np.pi * v / V
        centre = 5 * np.array([np.cos(angle), np.sin(angle), 0.2])
        z = -centre / np.linalg.norm(centre)
        x = np.cross([0, 0, 1.0], z)
        x /= np.linalg.norm(x)
        R = np.stack([x, np.cross(z, x), z])
        rvecs[v], tvecs[v] = Rotation.from_matrix(R).as_rotvec(), -R @ centre
    cam_idx = np.repeat(np.arange(V), N)
    point_idx = np.tile(np.arange(N), V)
    uv = project(rvecs[cam_idx], tvecs[cam_idx], points[point_idx], f0)
    result = bundle_adjust(rvecs + np.r_[[[0, 0, 0]], rng.normal(0, 0.02, (V - 1, 3))],
                           tvecs + np.r_[[[0, 0, 0]], rng.normal(0, 0.1, (V - 1, 3))],
                           points + rng.normal(0, 0.05, points.shape), cam_idx, point_idx, uv,
                           np.ones(len(uv)), f0)  # fmt: skip
    assert np.abs(result.residuals).max() < 1e-3
    centres = [
        -Rotation.from_rotvec(r).as_matrix().T @ t
        for r, t in zip(result.rvecs, result.tvecs, strict=True)
    ]
    truth = [-Rotation.from_rotvec(r).as_matrix().T @ t for r, t in zip(rvecs, tvecs, strict=True)]
    sim = umeyama(np.array(centres), np.array(truth))
    aligned = sim.scale * np.array(centres) @ sim.R.T + sim.shift
    np.testing.assert_allclose(aligned, truth, atol=1e-4)


def test_bone_terms_keep_a_length_over_the_frames(rng):
    """Two points 0.4 apart moving through 40 frames, seen by 3 cameras with 3 px noise: with a
    bone term their distance varies far less over the frames (relative to its mean) than
    without, and the bone's length parameter is that mean; the rig comes out as well."""
    from tessetrack.calibrate.bundle_adjustment import BoneTerms

    V, F, f0 = 3, 40, 1000.0
    a = rng.uniform(-0.5, 0.5, (F, 3))
    direction = rng.normal(size=(F, 3))
    b = a + 0.4 * direction / np.linalg.norm(direction, axis=1, keepdims=True)
    points = np.concatenate([a, b])  # 2F×3: point f and F + f are the bone of frame f
    rvecs, tvecs = np.zeros((V, 3)), np.zeros((V, 3))
    for v in range(V):
        angle = 2 * np.pi * v / V
        centre = 4 * np.array([np.cos(angle), np.sin(angle), 0.3])
        z = -centre / np.linalg.norm(centre)
        x = np.cross([0, 0, 1.0], z)
        x /= np.linalg.norm(x)
        R = np.stack([x, np.cross(z, x), z])
        rvecs[v], tvecs[v] = Rotation.from_matrix(R).as_rotvec(), -R @ centre
    cam_idx = np.repeat(np.arange(V), 2 * F)
    point_idx = np.tile(np.arange(2 * F), V)
    uv = project(rvecs[cam_idx], tvecs[cam_idx], points[point_idx], f0)
    uv = uv + rng.normal(0, 3.0, uv.shape)
    bones = BoneTerms(np.arange(F), np.arange(F, 2 * F), np.zeros(F, dtype=np.int64), 0.02)
    spread = {}
    for name, terms in (("free", None), ("bones", bones)):
        result = bundle_adjust(rvecs, tvecs, points, cam_idx, point_idx, uv, np.ones(len(uv)),
                               f0, bones=terms)  # fmt: skip
        d = np.linalg.norm(result.points[:F] - result.points[F:], axis=1)
        spread[name] = d.std() / d.mean()
        if terms is not None:
            assert result.bone_lengths.shape == (1,)
            assert abs(result.bone_lengths[0] / np.median(d) - 1) < 0.01
    assert spread["bones"] < 0.3 * spread["free"], spread
