"""MPJPE / PA-MPJPE / 3D-PCK / pose matching against hand-computed values and slow references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tessetrack.errors import InputError
from tessetrack.eval.pose_metrics import (
    match_poses,
    mpjpe,
    pa_mpjpe,
    pck,
    procrustes_align,
    root_relative_mpjpe,
)
from tessetrack.skeletons import H36M17, PANOPTIC19


def test_mpjpe_hand_computed() -> None:
    gt = np.zeros((4, 3))
    pred = np.array([[0.03, 0.04, 0.0], [0.0, 0.0, 0.1], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # errors 50 mm (3-4-5), 100 mm, 0, 0 -> mean 150 / 4 = 37.5 mm
    assert mpjpe(pred, gt) == pytest.approx(37.5)
    # Masking the 100 mm joint: (50 + 0 + 0) / 3 = 16.67 mm
    assert mpjpe(pred, gt, visible=np.array([True, False, True, True])) == pytest.approx(50 / 3)
    # A NaN GT joint is left out the same way.
    gt_nan = gt.copy()
    gt_nan[1] = np.nan
    assert mpjpe(pred, gt_nan) == pytest.approx(50 / 3)


def test_root_relative_removes_translation(rng: np.random.Generator) -> None:
    gt = rng.normal(size=(5, PANOPTIC19.num_joints, 3))
    pred = gt + np.array([1.0, -2.0, 0.5])  # a pure shift: 1000+ mm absolute, 0 root-relative
    assert np.all(mpjpe(pred, gt) > 1000)
    np.testing.assert_allclose(root_relative_mpjpe(pred, gt), 0.0, atol=1e-9)
    # Only the root moves by 10 cm: root-relative error is 100 mm for the 18 other joints, 0 at the root.
    pred = gt.copy()
    pred[:, PANOPTIC19.index("mid_hip"), 2] += 0.1
    np.testing.assert_allclose(root_relative_mpjpe(pred, gt), 100.0 * 18 / 19)
    h = rng.normal(size=(H36M17.num_joints, 3))
    assert root_relative_mpjpe(h + 3.0, h, joint_set="h36m17") == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(InputError, match="no default root joint"):
        root_relative_mpjpe(gt[:, :14], gt[:, :14], joint_set="shelf14")


def test_pa_mpjpe_invariant_to_similarity(rng: np.random.Generator) -> None:
    gt = rng.normal(size=(6, 17, 3))
    R = Rotation.random(6, random_state=1).as_matrix()  # 6×3×3
    pred = 1.7 * np.einsum("pik,pjk->pji", R, gt) + rng.normal(size=(6, 1, 3))
    np.testing.assert_allclose(pa_mpjpe(pred, gt), 0.0, atol=1e-9)
    # A mirrored pose cannot be undone by a proper rotation: the error stays large.
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert np.all(pa_mpjpe(mirrored, gt) > 100)


def test_procrustes_matches_per_pose_reference(rng: np.random.Generator) -> None:
    """Batched alignment vs a straightforward per-pose Umeyama solution."""
    gt = rng.normal(size=(5, 10, 3))
    pred = gt + 0.2 * rng.normal(size=gt.shape)
    out = procrustes_align(pred, gt)
    for p, g, o in zip(pred, gt, out, strict=True):
        mp, mg = p.mean(0), g.mean(0)
        U, S, Vt = np.linalg.svd((p - mp).T @ (g - mg))
        d = np.sign(np.linalg.det(Vt.T @ U.T))
        D = np.diag([1.0, 1.0, d])
        R = Vt.T @ D @ U.T
        s = np.trace(D @ np.diag(S)) / ((p - mp) ** 2).sum()
        np.testing.assert_allclose(o, s * (p - mp) @ R.T + mg, atol=1e-12)
        # The optimum beats the identity alignment.
        assert ((o - g) ** 2).sum() <= ((p - mp + mg - g) ** 2).sum()


def test_pck_hand_computed() -> None:
    gt = np.zeros((2, 3))
    pred = np.array([[0.02, 0.0, 0.0], [0.08, 0.0, 0.0]])  # errors 20 mm and 80 mm
    assert pck(pred, gt, thresholds_mm=(10, 20, 50, 100)) == {
        10.0: 0.0,
        20.0: 50.0,  # 20 <= 20: 1 of 2
        50.0: 50.0,
        100.0: 100.0,
    }
    pred[1] = np.nan  # a missing prediction is a miss
    assert pck(pred, gt, thresholds_mm=(100,)) == {100.0: 50.0}


def test_match_poses() -> None:
    gt = np.zeros((3, 2, 3))
    gt[1] += 1.0
    gt[2] += 5.0
    # pred 0 is near GT 1 (10 cm), pred 1 near GT 0 (5 cm), pred 2 is 2 m from everything.
    pred = np.stack([gt[1] + 0.1, gt[0] + 0.05, gt[0] + 2.0])
    pi, gi = match_poses(pred, gt)
    assert gi.tolist() == [0, 1] and pi.tolist() == [1, 0]  # GT 2 stays unmatched (> 500 mm)
    assert match_poses(pred[:0], gt)[0].shape == (0,)


def test_shape_errors() -> None:
    with pytest.raises(InputError, match="same \\(or broadcastable\\) shape"):
        mpjpe(np.zeros((3, 3)), np.zeros((4, 3)))
