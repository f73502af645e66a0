"""Grafting a stage-1 2D network on an H model: the result reads images through the 2D head."""

from __future__ import annotations

import pytest
import torch

from tessetrack.config import Config, apply_overrides, preset
from tessetrack.errors import CheckpointError, ConfigError, InputError
from tessetrack.model.tessetrack import build_model
from tessetrack.ops.heatmaps2d import rerender_heatmap_peaks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import SequenceRunner, load_model
from tessetrack.train.checkpoints import load_checkpoint, save_checkpoint
from tessetrack.train.graft import graft_image_heatmaps
from tiny_network import TINY_INFERENCE

TINY = {**TINY_INFERENCE, "train.image_size": [64, 64]}


def _save(path, variant, seed, **overrides):
    cfg = apply_overrides(preset("cpu-small", variant), {**TINY, **overrides})
    torch.manual_seed(seed)
    save_checkpoint(path, build_model(cfg).state_dict(), cfg.to_dict(), {"step": seed})
    return load_checkpoint(path)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    d = tmp_path_factory.mktemp("graft")
    net2d = _save(d / "net2d.safetensors", "FTDL", 1, **{"model.backbone.keypoint_head": True})
    body = _save(d / "body.safetensors", "HTDL", 2, **{"model.pose_head.skips": True})
    return body, net2d


def test_grafted_model_makes_its_heatmaps_with_the_2d_network(parts):
    body, net2d = parts
    weights, config = graft_image_heatmaps(body, net2d)
    grafted = build_model(Config.from_dict(config))
    grafted.load_state_dict(weights, strict=True)
    grafted.eval()  # batch norm on its running statistics, as in tracking
    assert grafted.heatmap_input and not grafted.reads_detections
    source = build_model(Config.from_dict(net2d.config))
    source.load_state_dict(net2d.weights, strict=True)
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        # what the H model casts into voxels = the stage-1 network's 2D joint heatmaps
        torch.testing.assert_close(
            grafted.extract_features(images), source.eval().keypoint_heatmaps(images)
        )
    # the 3D network is the body's, untouched
    for name, w in body.weights.items():
        if not name.startswith(("backbone.", "heatmap_head.")):
            assert torch.equal(weights[name], w), name
    assert config["model"]["backbone"]["image_heatmaps"] is True
    assert config["model"]["backbone"]["keypoint_head"] is False


def test_peaks_switch_redraws_the_2d_networks_heatmaps_from_their_maxima(parts):
    body, net2d = parts
    weights, config = graft_image_heatmaps(body, net2d)
    config["model"]["backbone"]["image_heatmaps_peaks"] = True
    config["model"]["backbone"]["image_heatmaps_threshold"] = 0.2
    cfg = Config.from_dict(config)
    grafted = build_model(cfg)
    grafted.load_state_dict(weights, strict=True)
    source = build_model(Config.from_dict(net2d.config))
    source.load_state_dict(net2d.weights, strict=True)
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        raw = source.eval().keypoint_heatmaps(images)
        want = rerender_heatmap_peaks(
            raw, sigma=2.0, threshold=0.2, max_peaks=2 * cfg.model.detector.max_people
        )
        torch.testing.assert_close(grafted.eval().extract_features(images), want)
        # the 2D network's own heatmaps, before the redrawing, are the stage-1 network's
        assert grafted.has_2d_network and source.has_2d_network
        torch.testing.assert_close(grafted.image_joint_heatmaps(images), raw)
        torch.testing.assert_close(source.image_joint_heatmaps(images), raw)
    assert not torch.allclose(want, raw)


def test_a_model_reading_detections_has_no_2d_network(parts):
    body, _ = parts
    model = build_model(Config.from_dict(body.config))
    assert model.reads_detections and not model.has_2d_network
    with pytest.raises(InputError, match="no 2D network"):
        model.image_joint_heatmaps(torch.rand(1, 3, 64, 64))


def test_grafted_model_tracks_images_without_detections(parts, tmp_path):
    body, net2d = parts
    weights, config = graft_image_heatmaps(body, net2d)
    path = tmp_path / "grafted.safetensors"
    save_checkpoint(path, weights, config, {})
    scene = tmp_path / "scene"
    generate_dataset(
        scene, SynthConfig(num_cameras=2, num_people=1, num_frames=3, image_size=(64, 64), seed=5)
    )
    loaded = load_model(path)
    ds = open_input(scene)  # images only: no detections folder given
    tracks = SequenceRunner(loaded.model, image_size=loaded.image_size).run(ds)
    assert [f.frame for f in tracks.frames] == list(ds.frames)


def test_graft_refuses_parts_that_do_not_fit(parts, tmp_path):
    body, net2d = parts
    with pytest.raises(CheckpointError, match="not a heatmap-input"):
        graft_image_heatmaps(net2d, net2d)
    with pytest.raises(CheckpointError, match="no 2D joint head"):
        graft_image_heatmaps(body, body)
    other_sigma = _save(
        tmp_path / "s.safetensors",
        "FTDL",
        3,
        **{"model.backbone.keypoint_head": True, "loss.keypoint_sigma": 3.0},
    )
    with pytest.raises(CheckpointError, match="σ 3.0"):
        graft_image_heatmaps(body, other_sigma)
    coco = _save(
        tmp_path / "coco.safetensors",
        "FTDL",
        4,
        **{"model.backbone.keypoint_head": True, "model.pose_head.joint_set": "coco17"},
    )
    with pytest.raises(CheckpointError, match="predicts coco17 joints.*reads panoptic19"):
        graft_image_heatmaps(body, coco)
    with pytest.raises(ConfigError, match="image_heatmaps"):
        apply_overrides(preset("cpu-small", "FTDL"), {"model.backbone.image_heatmaps": True})
