"""Shelf/Campus PCP on the real actorsGT.mat samples: GT as prediction, planted errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tessetrack.data.shelf_campus import read_actors_gt
from tessetrack.errors import InputError
from tessetrack.eval.pcp import limb_correct, pcp
from tessetrack.skeletons import SHELF14
from tessetrack.structures import FramePoses, PersonPose, Tracks

R_WRIST, R_ELBOW = SHELF14.index("r_wrist"), SHELF14.index("r_elbow")


def _gt_tracks(path: Path) -> Tracks:
    gt = read_actors_gt(path)
    present = gt.present()  # A×F
    frames = tuple(
        FramePoses(
            frame=f,
            people=tuple(
                PersonPose(id=int(a), joints=gt.poses_3d[a, f].copy())
                for a in np.flatnonzero(present[:, f])
            ),
        )
        for f in range(gt.num_frames)
    )
    return Tracks(joint_names=SHELF14.joints, frames=frames)


@pytest.mark.parametrize(
    ("name", "actors"), [("shelf", ["actor_1", "actor_3"]), ("campus", ["actor_1"])]
)
def test_gt_as_prediction_is_100(shared_data: Path, name: str, actors: list[str]) -> None:
    gt = _gt_tracks(shared_data / name / "actorsGT.mat")
    out = pcp(gt, gt)
    # The samples hold 3 frames; Shelf actors 0 and 2, Campus actor 0 are present.
    assert [k for k in out if k.startswith("actor_")] == actors
    assert all(out[a] == 100.0 for a in actors) and out["average"] == 100.0
    assert set(out["per_limb"].values()) == {100.0}


def _replace(tracks: Tracks, frame_pos: int, person_pos: int, joints: np.ndarray) -> Tracks:
    frames = list(tracks.frames)
    people = list(frames[frame_pos].people)
    people[person_pos] = PersonPose(id=people[person_pos].id, joints=joints)
    frames[frame_pos] = FramePoses(frame=frames[frame_pos].frame, people=tuple(people))
    return Tracks(joint_names=tracks.joint_names, frames=tuple(frames))


def test_planted_wrist_error(shared_data: Path) -> None:
    gt = _gt_tracks(shared_data / "shelf" / "actorsGT.mat")
    g = gt.frames[0].people[0].joints  # actor 1 at frame 0
    forearm = np.linalg.norm(g[R_WRIST] - g[R_ELBOW])
    direction = np.array([1.0, 0.0, 0.0])

    # Wrist off by 0.9 x forearm: mean end error 0.45 x forearm <= 0.5 x forearm -> still correct.
    p = g.copy()
    p[R_WRIST] += 0.9 * forearm * direction
    assert pcp(_replace(gt, 0, 0, p), gt)["actor_1"] == 100.0

    # Off by 1.1 x forearm: 0.55 x forearm > 0.5 x forearm -> the right lower arm is wrong once.
    p = g.copy()
    p[R_WRIST] += 1.1 * forearm * direction
    out = pcp(_replace(gt, 0, 0, p), gt)
    # actor 1: 3 frames x 10 limbs = 30 parts, 29 correct -> 96.667 %; actor 3 untouched: 100 %.
    assert out["actor_1"] == pytest.approx(100 * 29 / 30)
    assert out["actor_3"] == 100.0
    assert out["average"] == pytest.approx((100 * 29 / 30 + 100) / 2)
    # lower arms: 2 actors x 3 frames x 2 limbs = 12 scored, 11 correct.
    assert out["per_limb"]["lower_arms"] == pytest.approx(100 * 11 / 12)


def test_torso_uses_mid_hip_and_bottom_head() -> None:
    gt = np.zeros((14, 3))
    gt[SHELF14.index("r_hip")] = [-0.1, 0, 1.0]
    gt[SHELF14.index("l_hip")] = [0.1, 0, 1.0]
    gt[SHELF14.index("bottom_head")] = [0, 0, 1.6]  # torso length 0.6 m
    pred = gt.copy()
    # Moving both hips by 0.7 m moves the mid-hip by 0.7: (0.7 + 0) / 2 = 0.35 > 0.3 -> torso wrong.
    pred[[SHELF14.index("r_hip"), SHELF14.index("l_hip")], 0] += 0.7
    assert not limb_correct(pred, gt)[9]
    # Moving the hips apart symmetrically keeps the mid-hip: torso right (upper legs do not matter).
    pred = gt.copy()
    pred[SHELF14.index("r_hip"), 0] -= 0.7
    pred[SHELF14.index("l_hip"), 0] += 0.7
    assert limb_correct(pred, gt)[9]


def test_missing_prediction_frame_scores_zero(shared_data: Path) -> None:
    gt = _gt_tracks(shared_data / "campus" / "actorsGT.mat")
    pred = Tracks(joint_names=SHELF14.joints, frames=gt.frames[:2])  # frame 2 not predicted
    # 2 of 3 frames fully right: 20 / 30 parts.
    assert pcp(pred, gt)["actor_1"] == pytest.approx(100 * 20 / 30)


def test_wrong_joint_set_refused() -> None:
    t = Tracks(joint_names=("a",), frames=())
    with pytest.raises(InputError, match="shelf14"):
        pcp(t, t)
