"""VoxelPose's Panoptic AP protocol on a hand-computed case."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.eval.ap import average_precision, panoptic_ap
from tessetrack.structures import FramePoses, PersonPose, Tracks

NAMES = ("a", "b")


def _pose(x: float, dz_mm: float = 0.0) -> np.ndarray:
    """Two joints at (x, 0, 0) and (x, 0, 1) metres, shifted up by dz_mm: MPJPE = dz_mm."""
    return np.array([[x, 0.0, 0.0], [x, 0.0, 1.0]]) + np.array([0.0, 0.0, dz_mm / 1000])


def _scored(pid: int, joints: np.ndarray, score: float) -> PersonPose:
    return PersonPose(id=pid, joints=joints, scores=np.full(2, score))


def test_hand_computed_ap() -> None:
    gt = Tracks(
        NAMES,
        (
            FramePoses(0, (PersonPose(0, _pose(0.0)), PersonPose(1, _pose(5.0)))),
            FramePoses(1, (PersonPose(0, _pose(0.0)),)),
            FramePoses(2, ()),  # no GT: its prediction is not scored
        ),
    )
    pred = Tracks(
        NAMES,
        (
            FramePoses(
                0,
                (
                    _scored(0, _pose(0.0, 20), 0.9),  # A -> GT0, 20 mm
                    _scored(1, _pose(0.0, 40), 0.8),  # B -> GT0 again (duplicate), 40 mm
                    _scored(2, _pose(5.0, 60), 0.5),  # C -> GT1, 60 mm
                ),
            ),
            FramePoses(1, (_scored(0, _pose(0.0, 120), 0.7),)),  # D -> GT2, 120 mm
            FramePoses(2, (_scored(0, _pose(9.0), 1.0),)),
        ),
    )
    out = panoptic_ap(pred, gt)
    # Score order A, B, D, C; 3 GT poses.
    # t=25, 50: only A is a TP -> recall 1/3 at precision 1 -> AP 33.33 %.
    # t=75, 100: A, C TP -> precision 1, .5, .33, .5 -> envelope 1, .5, .5, .5;
    #   AP = 1/3·1 + 1/3·0.5 = 50 %.
    # t=125, 150: A, D, C TP -> precision 1, .5, .67, .75 -> envelope 1, .75, .75, .75;
    #   AP = 1/3·1 + 2/3·0.75 = 83.33 %.
    expected = {"25": 100 / 3, "50": 100 / 3, "75": 50, "100": 50, "125": 250 / 3, "150": 250 / 3}
    assert out["ap"] == pytest.approx(expected)
    assert out["recall_500"] == pytest.approx(100.0)
    # MPJPE of TPs at 500 mm: A 20, D 120, C 60 -> 200/3 mm.
    assert out["ap_mpjpe_mm"] == pytest.approx(200 / 3)
    assert out["num_gt_poses"] == 3 and out["num_pred_poses"] == 4


def test_invisible_gt_joints_are_ignored() -> None:
    g = PersonPose(0, _pose(0.0), scores=np.array([1.0, 0.0]))  # joint b invisible
    p = _pose(0.0)
    p[1] += 10.0  # far off, but only on the invisible joint
    out = panoptic_ap(
        Tracks(NAMES, (FramePoses(0, (PersonPose(0, p),)),)), Tracks(NAMES, (FramePoses(0, (g,)),))
    )
    assert out["ap"]["25"] == 100.0 and out["ap_mpjpe_mm"] == 0.0


def test_average_precision_no_predictions() -> None:
    ap, rec = average_precision(np.zeros(0), np.zeros(0, dtype=int), 3, 50)
    assert ap == 0.0 and rec == 0.0


def test_missed_gt_lowers_recall() -> None:
    gt = Tracks(NAMES, (FramePoses(0, (PersonPose(0, _pose(0.0)), PersonPose(1, _pose(5.0)))),))
    pred = Tracks(NAMES, (FramePoses(0, (PersonPose(0, _pose(0.0)),)),))
    out = panoptic_ap(pred, gt)
    # 1 of 2 GT poses found at precision 1: AP = 1/2 · 1 = 50 %, recall 50 %.
    assert out["ap"]["150"] == pytest.approx(50.0) and out["recall_500"] == pytest.approx(50.0)
