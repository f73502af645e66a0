"""People the detector scores low, kept where the 2D detections show them: exact cases projected
with OpenCV (an independent route), doubles and ghosts refused, the runner's use of the rule."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from rig_helpers import PAN, cv_project, look_at, pose, rig
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.model.detector import DetectorOutput
from tessetrack.tracking.candidates import CandidateConfig, centres_2d, supported_candidates

NECK, MID_HIP = PAN.joints.index("neck"), PAN.joints.index("mid_hip")


def _centre(pts: np.ndarray) -> np.ndarray:
    return (pts[NECK] + pts[MID_HIP]) / 2


def _views(cams, people, shown=None):
    """Per camera, its 2D people (the poses projected by OpenCV, confidence 1); ``shown``: camera
    name → indices of the people that camera's detector found (default: everyone)."""
    out = []
    for name, cam in cams.items():
        keep = range(len(people)) if shown is None else shown.get(name, [])
        dets = [np.concatenate([cv_project(cam, people[i]), np.ones((PAN.num_joints, 1))], -1)
                for i in keep]  # fmt: skip
        out.append((cam, np.stack(dets) if dets else np.zeros((0, PAN.num_joints, 3))))
    return out


def test_centres_2d_are_the_neck_hip_midpoint_or_the_box_centre():
    j = PAN.num_joints
    det = np.zeros((3, j, 3))
    det[:, :, 0] = np.arange(j) * 10.0
    det[:, :, 1] = np.arange(j) * 20.0
    det[0, :, 2] = 1.0  # everything confident: the neck-hip midpoint
    det[1, :, 2] = 1.0
    det[1, [NECK, PAN.joints.index("l_shoulder")], 2] = 0.0  # no neck, one shoulder: the box
    det[2, :1, 2] = 1.0  # one confident joint: no centre
    centres, heights = centres_2d(det, "panoptic19", 0.3)
    np.testing.assert_allclose(centres[0], (det[0, NECK, :2] + det[0, MID_HIP, :2]) / 2)
    box = det[1, det[1, :, 2] > 0, :2]
    np.testing.assert_allclose(centres[1], (box.min(0) + box.max(0)) / 2)
    assert np.isnan(centres[2]).all()
    assert heights[0] == pytest.approx(20.0 * (j - 1)) and heights[2] == 1.0


def test_centres_2d_stand_in_the_shoulders_and_hips_for_neck_and_mid_hip():
    j = PAN.num_joints
    det = np.zeros((1, j, 3))
    det[0, :, :2] = np.arange(j)[:, None] * [10.0, 20.0] + [100.0, 50.0]
    det[0, :, 2] = 1.0
    det[0, [NECK, MID_HIP], 2] = 0.0
    names = list(PAN.joints)
    pts = det[0, :, :2]
    top = (pts[names.index("l_shoulder")] + pts[names.index("r_shoulder")]) / 2
    bottom = (pts[names.index("l_hip")] + pts[names.index("r_hip")]) / 2
    np.testing.assert_allclose(centres_2d(det, "panoptic19", 0.3)[0][0], (top + bottom) / 2)
    # a joint set with neither neck nor mid-hip (COCO-17) uses the pairs alone
    from tessetrack.skeletons import COCO17

    coco = np.zeros((1, COCO17.num_joints, 3))
    coco[0, :, :2] = np.arange(COCO17.num_joints)[:, None] * [5.0, 30.0]
    coco[0, :, 2] = 1.0
    c = list(COCO17.joints)
    want = sum(coco[0, c.index(n), :2] for n in ("l_shoulder", "r_shoulder", "l_hip", "r_hip")) / 4
    np.testing.assert_allclose(centres_2d(coco, "coco17", 0.3)[0][0], want)


def test_a_candidate_two_views_show_is_kept_one_view_is_not(rng):
    cams = rig()
    a, b = pose(rng, (-1.0, 0.0)), pose(rng, (1.0, 0.5))
    centres = np.stack([_centre(a), _centre(b)])
    strong = np.array([True, False])
    # b found by the 2D detector in two views: kept
    views = _views(cams, [a, b], {"c0": [0, 1], "c1": [0, 1], "c2": [0], "c3": [0]})
    assert supported_candidates(centres, strong, views, "panoptic19", CandidateConfig())[0].tolist() \
        == [True, True]  # fmt: skip
    # in one view only: not vouched for
    views = _views(cams, [a, b], {"c0": [0, 1], "c1": [0], "c2": [0], "c3": [0]})
    assert supported_candidates(centres, strong, views, "panoptic19", CandidateConfig())[0].tolist() \
        == [True, False]  # fmt: skip
    # needing three views, two do not do
    views = _views(cams, [a, b], {"c0": [0, 1], "c1": [0, 1], "c2": [0], "c3": [0]})
    three = CandidateConfig(min_views=3)
    assert supported_candidates(centres, strong, views, "panoptic19", three)[0].tolist() \
        == [True, False]  # fmt: skip


def test_a_kept_candidate_moves_to_where_its_2d_centres_triangulate(rng):
    cams = rig()
    a, b = pose(rng, (-1.0, 0.0)), pose(rng, (1.0, 0.5))
    off = _centre(b) + [0.15, -0.1, 0.05]  # the detector's candidate, 19 cm off b's centre
    centres = np.stack([_centre(a), off])
    views = _views(cams, [a, b], {"c0": [0, 1], "c1": [0, 1], "c2": [0], "c3": [0]})
    keep, moved = supported_candidates(centres, np.array([True, False]), views, "panoptic19",
                                       CandidateConfig())  # fmt: skip
    assert keep.tolist() == [True, True]
    np.testing.assert_array_equal(moved[0], centres[0])  # the strong person stays
    # OpenCV's route: b's 2D centres in c0 and c1 undistorted, then cv2.triangulatePoints
    uv = [
        (cv_project(cams[c], b)[NECK] + cv_project(cams[c], b)[MID_HIP]) / 2 for c in ("c0", "c1")
    ]
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    norm = [cv2.undistortPoints(p[None, None], cams[c].K, cams[c].dist, criteria=crit)
            .reshape(2, 1)
            for p, c in zip(uv, ("c0", "c1"), strict=True)]  # fmt: skip
    proj = [np.hstack([cams[c].R, cams[c].t[:, None]]) for c in ("c0", "c1")]
    x = cv2.triangulatePoints(proj[0], proj[1], norm[0], norm[1]).ravel()
    # within 1 mm: the two 2D midpoints' rays do not quite meet (the 2D midpoint of two joints is
    # not the projection of their 3D midpoint), and the two DLTs weigh their rows differently
    np.testing.assert_allclose(moved[1], x[:3] / x[3], atol=1e-3)
    assert np.linalg.norm(moved[1] - _centre(b)) < 0.03  # the 2D midpoint is near the 3D one's


def test_a_candidate_whose_views_meet_too_far_away_stays_put(rng):
    cams = rig()
    b = pose(rng, (1.0, 0.5))
    off = _centre(b) + [0.15, -0.1, 0.05]  # 19 cm off
    views = _views(cams, [b])
    near = CandidateConfig(max_move=0.1)
    keep, moved = supported_candidates(off[None], np.array([False]), views, "panoptic19", near)
    assert keep.tolist() == [True]
    np.testing.assert_array_equal(moved[0], off)  # kept, where the detector put it
    with pytest.raises(InputError):
        CandidateConfig(max_move=0.0)


def test_a_double_of_a_kept_person_is_refused(rng):
    cams = rig()
    a = pose(rng)
    centres = np.stack([_centre(a), _centre(a) + [0.1, 0.05, 0.0]])  # a, and a again 11 cm off
    keep = supported_candidates(centres, np.array([True, False]), _views(cams, [a]), "panoptic19",
                                CandidateConfig())[0]  # fmt: skip
    assert keep.tolist() == [True, False]
    # alone (the strong one absent), the same candidate is vouched for
    keep = supported_candidates(centres[1:], np.array([False]), _views(cams, [a]), "panoptic19",
                                CandidateConfig())[0]  # fmt: skip
    assert keep.tolist() == [True]


def test_two_candidates_never_share_a_2d_person(rng):
    cams = rig()
    b = pose(rng, (1.0, 0.0))
    centres = np.stack([_centre(b), _centre(b) + [0.0, 0.12, 0.0]])  # best score first
    keep = supported_candidates(centres, np.zeros(2, bool), _views(cams, [b]), "panoptic19",
                                CandidateConfig())[0]  # fmt: skip
    assert keep.tolist() == [True, False]


def test_a_ghost_where_two_people_s_rays_cross_is_refused(rng):
    cams = rig()
    a = pose(rng, (-0.8, -0.5))
    ca = _centre(a)
    # the ghost: on c0's ray through a's centre, nearer c0; b stands on c1's ray through the
    # ghost, beyond it. The ghost projects onto a in c0 and onto b in c1
    eye0, eye1 = cams["c0"].unproject(np.zeros(2))[0], cams["c1"].unproject(np.zeros(2))[0]
    ghost = eye0 + 0.7 * (ca - eye0)
    b = pose(rng)
    b += eye1 + 1.4 * (ghost - eye1) - _centre(b)
    cb = _centre(b)
    assert min(np.linalg.norm(ghost - ca), np.linalg.norm(ghost - cb)) > 0.5
    for cam, person in ((cams["c0"], ca), (cams["c1"], cb)):
        np.testing.assert_allclose(cv_project(cam, ghost[None]), cv_project(cam, person[None]),
                                   atol=1e-6)  # fmt: skip
    centres = np.stack([ca, ghost, cb])  # a strong; the ghost scored above b
    keep = supported_candidates(centres, np.array([True, False, False]), _views(cams, [a, b]),
                                "panoptic19", CandidateConfig())[0]  # fmt: skip
    assert keep.tolist() == [True, False, True]


def test_a_point_far_from_everyone_or_a_frame_without_2d_people_is_not_vouched_for(rng):
    cams = rig()
    a = pose(rng)
    views = _views(cams, [a])
    keep = supported_candidates(np.array([[0.0, 0.0, -50.0]]), np.array([False]), views,
                                "panoptic19", CandidateConfig())[0]  # fmt: skip
    assert keep.tolist() == [False]
    empty = [(cam, np.zeros((0, PAN.num_joints, 3))) for cam in cams.values()]
    keep = supported_candidates(np.stack([_centre(a)]), np.array([False]), empty, "panoptic19",
                                CandidateConfig())[0]  # fmt: skip
    assert keep.tolist() == [False]


def _behind(cams, rng, front: np.ndarray, cam: str, factor: float) -> np.ndarray:
    """A pose whose centre lies on ``cam``'s ray through ``front``'s centre, ``factor`` times as
    far from that camera: hidden behind ``front`` there."""
    eye = cams[cam].unproject(np.zeros(2))[0]
    p = pose(rng)
    return p + eye + factor * (_centre(front) - eye) - _centre(p)


def _some_views(cams, people, shown):
    """:func:`_views` of the cameras ``shown`` names alone."""
    return [v for v in _views(cams, people, shown) if v[0].name in shown]


def _beside(name: str, near: np.ndarray, far: np.ndarray) -> Camera:
    """A camera 3.5 m from ``near``, 60° off the line from ``far`` through ``near``, looking at
    ``near``: there ``near`` half hides ``far``."""
    u = near - far
    u[2] = 0.0
    u /= np.linalg.norm(u)
    t = np.radians(60.0)
    turn = np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])
    eye = near + 3.5 * turn @ u
    eye[2] = 1.8
    return look_at(name, eye, target=near)


def _hidden_scene(rng, factor: float = 1.15):
    """a, and b on c0's ray through a, ``factor`` times as far from c0 (a hides b there); camera
    c4 where a stands in front of b, half hiding it, and c5 where b stands in front of a."""
    cams = rig()
    a = pose(rng, (-0.8, -0.5))
    b = _behind(cams, rng, a, "c0", factor)
    cams["c4"] = _beside("c4", _centre(a), _centre(b))
    cams["c5"] = _beside("c5", _centre(b), _centre(a))
    return cams, a, b


def test_a_person_hidden_behind_a_kept_one_in_one_view_is_kept(rng):
    cams, a, b = _hidden_scene(rng)
    assert np.linalg.norm(_centre(b) - _centre(a)) > 0.7
    np.testing.assert_allclose(cv_project(cams["c0"], _centre(b)[None]),
                               cv_project(cams["c0"], _centre(a)[None]), atol=1e-6)  # fmt: skip
    off = _centre(b) + [0.1, -0.1, 0.05]
    centres = np.stack([_centre(a), off])
    strong = np.array([True, False])
    # c1 shows b (its one free view); in c4, a half hides b (b missed there): a's 2D person is
    # 0.25-0.6 of its height from b's place, and a is nearer c4
    views = _some_views(cams, [a, b], {"c0": [0], "c1": [0, 1], "c4": [0]})
    keep, moved = supported_candidates(centres, strong, views, "panoptic19", CandidateConfig())
    assert keep.tolist() == [True, True]
    # triangulated from b's 2D centre in c1 and a's in c0 (b's own ray there): on b, within 3 cm
    assert np.linalg.norm(moved[1] - _centre(b)) < 0.03
    # not counting the view where a hides b, one view alone does not vouch for b
    keep = supported_candidates(centres, strong, views, "panoptic19",
                                CandidateConfig(hidden_depth=0.0))[0]  # fmt: skip
    assert keep.tolist() == [True, False]
    # a free view and a shared one alone are what a ghost on a's ray shows too: refused
    two = _some_views(cams, [a, b], {"c0": [0], "c1": [0, 1]})
    assert supported_candidates(centres, strong, two, "panoptic19", CandidateConfig())[0].tolist() \
        == [True, False]  # fmt: skip
    # nor does a view where a stands beside b's place but behind it confirm it (a cannot hide b)
    behind = _some_views(cams, [a, b], {"c0": [0], "c1": [0, 1], "c5": [0]})
    assert supported_candidates(centres, strong, behind, "panoptic19",
                                CandidateConfig())[0].tolist() == [True, False]  # fmt: skip


def test_a_hidden_candidate_is_refused_as_a_double_or_where_a_view_shows_nobody(rng):
    strong = np.array([True, False])
    cams, a, b = _hidden_scene(rng, 1.08)  # b 0.3-0.5 m behind a: a double of a, not b
    views = _some_views(cams, [a, b], {"c0": [0], "c1": [0, 1], "c4": [0]})
    centres = np.stack([_centre(a), _centre(b)])
    assert np.linalg.norm(_centre(b) - _centre(a)) < CandidateConfig().min_separation
    keep = supported_candidates(centres, strong, views, "panoptic19", CandidateConfig())[0]
    assert keep.tolist() == [True, False]
    keep = supported_candidates(centres, strong, views, "panoptic19",
                                CandidateConfig(min_separation=0.2))[0]  # fmt: skip
    assert keep.tolist() == [True, True]  # the separation is what refused it
    # with two free views of its own, the view where a hides it is not needed nor judged: kept
    views = _some_views(cams, [a, b], {"c0": [0], "c1": [0, 1], "c3": [0, 1]})
    keep = supported_candidates(centres, strong, views, "panoptic19", CandidateConfig())[0]
    assert keep.tolist() == [True, True]
    # far enough behind and confirmed by c4, but c3 sees b's place with nobody near it (its
    # detector found only d, a third person 2 m away)
    cams, a, b = _hidden_scene(rng)
    d = pose(rng, (1.2, 1.2))
    centres = np.stack([_centre(a), _centre(b)])
    c3 = cams["c3"]
    uv = cv_project(c3, _centre(b)[None])[0]
    assert c3.depth(_centre(b)) > 0 and (0 <= uv).all() and (uv < [c3.width, c3.height]).all()
    confirmed = {"c0": [0], "c1": [0, 1], "c4": [0]}
    views = _some_views(cams, [a, b, d], confirmed)
    assert supported_candidates(centres, strong, views, "panoptic19",
                                CandidateConfig())[0].tolist() == [True, True]  # fmt: skip
    views = _some_views(cams, [a, b, d], {**confirmed, "c3": [2]})
    keep = supported_candidates(centres, strong, views, "panoptic19", CandidateConfig())[0]
    assert keep.tolist() == [True, False]
    # that camera showing b: a second free view, kept
    views = _some_views(cams, [a, b, d], {**confirmed, "c3": [1, 2]})
    keep = supported_candidates(centres, strong, views, "panoptic19", CandidateConfig())[0]
    assert keep.tolist() == [True, True]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0.0},
        {"threshold": 1.0},
        {"min_views": 1},
        {"gate": 0.0},
        {"min_confidence": 1.0},
        {"hidden_depth": -0.1},
        {"min_separation": -1.0},
        {"occlusion": -0.5},
    ],  # fmt: skip
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(InputError):
        CandidateConfig(**kwargs)


def test_the_runner_keeps_the_candidates_the_detections_vouch_for(ring_scene, monkeypatch):
    """SequenceRunner(candidates=...): low-scored peaks on the scene's people are kept and moved
    onto them, one far from anybody is not, a strong peak stays as it is; without candidates only
    the threshold decides."""
    from test_runner import tiny_checkpoint

    from tessetrack.eval.evaluate import load_ground_truth
    from tessetrack.tracking.inputs import open_input
    from tessetrack.tracking.runner import SequenceRunner, load_model

    loaded = load_model(tiny_checkpoint(ring_scene.parent / "cand.safetensors", "HTDL"))
    ds = open_input(ring_scene, detections=ring_scene / "detections")
    frame = ds[2]
    gt = load_ground_truth(str(ring_scene))
    truth = np.stack([_centre(p.joints) for p in gt.frames[2].people])  # 2 people
    assert len(truth) == 2
    off = truth + [[0.15, -0.1, 0.0], [-0.1, 0.12, 0.05]]  # the detector's centres, ~15 cm off
    far = np.array([[0.0, 0.0, 30.0]])  # nobody's there
    # unsorted: weak person 1, strong far peak, weak person 0
    centres = torch.tensor(np.concatenate([off[1:], far, off[:1]]), dtype=torch.float32)
    scores = torch.tensor([0.15, 0.5, 0.2])

    def detect(features, views, threshold=None):
        valid = scores >= threshold
        return DetectorOutput(torch.zeros(1, 2, 2, 2), centres[None], scores[None], valid[None])

    monkeypatch.setattr(loaded.model, "detect", detect)
    plain = SequenceRunner(loaded.model, image_size=loaded.image_size)  # threshold 0 (tiny model)
    assert plain.detect(frame)[0].shape[0] == 3
    strict = SequenceRunner(loaded.model, image_size=loaded.image_size, detection_threshold=0.3)
    torch.testing.assert_close(strict.detect(frame)[0], centres[1:2])  # the strong one alone
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size, detection_threshold=0.3,
                            candidates=CandidateConfig(threshold=0.1))  # fmt: skip
    kept, kept_scores = runner.detect(frame)
    assert kept_scores.tolist() == pytest.approx([0.5, 0.2, 0.15])  # best first
    torch.testing.assert_close(kept[0], centres[1])  # strong: as the detector put it
    # the weak ones moved from ~15 cm off to where their 2D centres triangulate: within 3 cm
    err = np.linalg.norm(kept[1:].numpy() - truth, axis=-1)
    assert (err < 0.03).all(), err
