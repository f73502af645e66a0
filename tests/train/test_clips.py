"""Training clips: projected 2D keypoint targets and simulated-detection heatmaps (variant H)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tessetrack.data import open_dataset
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import MultiViewFrame, PersonPose
from tessetrack.synth.detections_sim import DetectionNoise
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.train.clips import (
    ClipSpec,
    SimulatedDetections,
    collate_clips,
    make_clip,
    paste_people,
    person_centres,
    up_axis,
)

NO_NOISE = DetectionNoise(
    jitter=0.0, miss_prob=0.0, occluded_miss_prob=0.0, swap_prob=0.0, false_positives_per_image=0.0
)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Ring of 3 cameras, 2 people, 4 frames, no images (poses and cameras only)."""
    out = tmp_path_factory.mktemp("clips") / "scene"
    generate_dataset(
        out,
        SynthConfig(
            rig="ring", num_cameras=3, num_people=2, num_frames=4, image_size=(128, 96),
            images=False, detections=None, seed=5,
        ),
    )  # fmt: skip
    return open_dataset(out)


def _spec(**kw):
    return ClipSpec(length=4, anchors=(1, 2), image_size=(64, 48), max_people=4, min_views=3, **kw)


def test_anchor_keypoints_match_opencv_projection(scene):
    frames = [scene[i] for i in range(4)]
    names = sorted(scene.cameras)
    clip = make_clip(frames, _spec(), np.random.default_rng(0), names, with_images=False)
    kp, mask = clip["gt_keypoints"], clip["gt_keypoint_mask"]  # 2×V×P×J×2, 2×V×P×J
    assert kp.shape[:2] == (2, 3) and mask.any()
    for a, fi in enumerate((1, 2)):
        for v, name in enumerate(names):
            cam = frames[fi].cameras[name].scaled(64, 48)
            for p, person in enumerate(sorted(frames[fi].people, key=lambda q: q.id)):
                rvec, _ = cv2.Rodrigues(cam.R)
                uv, _ = cv2.projectPoints(person.joints, rvec, cam.t, cam.K, cam.dist)
                expected = (uv[:, 0] + 0.5) / np.array([64, 48])  # image fractions
                m = mask[a, v, p].numpy()
                assert m.sum() > 0
                np.testing.assert_allclose(kp[a, v, p].numpy()[m], expected[m], atol=1e-5)
                inside = ((expected >= 0) & (expected <= 1)).all(-1)
                assert (m == inside).all()  # annotated joints in the image are usable, others not


def test_keypoint_mask_drops_absent_views(scene):
    frames = [scene[i] for i in range(4)]
    spec = ClipSpec(length=4, anchors=(1, 2), image_size=(64, 48), max_people=4, min_views=1)
    for seed in range(20):  # view dropout: some clip keeps fewer than 3 views
        clip = make_clip(frames, spec, np.random.default_rng(seed), with_images=False)
        absent = ~clip["view_mask"][1]
        if absent.any():
            assert not clip["gt_keypoint_mask"][0, absent].any()
            return
    pytest.fail("view dropout never dropped a view in 20 clips")


def test_single_view_prob_keeps_one_view(scene):
    frames = [scene[i] for i in range(4)]
    spec = ClipSpec(length=4, anchors=(1, 2), image_size=(64, 48), max_people=4, min_views=3)
    mono = ClipSpec(
        length=4,
        anchors=(1, 2),
        image_size=(64, 48),
        max_people=4,
        min_views=3,
        single_view_prob=1.0,
    )
    kept = set()
    for seed in range(12):
        clip = make_clip(frames, mono, np.random.default_rng(seed), with_images=False)
        mask = clip["view_mask"].numpy()  # F×V, the same views in every frame
        assert (mask.sum(1) == 1).all() and (mask == mask[:1]).all()
        kept.add(int(np.argmax(mask[0])))
        # off (the default): min_views 3 of 3 keeps every view, as before the option existed
        assert make_clip(frames, spec, np.random.default_rng(seed), with_images=False)[
            "view_mask"
        ].all()
    assert kept == {0, 1, 2}


def test_simulated_detection_heatmaps_peak_at_the_gt_without_noise(scene):
    frames = [scene[i] for i in range(4)]
    names = sorted(scene.cameras)
    spec = _spec(
        detections=SimulatedDetections(sigma=1.0, source_joint_sets=("body25",), noise=NO_NOISE)
    )
    clip = make_clip(frames, spec, np.random.default_rng(0), names, with_images=False)
    hm = clip["heatmaps"]  # F×V×J×h×w, h×w = 12×16 for 64×48 images
    assert hm.shape == (4, 3, 19, 12, 16)
    kp, mask = clip["gt_keypoints"], clip["gt_keypoint_mask"]
    # every GT joint of the anchor frames inside the image has a clear peak at its pixel (BODY25
    # detections converted back to Panoptic-19: all 19 joints exist in BODY25)
    for a, fi in enumerate((1, 2)):
        for v in range(3):
            for p in range(kp.shape[2]):
                for j in np.flatnonzero(mask[a, v, p].numpy()):
                    u = kp[a, v, p, j, 0] * 16 - 0.5
                    w = kp[a, v, p, j, 1] * 12 - 0.5
                    iu, iw = int(round(float(u))), int(round(float(w)))
                    if 0 <= iu < 16 and 0 <= iw < 12:
                        assert hm[fi, v, j, iw, iu] > 0.3, (a, v, p, j)
    # collate puts them in the batch (B, F, V, J, h, w)
    batch, _ = collate_clips([clip, clip])
    assert batch.heatmaps.shape == (2, 4, 3, 19, 12, 16) and batch.images is None


def test_simulated_detections_draw_fresh_noise_and_replay_with_the_seed(scene):
    frames = [scene[i] for i in range(4)]
    spec = _spec(detections=SimulatedDetections())
    a = make_clip(frames, spec, np.random.default_rng(1), with_images=False)["heatmaps"]
    b = make_clip(frames, spec, np.random.default_rng(1), with_images=False)["heatmaps"]
    c = make_clip(frames, spec, np.random.default_rng(2), with_images=False)["heatmaps"]
    assert torch.equal(a, b) and not torch.equal(a, c)


# --- paste_people ----------------------------------------------------------------------------------


def _frame(i: int, people: dict[int, tuple[float, float]], up: int = 2) -> MultiViewFrame:
    """A frame whose people are upright stick figures (``up``: the up axis) at (a, b) on the floor."""
    js = get_joint_set("panoptic19")
    out = []
    for pid, (a, b) in people.items():
        j = np.zeros((19, 3))
        floor = [k for k in range(3) if k != up]
        j[:, floor[0]], j[:, floor[1]] = a, b
        j[:, up] = 1.0
        j[js.index("neck"), up] = 1.5
        j[js.index("mid_hip"), up] = 0.9
        out.append(PersonPose(pid, j + 0.01 * i))
    return MultiViewFrame(frame=i, cameras={}, people=tuple(out))


def _horizontal(c: np.ndarray, up: int) -> np.ndarray:
    return np.delete(c, up)


@pytest.mark.parametrize("up", [1, 2])
def test_paste_people_places_near_people_on_the_floor_plane(up):
    frames = [_frame(i, {0: (0.0, 0.0)}, up) for i in range(3)]
    donor = [_frame(i, {5: (3.0, -2.0)}, up) for i in range(3)]
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = paste_people(frames, donor, rng, count=1, near_prob=1.0)
        assert [len(f.people) for f in out] == [2, 2, 2]
        mine, pasted = out[0].people
        assert (mine.id, pasted.id) == (0, 100_005)
        c0, c1 = person_centres(mine.joints), person_centres(pasted.joints)
        # height kept, horizontal distance in [0.5, 1.2] m
        assert c1[up] == pytest.approx(c0[up])
        assert 0.5 <= np.linalg.norm(_horizontal(c1 - c0, up)) <= 1.2
        # one rigid shift for the whole clip: the donor's motion is kept
        d = [p.joints for f in out for p in f.people if p.id == 100_005]
        assert np.allclose(d[1] - d[0], donor[1].people[0].joints - donor[0].people[0].joints)
    assert frames[0].people[0].id == 0 and len(frames[0].people) == 1  # inputs untouched


def test_paste_people_far_keeps_place_and_drops_overlaps():
    frames = [_frame(i, {0: (0.0, 0.0)}) for i in range(2)]
    far = [_frame(i, {1: (2.0, 1.0)}) for i in range(2)]
    out = paste_people(frames, far, np.random.default_rng(1), count=1, near_prob=0.0)
    assert np.allclose(out[0].people[1].joints, far[0].people[0].joints)
    overlap = [_frame(i, {1: (0.1, 0.2)}) for i in range(2)]  # 0.22 m away: bodies overlap
    out = paste_people(frames, overlap, np.random.default_rng(1), count=1, near_prob=0.0)
    assert [len(f.people) for f in out] == [1, 1]
    assert paste_people(frames, far, np.random.default_rng(1), count=0) == frames


def test_up_axis_snaps_the_mean_body_direction():
    z_up = [(np.zeros(3), np.array([0.1, 0.2, 0.6]))]
    assert up_axis(z_up).tolist() == [0.0, 0.0, 1.0]
    y_down = [(np.zeros(3), np.array([0.1, -0.6, 0.2])), (np.zeros(3), np.array([0.3, 0.1, 0.0]))]
    assert up_axis(y_down).tolist() == [0.0, -1.0, 0.0]
    assert up_axis([]).tolist() == [0.0, 0.0, 1.0]


def test_paste_people_trains_the_detector_on_close_people(scene):
    """Through make_clip: the pasted person gets a GT slot and simulated 2D detections."""
    frames = [scene[i] for i in range(4)]
    donor = frames[::-1]
    spec = _spec(detections=SimulatedDetections(noise=DetectionNoise(0, 0, 0, 0, 0)))
    pasted = paste_people(frames, donor, np.random.default_rng(3), count=5, near_prob=1.0)
    n_before = len({p.id for f in frames for p in f.people})
    n_after = len({p.id for f in pasted for p in f.people})
    assert n_after > n_before
    clip = make_clip(pasted, spec, np.random.default_rng(0), with_images=False)
    assert int(clip["gt_mask"][0].sum()) == len(pasted[spec.anchors[0]].people)
