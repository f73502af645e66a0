"""3D MOT metrics: identity, planted ID swap, dropped person, false positives, missing frames."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.eval.mot3d import match_by_pck, mot3d
from tessetrack.structures import FramePoses, PersonPose, Tracks

NAMES = ("a", "b", "c")  # J = 3
F = 4  # frames


def _gt(rng: np.random.Generator) -> Tracks:
    """Two people 2 m apart walking along x for F frames."""
    base = rng.normal(scale=0.2, size=(2, 3, 3)) + np.array([[[0.0, 0, 1]], [[0.0, 2.0, 1]]])
    return Tracks(
        NAMES,
        tuple(
            FramePoses(f, tuple(PersonPose(i, base[i] + [0.1 * f, 0, 0]) for i in range(2)))
            for f in range(F)
        ),
    )


def _map_people(tracks: Tracks, fn) -> Tracks:
    return Tracks(tracks.joint_names, tuple(FramePoses(f.frame, fn(f)) for f in tracks.frames))


def test_gt_against_itself(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    out = mot3d(gt, gt)
    assert out["mota"] == 100.0 and out["id_switches"] == 0
    assert out["precision"] == 100.0 and out["recall"] == 100.0 and out["motp_mm"] == 0.0
    assert out["num_objects"] == 2 * 3 * F  # people × joints × frames
    assert set(out["per_joint"]) == set(NAMES)
    assert all(v["mota"] == 100.0 for v in out["per_joint"].values())


def test_planted_id_swap(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    # From frame 2 on, the predicted ids of the two people are exchanged.
    swap = _map_people(
        gt,
        lambda f: tuple(PersonPose(1 - p.id if f.frame >= 2 else p.id, p.joints) for p in f.people),
    )
    out = mot3d(swap, gt)
    # Each of the 2 GT tracks of each joint switches once: 2 per joint, 6 overall.
    assert all(v["id_switches"] == 2 for v in out["per_joint"].values())
    assert out["id_switches"] == 6
    # MOTA = 1 − 6 / 24 = 75 %; recall/precision stay 100 % (switches are still matches).
    assert out["mota"] == pytest.approx(75.0)
    assert out["recall"] == 100.0 and out["precision"] == 100.0


def test_dropped_person_lowers_recall(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    pred = _map_people(gt, lambda f: tuple(p for p in f.people if not (p.id == 1 and f.frame >= 2)))
    out = mot3d(pred, gt)
    # Person 1 missing in 2 of 4 frames: 2 frames × 3 joints = 6 misses of 24 objects.
    assert out["recall"] == pytest.approx(100 * 18 / 24)  # 75 %
    assert out["mota"] == pytest.approx(75.0) and out["precision"] == 100.0
    assert out["num_misses"] == 6 and out["id_switches"] == 0


def test_missing_prediction_frame_counts_as_misses(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    pred = Tracks(NAMES, gt.frames[:3])  # frame 3 absent
    out = mot3d(pred, gt)
    # 2 people × 3 joints missed in 1 of 4 frames: recall 18/24.
    assert out["recall"] == pytest.approx(75.0) and out["num_misses"] == 6


def test_false_positives_make_mota_negative(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    pred = _map_people(
        gt,
        lambda f: (
            f.people
            + tuple(PersonPose(10 + k, f.people[0].joints + [0, 0, 5.0 + k]) for k in range(3))
        ),
    )
    out = mot3d(pred, gt)
    # 3 far-away extra people × 3 joints × 4 frames = 36 false positives on 24 objects:
    # MOTA = 1 − 36/24 = −50 %; precision = 24 / 60 = 40 %.
    assert out["mota"] == pytest.approx(-50.0)
    assert out["precision"] == pytest.approx(40.0) and out["recall"] == 100.0


def test_offset_joint_beyond_threshold_is_miss_and_fp(rng: np.random.Generator) -> None:
    gt = _gt(rng)

    def shift_c(f: FramePoses) -> tuple[PersonPose, ...]:
        out = []
        for p in f.people:
            j = p.joints.copy()
            if p.id == 0:
                j[2, 0] += 0.15  # joint c 150 mm off (> 100 mm), a and b exact
            else:
                j[1, 0] += 0.05  # joint b 50 mm off: still a match, MOTP contribution 50 mm
            out.append(PersonPose(p.id, j))
        return tuple(out)

    out = mot3d(_map_people(gt, shift_c), gt)
    c = out["per_joint"]["c"]
    # Joint c of person 0: miss + false positive each frame; person 1's c matches.
    assert c["num_misses"] == F and c["num_false_positives"] == F
    assert c["mota"] == pytest.approx(100 * (1 - 8 / 8))  # 8 objects, 8 errors -> 0 %
    assert out["per_joint"]["b"]["motp_mm"] == pytest.approx(25.0)  # (0 + 50) / 2 per frame
    # Overall MOTP: 20 matched pairs, 4 of them at 50 mm -> 200 / 20 = 10 mm.
    assert out["motp_mm"] == pytest.approx(10.0)


def test_match_by_pck_drops_zero_pairs() -> None:
    assert match_by_pck(np.array([[0.0, 0.5], [0.0, 0.9]])) == {1: 1}
