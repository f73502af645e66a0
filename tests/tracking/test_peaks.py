"""Refinement of image models from their own 2D joint heatmaps: peaks back in image pixels, each
tracked person's 2D joints taken from the peaks, and the refinement they feed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rig_helpers import PAN, cv_project, pose, rig
from tessetrack.data.detection_heatmaps import detection_heatmaps
from tessetrack.errors import InputError
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.peaks import (
    FramePeaks,
    PeakConfig,
    assign_peaks,
    heatmap_to_image,
    image_peaks,
    people_from_peaks,
    refine_from_peaks,
)


def test_peaks_come_back_at_the_rendered_image_position():
    """A Gaussian drawn by the project's renderer at image pixel (u, v) of a 333 × 250 image onto a
    64 × 48 heatmap sits at heatmap pixel ((u + 0.5) · 64 / 333 − 0.5, (v + 0.5) · 48 / 250 − 0.5)
    (pixel centres at integers on both sides); the log-parabola through the peak and its
    neighbours is exact for a Gaussian, and going back multiplies the heatmap error by
    333 / 64 ≈ 5.2, so float32 rendering leaves far less than 0.1 image pixel."""
    size, heat = (333, 250), (48, 64)  # image (W, H), heatmap (h, w)
    truth = np.array([[101.37, 77.81], [20.05, 230.6], [300.9, 12.44]])  # one joint each
    people = np.zeros((1, PAN.num_joints, 3))
    people[0, :3, :2], people[0, :3, 2] = truth, 1.0
    maps = detection_heatmaps(people, camera_size=size, out_size=heat, sigma=2.0,
                              source_joint_set=None, joint_set="panoptic19")  # fmt: skip
    # a second view of another size: the same heatmaps cover a 1000 × 750 image
    sizes = torch.tensor([size, (1000, 750)])
    peaks = image_peaks(torch.stack([maps, maps]), sizes, PeakConfig(max_peaks=2)).numpy()
    assert peaks.shape == (2, 2, PAN.num_joints, 3)
    for k, scale in enumerate((1.0, None)):
        got = peaks[k, 0, :3, :2]
        want = truth if scale else (truth + 0.5) * np.array([1000 / 333, 750 / 250]) - 0.5
        np.testing.assert_allclose(got, want, atol=0.1)
    assert (peaks[:, 0, :3, 2] > 0.9).all() and (peaks[:, 1, :3, 2] == 0).all()
    assert (peaks[:, :, 3:, 2] == 0).all()  # joints without a Gaussian: no peak
    back = heatmap_to_image(torch.tensor([[-0.5, -0.5], [63.5, 47.5]]), heat, torch.tensor(size))
    np.testing.assert_allclose(back.numpy(), [[-0.5, -0.5], [332.5, 249.5]])  # image borders


def test_assign_peaks_gives_each_person_its_own_peak():
    # two people (rows) of 3 joints, 100 px apart; gates 10 px
    projected = torch.tensor([[[100.0, 50], [100, 80], [100, 110]],
                              [[200.0, 50], [200, 80], [200, 110]]])[None]  # fmt: skip
    valid = torch.ones(1, 2, 3, dtype=torch.bool)
    gates = torch.full((1, 2), 10.0)
    peaks = torch.zeros(1, 4, 3, 3)
    peaks[0, :2, 0] = torch.tensor([[197.0, 52, 0.9], [103, 49, 0.6]])  # person 1's first
    peaks[0, 0, 1] = torch.tensor([104.0, 83, 0.8])  # joint 1: near person 0 only
    peaks[0, :2, 2] = torch.tensor([[150.0, 110, 0.9], [101, 111, 0.2]])  # a stray peak at 150
    out = assign_peaks(projected, valid, gates, peaks)[0]  # N×J×3
    torch.testing.assert_close(out[0, 0], torch.tensor([103.0, 49, 0.6]))
    torch.testing.assert_close(out[1, 0], torch.tensor([197.0, 52, 0.9]))
    torch.testing.assert_close(out[0, 1], torch.tensor([104.0, 83, 0.8]))
    assert out[1, 1, 2] == 0  # no peak within its gate
    torch.testing.assert_close(out[0, 2], torch.tensor([101.0, 111, 0.2]))
    assert out[1, 2, 2] == 0  # the stray peak is 50 px away
    # one peak between two people goes to the nearer one only; an invalid joint takes nothing
    peaks = torch.zeros(1, 1, 3, 3)
    peaks[0, 0, 0] = torch.tensor([104.0, 50, 0.7])  # 4 px from person 0, 6 px from person 1
    projected2 = projected.clone()
    projected2[0, 1, 0] = torch.tensor([110.0, 50])
    out = assign_peaks(projected2, valid, torch.full((1, 2), 20.0), peaks)[0]
    assert out[0, 0, 2] == pytest.approx(0.7) and out[1, 0, 2] == 0
    valid[0, 0, 0] = False
    out = assign_peaks(projected2, valid, torch.full((1, 2), 20.0), peaks)[0]
    assert out[0, 0, 2] == 0 and out[1, 0, 2] == pytest.approx(0.7)


def test_people_from_peaks_pairs_peaks_with_the_person_that_projects_there(rng):
    cams = rig()
    truth = [pose(rng, (-0.8, 0.0)), pose(rng, (0.8, 0.3))]
    peaks = {}
    for name, cam in cams.items():
        p = np.zeros((3, PAN.num_joints, 3), np.float32)
        for k, t in enumerate(truth[::-1]):  # another order than the people
            p[k, :, :2] = cv_project(cam, t) + rng.normal(0, 0.5, (PAN.num_joints, 2))
            p[k, :, 2] = 0.8 - 0.1 * k
        p[:2, 5, 2] = 0.0  # joint 5: no peak in any view
        p[2, 7] = [*cv_project(cam, truth[0])[7] + 200.0, 0.95]  # a strong stray peak, far off
        peaks[name] = p
    network = np.stack(truth) + rng.normal(0, 0.02, (2, PAN.num_joints, 3))
    network[1, 9] = np.nan  # an unknown joint takes no peak
    people = people_from_peaks(network, FramePeaks(peaks, cams))
    assert sorted(people) == sorted(cams)
    for name in cams:
        got = people[name]  # N×J×3
        assert got.shape == (2, PAN.num_joints, 3)
        for i, k in ((0, 1), (1, 0)):
            keep = np.ones(PAN.num_joints, bool)
            keep[5] = False
            keep[9] = i != 1
            np.testing.assert_allclose(got[i, keep, :2], peaks[name][k, keep, :2], atol=1e-4)
            np.testing.assert_allclose(got[i, keep, 2], peaks[name][k, keep, 2], atol=1e-6)
            assert (got[i, ~keep, 2] == 0).all()
    with pytest.raises(InputError, match="gate"):
        PeakConfig(gate=0.0)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Ring of 3 cameras, 2 people, 4 frames of 256² images (under a second to render)."""
    out = tmp_path_factory.mktemp("synth") / "scene"
    generate_dataset(out, SynthConfig(rig="ring", num_cameras=3, num_people=2, num_frames=4,
                                      image_size=(256, 256), seed=3))  # fmt: skip
    return out


def _mpjpe(tracks: Tracks, truth: dict[int, np.ndarray]) -> float:
    return float(np.mean([np.linalg.norm(p.joints - truth[f.frame][p.id], axis=-1).mean()
                          for f in tracks.frames for p in f.people]))  # fmt: skip


def test_refinement_from_peaks_beats_a_coarse_network_pose(scene, rng):
    """The refinement stage on a rendered scene: per frame and view, the ground truth projected,
    1 px of noise, rendered as the model's 2D heatmaps at a quarter of the image size, found again
    as peaks; the "network" is the ground truth with 5 cm of noise per axis."""
    ds = open_input(scene)
    peaks, truth, frames = {}, {}, []
    for f in ds:
        gt = np.stack([p.joints for p in f.people])  # P×J×3
        truth[f.frame] = gt
        maps, sizes = [], []
        for cam in f.cameras.values():
            uv = cam.project(gt) + rng.normal(0, 1.0, gt.shape[:2] + (2,))
            dets = np.concatenate([uv, np.ones(gt.shape[:2] + (1,))], -1)
            out = (cam.height // 4, cam.width // 4)
            maps.append(detection_heatmaps(dets, camera_size=(cam.width, cam.height), out_size=out,
                                           sigma=2.0, source_joint_set=None,
                                           joint_set="panoptic19"))  # fmt: skip
            sizes.append((cam.width, cam.height))
        found = image_peaks(torch.stack(maps), torch.tensor(sizes)).numpy()  # V×K×J×3
        peaks[f.frame] = FramePeaks(dict(zip(f.cameras, found, strict=True)), f.cameras)
        people = [PersonPose(i, g + rng.normal(0, 0.05, g.shape), np.full(len(g), 0.5))
                  for i, g in enumerate(gt)]  # fmt: skip
        frames.append(FramePoses(f.frame, tuple(people)))
    network = Tracks(joint_names=PAN.joints, frames=tuple(frames), fps=ds.fps)
    refined = refine_from_peaks(network, peaks, joint_set="panoptic19")
    before, after = _mpjpe(network, truth), _mpjpe(refined, truth)
    assert after < 0.6 * before, (before, after)
    assert [f.frame for f in refined.frames] == [f.frame for f in network.frames]
    moved = np.mean([(p.scores != 0.25).mean() for f in refined.frames for p in f.people])
    assert moved > 0.5  # most joints were re-triangulated (kept ones have half their score)
