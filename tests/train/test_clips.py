"""Training clips: projected 2D keypoint targets and simulated-detection heatmaps (variant H)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tessetrack.data import open_dataset
from tessetrack.synth.detections_sim import DetectionNoise
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.train.clips import ClipSpec, SimulatedDetections, collate_clips, make_clip

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
