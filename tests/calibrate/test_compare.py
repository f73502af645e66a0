from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from tessetrack.calibrate.compare import compare_rigs, umeyama
from tessetrack.geometry.camera import Camera


def test_umeyama_recovers_a_similarity(rng):
    a = rng.normal(size=(6, 3))
    Q = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    b = 2.5 * a @ Q.T + np.array([1.0, -2.0, 0.5])
    sim = umeyama(a, b)
    assert abs(sim.scale - 2.5) < 1e-9
    np.testing.assert_allclose(sim.R, Q, atol=1e-9)
    np.testing.assert_allclose(sim.shift, [1.0, -2.0, 0.5], atol=1e-9)


def test_compare_rigs_after_a_similarity_is_exact_and_sees_a_tilt():
    """A rig scaled by 2 and moved compares as equal (0°, 0 m after alignment, distance ratio 2);
    one camera turned by 3° shows exactly that angle."""
    K = np.diag([1000.0, 1000.0, 1.0])
    ref, ours = {}, {}
    Q = Rotation.from_rotvec([0.0, 0.0, 0.7]).as_matrix()
    for i in range(4):
        R = Rotation.from_rotvec([0.1 * i, 0.2, -0.1 * i]).as_matrix()
        c = np.array([np.cos(i), np.sin(i), 1.5]) * 3
        ref[str(i)] = Camera(str(i), K, R, -R @ c)
        c2 = 2 * Q @ c + np.array([1.0, 2.0, 3.0])  # x_ours = 2 Q x_ref + d
        R2 = R @ Q.T
        if i == 3:
            R2 = Rotation.from_rotvec([0.0, np.radians(3.0), 0.0]).as_matrix() @ R2
        ours[str(i)] = Camera(str(i), K, R2, -R2 @ c2)
    result = compare_rigs(ours, ref)
    assert abs(result.distance_ratio - 2.0) < 1e-9
    assert max(result.centre_m.values()) < 1e-9
    np.testing.assert_allclose(
        [result.rotation_deg[str(i)] for i in range(3)], 0.0, atol=1e-4
    )  # arccos near 1 loses digits
    assert abs(result.rotation_deg["3"] - 3.0) < 1e-4


def test_rotation_angle_is_exact_near_zero_and_at_any_angle(rng):
    """A rotation stored to 7 digits reads as 0° (arccos of the trace alone read 0.02-0.07°); any
    other angle as scipy's rotation vector gives it."""
    from tessetrack.calibrate.compare import rotation_deg

    R = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
    rounded = np.round(R, 7)
    assert rotation_deg(rounded @ R.T) < 1e-3
    for angle in (1e-3, 0.5, 3.0, 90.0, 179.0):
        axis = rng.normal(size=3)
        turn = Rotation.from_rotvec(np.radians(angle) * axis / np.linalg.norm(axis))
        assert abs(rotation_deg(turn.as_matrix()) - angle) < 1e-6
