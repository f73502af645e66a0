"""Sequence inference: load_model, the online SequenceRunner, its bounded memory and merges."""

from __future__ import annotations

import dataclasses
import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from tessetrack.config import apply_overrides, preset
from tessetrack.data.base import MultiViewDataset
from tessetrack.data.layouts import open_dataset
from tessetrack.errors import CheckpointError, InputError
from tessetrack.geometry.views import Views
from tessetrack.io.tracks import load_tracks
from tessetrack.model.tessetrack import build_model
from tessetrack.skeletons import PANOPTIC19
from tessetrack.structures import MultiViewFrame, Tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.online import Observation, OnlineTracker, TrackerConfig, pose_distance_link
from tessetrack.tracking.runner import (
    DEFAULT_IMAGE_SIZE,
    SequenceRunner,
    load_model,
    track_to_file,
)
from tessetrack.train.checkpoints import save_checkpoint
from tiny_network import TINY_INFERENCE

# the tiny network of tests/train/test_loop.py, at most 2 people per frame, every NMS peak kept
TINY = {**TINY_INFERENCE, "model.matcher.max_distance": 100.0, "train.image_size": [64, 48]}


def tiny_checkpoint(path, variant: str = "FTDL", **overrides):
    """A randomly initialised tiny model saved with save_checkpoint."""
    cfg = apply_overrides(preset("cpu-small", variant), {**TINY, **overrides})
    torch.manual_seed(0)
    save_checkpoint(path, build_model(cfg).state_dict(), cfg.to_dict(), {"note": "test"})
    return path


@pytest.fixture(scope="module")
def scene(ring_scene):
    return ring_scene


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("ckpt")


def _check_tracks(tracks, frames):
    assert [f.frame for f in tracks.frames] == list(frames)
    assert tracks.joint_names == PANOPTIC19.joints
    for f in tracks.frames:
        ids = [p.id for p in f.people]
        assert len(ids) == len(set(ids))
        for p in f.people:
            assert isinstance(p.id, int)
            assert p.joints.shape == (19, 3) and np.all(np.isfinite(p.joints))
            assert p.scores.shape == (19,) and np.all((p.scores >= 0) & (p.scores <= 1))


def test_loaded_model_runs_over_a_sequence_with_bounded_memory(scene, ckpt_dir):
    loaded = load_model(tiny_checkpoint(ckpt_dir / "ftdl.safetensors"))
    assert not loaded.model.training
    assert loaded.image_size == (64, 48) and loaded.meta == {"note": "test"}
    ds = open_dataset(scene)
    runner = SequenceRunner(
        loaded.model, image_size=loaded.image_size, tracker=TrackerConfig(history=2)
    )
    seen = []
    tracks = runner.run(ds, progress=lambda done, total: seen.append((done, total)))
    _check_tracks(tracks, ds.frames)
    assert seen == [(i, 5) for i in range(1, 6)]
    assert tracks.fps == ds.fps
    # T = 3 frames of features kept, no more; each track keeps at most `history` observations
    assert runner.window.maxlen == 3 and len(runner.window) == 3
    assert all(len(t.history) <= 2 for t in runner.tracker.tracks)
    # max_people = 2 and threshold 0: two people detected at every frame
    assert all(len(f.people) == 2 for f in tracks.frames)


def test_tracking_builds_no_autograd_graph(scene, ckpt_dir):
    """run() is under no_grad: a regression once put the decorator on a helper instead."""
    loaded = load_model(tiny_checkpoint(ckpt_dir / "ftdl.safetensors"))
    ds = open_dataset(scene, start=0, end=2)
    grad_seen = []
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size)
    assert torch.is_grad_enabled()
    runner.run(ds, progress=lambda done, total: grad_seen.append(torch.is_grad_enabled()))
    assert grad_seen == [False, False]
    assert torch.is_grad_enabled()


def test_a_single_frame_fills_the_window_by_repetition(scene, ckpt_dir):
    loaded = load_model(tiny_checkpoint(ckpt_dir / "ftdl.safetensors"))
    ds = open_dataset(scene, start=2, end=3)
    tracks = SequenceRunner(loaded.model, image_size=loaded.image_size).run(ds)
    _check_tracks(tracks, [2])


@pytest.mark.parametrize(("variant", "merges"), [("FTGA", True), ("FT", True), ("FI", False)])
def test_descriptors_merge_with_the_tracks_previous_one(scene, ckpt_dir, variant, merges):
    # Hungarian on poses with a 100 m gate links every person of frame f to one of frame f-1, so
    # from the second frame on each pose merges K = 2 descriptors, with a matcher or without (as
    # in training: merge_slots); T = 1 windows never overlap, so nothing merges.
    loaded = load_model(tiny_checkpoint(ckpt_dir / f"{variant}.safetensors", variant))
    model = loaded.model
    slots: list[int] = []
    original = model.estimate_poses

    def spy(descriptors, mask, voxel_centres, skips=None):
        slots.extend(mask.sum(-1).tolist())
        return original(descriptors, mask, voxel_centres, skips)

    model.estimate_poses = spy
    tracks = SequenceRunner(model, image_size=loaded.image_size).run(open_dataset(scene))
    ids = [sorted(p.id for p in f.people) for f in tracks.frames]
    if merges:
        assert ids == [[0, 1]] * 5  # linked every frame: no new IDs
        # per frame: 2 un-merged poses for the link (1 slot), then 2 final poses;
        # final poses merge 2 slots from frame 1 on: 4 frames x 2 people
        assert slots.count(2) == 8
    else:
        assert slots.count(2) == 0


@pytest.mark.parametrize(
    ("variant", "overrides"),
    [
        ("HI", {}),
        # the detections-* recipe: H input, temporal tesseract, learned matcher, U-Net pose head
        ("FTDL", {"model.variant.input": "heatmaps", "model.pose_head.skips": True}),
        # ... with the matcher's position encoding: the runner hands it the detected centres
        ("HTDL", {"model.pose_head.skips": True, "model.matcher.position_encoding": True}),
    ],
)
def test_heatmap_variant_reads_detections(scene, ckpt_dir, variant, overrides):
    name = f"h-{variant}-{len(overrides)}.safetensors"
    loaded = load_model(tiny_checkpoint(ckpt_dir / name, variant, **overrides))
    assert loaded.model.heatmap_input
    assert loaded.model.uses_skips == bool(overrides)
    encodes = overrides.get("model.matcher.position_encoding", False)
    assert (getattr(loaded.model.matcher, "position_encoder", None) is not None) == encodes
    ds = open_input(scene, detections=scene / "detections")
    tracks = SequenceRunner(loaded.model, image_size=loaded.image_size).run(ds)
    _check_tracks(tracks, ds.frames)


def test_hungarian_link_overrides_the_learned_matcher(scene, ckpt_dir):
    """TrackerConfig(link="hungarian"): a D model's people are linked on pose distance (their poses
    alone are estimated for it) and the learned merge still runs."""
    from tessetrack.tracking.online import TrackerConfig

    loaded = load_model(tiny_checkpoint(ckpt_dir / "link-FTDL.safetensors", "FTDL"))
    runner = SequenceRunner(
        loaded.model, image_size=loaded.image_size, tracker=TrackerConfig(link="hungarian")
    )
    assert loaded.model.matcher is not None and not runner._learned_link
    ds = open_input(scene)
    tracks = runner.run(ds)
    _check_tracks(tracks, ds.frames)
    default = SequenceRunner(loaded.model, image_size=loaded.image_size)
    assert default._learned_link


class _DropViews(MultiViewDataset):
    """Camera ``00_01`` is absent at frames 1 and 2 (a view that disappears for a while)."""

    def __init__(self, base: MultiViewDataset) -> None:
        self.base = base
        super().__init__(
            root=base.root,
            cameras=base.cameras,
            frames=base.frames,
            joint_set=base.joint_set,
            fps=base.fps,
        )

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        frame = self.base.frame(frame_id)
        if frame_id in (1, 2):
            cams = {k: v for k, v in frame.cameras.items() if k != "00_01"}
            imgs = {k: v for k, v in frame.images.items() if k != "00_01"}
            frame = dataclasses.replace(frame, cameras=cams, images=imgs)
        return frame


def test_views_that_disappear_run_fine(scene, ckpt_dir):
    loaded = load_model(tiny_checkpoint(ckpt_dir / "ftdl.safetensors"))
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size)
    ds = _DropViews(open_dataset(scene))
    _check_tracks(runner.run(ds), ds.frames)
    # frames 0, 1, 2 only: the last window is frames 1, 2, 2 (end repeated), view 00_01 gone
    runner.run(_DropViews(open_dataset(scene, end=3)))
    assert [e.frame for e in runner.window] == [1, 2, 2]
    assert [e.views.view_mask.tolist() for e in runner.window] == [[True, False]] * 3
    assert runner.window[0].features[1].abs().sum() == 0  # masked view: zero features
    assert runner.window[0].features[0].abs().sum() > 0


def _scene_with_only(scene, tmp_path, keep):
    """A copy of ``scene`` whose calibration and images hold only the cameras in ``keep``."""
    out = tmp_path / "scene"
    shutil.copytree(scene, out, ignore=shutil.ignore_patterns("detections"))
    calib = out / "calibration_scene.json"
    data = json.loads(calib.read_text())
    data["cameras"] = [c for c in data["cameras"] if c["name"] in keep]
    calib.write_text(json.dumps(data))
    for folder in (out / "hdImgs").iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder)
    return out


def test_tracking_a_camera_subset_equals_tracking_a_scene_of_only_those_cameras(
    scene, ckpt_dir, tmp_path
):
    ckpt = tiny_checkpoint(ckpt_dir / "ftdl.safetensors")
    reference = _scene_with_only(scene, tmp_path, {"00_01"})
    subset = track_to_file(
        scene, output=tmp_path / "subset.npz", checkpoint=ckpt, cameras=["00_01"]
    )
    alone = track_to_file(reference, output=tmp_path / "alone.npz", checkpoint=ckpt)
    track_to_file(scene, output=tmp_path / "full.npz", checkpoint=ckpt)
    assert subset.frames == alone.frames == 5
    a, b, c = (load_tracks(tmp_path / f"{n}.npz") for n in ("subset", "alone", "full"))
    _check_tracks(a, range(5))
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert [p.id for p in fa.people] == [p.id for p in fb.people]
        for pa, pb in zip(fa.people, fb.people, strict=True):
            np.testing.assert_array_equal(pa.joints, pb.joints)
            np.testing.assert_array_equal(pa.scores, pb.scores)
    # the full rig gives other poses: the dropped view really is left out
    assert any(
        not np.array_equal(pa.joints, pc.joints)
        for fa, fc in zip(a.frames, c.frames, strict=True)
        for pa, pc in zip(fa.people, fc.people, strict=False)
    )


def test_unknown_camera_is_a_one_line_error_before_any_output(scene, ckpt_dir, tmp_path):
    ckpt = tiny_checkpoint(ckpt_dir / "ftdl.safetensors")
    with pytest.raises(InputError, match=r"unknown camera\(s\) 00_05; the input has 00_00, 00_01"):
        track_to_file(scene, output=tmp_path / "t.json", checkpoint=ckpt, cameras=["00_05"])
    assert not (tmp_path / "t.json").exists()


def test_weights_of_another_config_are_refused(tmp_path):
    small = apply_overrides(preset("cpu-small", "FTDL"), TINY)
    other = apply_overrides(small, {"model.tesseract.descriptor_dim": 32})
    save_checkpoint(tmp_path / "bad.safetensors", build_model(small).state_dict(), other.to_dict())
    with pytest.raises(CheckpointError, match=r"do not fit.*descriptor") as info:
        load_model(tmp_path / "bad.safetensors")
    assert "\n" not in str(info.value)


def test_missing_checkpoint_is_a_one_line_error(tmp_path):
    with pytest.raises(CheckpointError, match="neither a file nor a shipped checkpoint") as info:
        load_model(tmp_path / "nope.safetensors")
    assert "\n" not in str(info.value)


def test_image_size_is_the_typed_train_setting(tmp_path):
    cfg = apply_overrides(preset("cpu-small", "FI"), TINY)
    save_checkpoint(tmp_path / "m.safetensors", build_model(cfg).state_dict(), cfg)
    assert load_model(tmp_path / "m.safetensors").image_size == cfg.train.image_size == (64, 48)
    # without train settings: the default of the typed field
    cfg = apply_overrides(
        preset("cpu-small", "FI"), {k: v for k, v in TINY.items() if "train" not in k}
    )
    save_checkpoint(tmp_path / "d.safetensors", build_model(cfg).state_dict(), cfg.to_dict())
    assert load_model(tmp_path / "d.safetensors").image_size == DEFAULT_IMAGE_SIZE == (256, 256)


def test_assign_reports_the_previous_observation_and_gap():
    tracker = OnlineTracker(pose_distance_link(0.5), TrackerConfig(max_gap=5))
    pose = np.zeros((19, 3))
    (a,) = tracker.assign(0, [Observation(pose, payload="first")])
    assert a.previous is None and a.gap is None
    (b,) = tracker.assign(3, [Observation(pose + 0.1, payload="second")])
    # same person 0.1 m further (< 0.5 m gate), 3 frames later
    assert b.track is a.track and b.previous.payload == "first" and b.gap == 3


def test_detect_returns_the_peaks_the_tracker_keeps(scene, ckpt_dir):
    """SequenceRunner.detect: the PDN + NMS alone on one frame, as an anchor is detected."""
    loaded = load_model(tiny_checkpoint(ckpt_dir / "h-detect.safetensors", "HTDL"))
    ds = open_input(scene, detections=scene / "detections")
    frame = ds[2]
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size)
    centres, scores = runner.detect(frame)
    # threshold 0 and max_people 2 (TINY_INFERENCE): two peaks, best first, inside the volume
    assert centres.shape == (2, 3) and scores.shape == (2,)
    assert torch.all(scores[:-1] >= scores[1:])
    grid = loaded.model.grid
    lo = torch.tensor(grid.center) - torch.tensor(grid.size) / 2
    assert torch.all(centres >= lo) and torch.all(centres <= lo + torch.tensor(grid.size))
    # the same peaks as the tracker's anchor step at that frame (its window centred on frame 2)
    tracks = SequenceRunner(loaded.model, image_size=loaded.image_size).run(ds)
    assert len(tracks.frames[2].people) == len(centres)
    # a threshold above every score keeps nothing
    strict = SequenceRunner(
        loaded.model,
        image_size=loaded.image_size,
        detection_threshold=min(1.0, float(scores[0]) + 1e-4),
    )
    assert strict.detect(frame, list(ds.cameras))[0].shape == (0, 3)


def test_an_input_without_what_the_model_reads_is_refused_before_any_output(
    scene, ckpt_dir, tmp_path
):
    """A detections model on a scene with neither detections nor images (images would go through
    the built-in detector), or an image model on a poses-only scene, used to track every frame as
    empty; now it is a one-line error naming the fix."""
    poses_only = tmp_path / "poses_only"
    generate_dataset(
        poses_only,
        SynthConfig(rig="ring", num_cameras=2, num_people=1, num_frames=3, seed=3, images=False),
    )
    h = tiny_checkpoint(ckpt_dir / "h-missing.safetensors", "HTDL")
    with pytest.raises(InputError, match=r"reads 2D detections.*pass --detections DIR") as info:
        track_to_file(poses_only, output=tmp_path / "h.json", checkpoint=h)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "h.json").exists()
    f = tiny_checkpoint(ckpt_dir / "ftdl.safetensors")
    with pytest.raises(InputError, match=r"reads images, but the first frame \(0\) has no image"):
        track_to_file(poses_only, output=tmp_path / "f.json", checkpoint=f)
    assert not (tmp_path / "f.json").exists()


def test_the_runner_drives_the_model_stages(scene, ckpt_dir):
    """Tracking equals calling the network's stages by hand: Views.from_cameras and the backbone
    per frame, then per anchor detect → describe → link (the learned matcher) → pose, merged with
    the linked person's descriptor of the previous anchor (merge_slots)."""
    loaded = load_model(tiny_checkpoint(ckpt_dir / "ftdl.safetensors"))
    model, (w, h) = loaded.model, loaded.image_size
    ds = open_dataset(scene, end=2)
    tracks = SequenceRunner(model, image_size=(w, h)).run(ds)
    names = list(ds.cameras)
    feats, views = [], []
    with torch.no_grad():
        for frame in ds:
            views.append(Views.from_cameras([frame.cameras[n] for n in names], (w, h)))
            images = [frame.images[n]() for n in names]
            x = np.stack([cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA) for im in images])
            feats.append(model.extract_features(torch.from_numpy(x).permute(0, 3, 1, 2) / 255.0))
        descs, centres = [], []
        for window in ([0, 0, 1], [0, 1, 1]):  # anchors 0 and 1: sequence ends repeated
            anchor = window[1]
            det = model.detect(feats[anchor][None], views[anchor][None])
            centres.append(det.centres[0][det.valid[0]])  # P×3
            f = torch.stack([feats[i] for i in window])[None]  # 1×T×V×C×h×w
            descs.append(
                model.describe(f, centres[-1][None], Views.stack([views[i] for i in window])[None])
            )
        p = len(centres[0])
        match = model.link(
            torch.stack([d.vector for d in descs], 1),  # 1×2×P×D
            torch.stack(centres)[None],
            torch.ones(1, 2, p, dtype=torch.bool),
        )
        partner = match.matches1[0]  # P: the person of anchor 0 each one of anchor 1 is
        d0, d1 = (d.tensor[0] for d in descs)
        skips = [[x[0] for x in d.skips] if model.uses_skips else None for d in descs]
        alone = model.pose(d0, descs[0].voxel_centres[0], skips[0])
        merged = model.pose(
            d1, descs[1].voxel_centres[0], skips[1],
            partners=d0[partner.clamp(min=0)], linked=partner >= 0, gap=1,
        )  # fmt: skip
    linked = partner >= 0
    assert p == 2 and linked.any()  # at least one person merges at frame 1
    # ids: births in detection order (0, 1 at frame 0, 2 … at frame 1), else the partner's
    births = iter(range(p, 2 * p))
    ids1 = [i if i >= 0 else next(births) for i in partner.tolist()]
    got0 = {q.id: q.joints for q in tracks.frames[0].people}
    got1 = {q.id: q.joints for q in tracks.frames[1].people}
    assert sorted(got0) == list(range(p)) and sorted(got1) == sorted(ids1)
    for i in range(p):
        np.testing.assert_allclose(got0[i], alone.joints[i].double().numpy(), atol=1e-6)
    for j, i in enumerate(ids1):
        np.testing.assert_allclose(got1[i], merged.joints[j].double().numpy(), atol=1e-6)
    assert torch.equal(merged.weights[:, 1] > 0, linked) and not alone.weights[:, 1].any()


def test_image_models_with_a_keypoint_head_keep_its_peaks_in_image_pixels(scene, ckpt_dir):
    """Per frame and present view, the keypoint head's peaks (K = 8 per joint) in the camera's own
    pixels: the 64 × 64 images go in at 64 × 48, the heatmaps are 16 × 12, so a peak at heatmap
    pixel (u, v) is at ((u + 0.5) · 4 − 0.5, (v + 0.5) · 64 / 12 − 0.5) in the image."""
    from tessetrack.ops.heatmaps2d import heatmap_peaks

    ckpt = tiny_checkpoint(ckpt_dir / "kp.safetensors", **{"model.backbone.keypoint_head": True})
    loaded = load_model(ckpt)
    model, (w, h) = loaded.model, loaded.image_size
    with torch.no_grad():  # random weights around 0.5: many local maxima above the threshold
        model.keypoint_head.conv.bias.zero_()
    runner = SequenceRunner(model, image_size=(w, h), keep_peaks=True)
    ds = _DropViews(open_dataset(scene))
    runner.run(ds)
    assert sorted(runner.frame_peaks) == list(ds.frames)
    assert list(runner.frame_peaks[1].peaks) == ["00_00"]  # view 00_01 absent at frame 1
    frame = ds[0]
    got = runner.frame_peaks[0]
    assert list(got.peaks) == ["00_00", "00_01"] and got.nbytes == 2 * 8 * 19 * 3 * 4
    x = np.stack([cv2.resize(frame.images[n](), (w, h), interpolation=cv2.INTER_AREA)
                  for n in got.peaks])  # fmt: skip
    with torch.no_grad():
        heat = model.keypoint_heatmaps(torch.from_numpy(x).permute(0, 3, 1, 2) / 255.0)
    assert heat.shape[-2:] == (12, 16)
    want = heatmap_peaks(heat, threshold=0.3, max_peaks=8).numpy()  # V×K×J×3, heatmap pixels
    assert (want[..., 2] > 0).sum() > 20
    want[..., 0] = (want[..., 0] + 0.5) * 4.0 - 0.5
    want[..., 1] = (want[..., 1] + 0.5) * 64.0 / 12.0 - 0.5
    for k, name in enumerate(got.peaks):
        assert got.peaks[name].dtype == np.float32 and got.peaks[name].shape == (8, 19, 3)
        assert got.cameras[name].name == name
        np.testing.assert_array_equal(got.cameras[name].K, frame.cameras[name].K)
        np.testing.assert_allclose(got.peaks[name], want[k], atol=1e-4)
    # models without 2D heatmaps of their own, or asked not to, keep none
    plain = load_model(tiny_checkpoint(ckpt_dir / "ftdl.safetensors")).model
    none = SequenceRunner(plain, image_size=(w, h), keep_peaks=True)
    none.run(open_dataset(scene, end=2))
    off = SequenceRunner(model, image_size=(w, h))  # the default: none kept
    off.run(open_dataset(scene, end=2))
    assert not none.keeps_peaks and none.frame_peaks == {} and off.frame_peaks == {}


def test_track_refines_image_models_from_their_peaks(scene, ckpt_dir, tmp_path, monkeypatch):
    """``refine="triangulate"`` (the default) refines an image model with a keypoint head from the
    peaks the runner kept, in the model's joint set; ``none`` does not."""
    import tessetrack.tracking.peaks as peaks_module

    calls = []
    original = peaks_module.refine_from_peaks

    def spy(tracks, peaks, **kwargs):
        calls.append((len(tracks.frames), sorted(peaks), kwargs["joint_set"]))
        return original(tracks, peaks, **kwargs)

    monkeypatch.setattr(peaks_module, "refine_from_peaks", spy)
    ckpt = tiny_checkpoint(ckpt_dir / "kp.safetensors", **{"model.backbone.keypoint_head": True})
    track_to_file(scene, output=tmp_path / "none.json", checkpoint=ckpt, refine="none")
    assert calls == []
    summary = track_to_file(scene, output=tmp_path / "refined.json", checkpoint=ckpt)
    assert calls == [(5, [0, 1, 2, 3, 4], "panoptic19")]
    _check_tracks(load_tracks(summary.output), range(5))


def _circling_wrist(fps: float | None) -> Tracks:
    """One person standing still; from frame 30 on, the left wrist circles the elbow 4 times a
    second at the forearm's length (0.25 m): a quadratic over ±0.2 s cannot follow it, so
    smoothing shortens the forearm there and not in the first half."""
    from tessetrack.skeletons import get_joint_set
    from tessetrack.structures import FramePoses, PersonPose

    pan = get_joint_set("panoptic19")
    pose = np.random.default_rng(0).uniform(-0.5, 0.5, (pan.num_joints, 3)) + [0, 0, 1]
    el, wr = pan.index("l_elbow"), pan.index("l_wrist")
    arm = 0.25  # metres: the wrist moves at 6.3 m/s, below the 10 m/s of a jump to another person
    frames = []
    for t in range(60):
        p = pose.copy()
        a = 2 * np.pi * 4.0 * max(t - 30, 0) / 30
        p[wr] = p[el] + arm * np.array([np.cos(a), np.sin(a), 0.0])
        frames.append(FramePoses(t, (PersonPose(0, p, np.ones(pan.num_joints)),)))
    return Tracks(joint_names=pan.joints, frames=tuple(frames), fps=fps)


def test_finish_keeps_bone_lengths_after_smoothing():
    """--keep-bone-lengths promises bones within 20 % of their track's length in the output:
    kept before smoothing, the smoothing would break that."""
    from tessetrack.tracking.bones import keep_bone_lengths
    from tessetrack.tracking.runner import _finish
    from tessetrack.tracking.smoothing import loess_tracks

    tracks = _circling_wrist(30.0)
    el, wr = (tracks.joint_names.index(n) for n in ("l_elbow", "l_wrist"))

    def off(t: Tracks) -> np.ndarray:  # each frame's forearm against the track's median forearm
        arm = np.array([np.linalg.norm(f.people[0].joints[wr] - f.people[0].joints[el])
                        for f in t.frames])  # fmt: skip
        return np.abs(arm / np.median(arm) - 1)

    assert off(tracks).max() < 1e-9
    before = loess_tracks(keep_bone_lengths(tracks, "panoptic19")[0])  # the other order
    assert off(before).max() > 0.3
    after = _finish(tracks, "panoptic19", None, True, "loess")
    assert off(after).max() <= 0.2 + 1e-9


def test_finish_warns_when_smoothing_without_a_frame_rate(caplog):
    from tessetrack.tracking.runner import _finish

    with caplog.at_level("WARNING", logger="tessetrack.tracking.runner"):
        _finish(_circling_wrist(30.0), "panoptic19", None, False, "loess")
        _finish(_circling_wrist(None), "panoptic19", None, False, "none")
        assert not caplog.records
        _finish(_circling_wrist(None), "panoptic19", None, False, "loess")
    assert len(caplog.records) == 1 and "frame rate is unknown" in caplog.records[0].message


def test_track_to_file_and_track_cli_smooth_alike_by_default():
    import inspect

    from tessetrack import cli

    default = inspect.signature(track_to_file).parameters["smooth"].default
    assert default == "loess"
    assert cli._smooth_option().default == default
