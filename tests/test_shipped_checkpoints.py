"""Shipped checkpoints load by name, without pickle, and ship their training record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tessetrack.tracking.runner import load_model
from tessetrack.train.checkpoints import load_checkpoint, resolve_checkpoint, shipped_checkpoints


def test_synthetic_small_is_shipped_with_its_record():
    assert "synthetic-small" in shipped_checkpoints()
    path = resolve_checkpoint("synthetic-small")
    ck = load_checkpoint(path)
    assert ck.meta["training_command"].startswith("scripts/make_synthetic_small_data.sh")
    assert ck.meta["step"] == json.loads((path.parent / "report.json").read_text())["step"] > 0
    for name in ("log.csv", "val.csv", "curves.png"):
        assert (path.parent / name).is_file()
    assert path.stat().st_size < 20 * 2**20  # small enough for git


@pytest.mark.parametrize("name", sorted(shipped_checkpoints()))
def test_every_shipped_checkpoint_builds_its_model(name):
    loaded = load_model(name)
    assert loaded.config.model.variant.input in ("features", "heatmaps")
    assert sum(p.numel() for p in loaded.model.parameters()) > 0
    assert not loaded.model.training


@pytest.mark.parametrize("name", sorted(shipped_checkpoints()))
def test_every_shipped_checkpoint_records_how_it_was_made(name):
    # the one command that makes it (report.json), the commands of the runs as they were made (the
    # weights' header, kept in report.json too), and the repo files the one command names
    path = shipped_checkpoints()[name]
    made = load_checkpoint(path).meta["training_command"]
    report = json.loads((path.parent / "report.json").read_text())
    command = report["training_command"]
    if name == "synthetic-images":  # a graft: no training of its own
        assert command == made
    else:
        assert command == f"scripts/train_shipped.sh {name}"
        assert report["training_command_history"] == made
    named = re.findall(r"(?:configs|scripts)/[\w./-]+\.(?:yaml|sh|py)", command)
    assert named, command
    repo = Path(__file__).resolve().parents[1]
    assert [f for f in named if not (repo / f).is_file()] == []
    assert (path.parent / "val.csv").is_file() and report["val"]  # validation metrics ship too


def test_the_demo_runs_the_shipped_detections_model():
    from tessetrack.demo import DEMO_CHECKPOINT

    assert DEMO_CHECKPOINT == "synthetic-detections" in shipped_checkpoints()
    path = resolve_checkpoint(DEMO_CHECKPOINT)
    ck = load_checkpoint(path)
    assert "configs/synthetic-detections.yaml" in ck.meta["training_command"]
    assert ck.config["model"]["variant"]["input"] == "heatmaps"
    assert ck.meta["step"] == json.loads((path.parent / "report.json").read_text())["step"] > 0
    for name in ("log.csv", "val.csv", "curves.png"):
        assert (path.parent / name).is_file()


def test_synthetic_images_is_the_demo_body_reading_synthetic_smalls_2d_network():
    """`synthetic-images` (the default of `tessetrack track`) has no training of its own: its record
    names both parts, its weights are theirs (stored in float16), and it redraws the 2D heatmaps from
    their peaks."""
    import torch

    ck = load_checkpoint(resolve_checkpoint("synthetic-images"))
    body = load_checkpoint(resolve_checkpoint("synthetic-detections"))
    net2d = load_checkpoint(resolve_checkpoint("synthetic-small"))
    assert ck.meta["grafted"] == {"body": "synthetic-detections", "net2d": "synthetic-small"}
    assert "--peaks 0.3" in ck.meta["training_command"]
    assert ck.meta["weights_dtype"] == "float16"
    b = ck.config["model"]["backbone"]
    assert (
        b["image_heatmaps"] and b["image_heatmaps_peaks"] and b["image_heatmaps_threshold"] == 0.3
    )
    for k, v in ck.weights.items():
        if k.startswith("heatmap_head."):
            src = net2d.weights["keypoint_head." + k[len("heatmap_head.") :]]
        else:
            src = (net2d if k.startswith("backbone.") else body).weights[k]
        if src.is_floating_point():
            src = src.half()
        assert torch.equal(v, src), k
    report = json.loads((resolve_checkpoint("synthetic-images").parent / "report.json").read_text())
    assert report["val"]["mpjpe_mm"] > 0 and report["test"]["mpjpe_mm"] > 0


def test_the_demo_body_is_trained_on_the_2d_networks_errors():
    path = resolve_checkpoint("synthetic-detections")
    report = json.loads((path.parent / "report.json").read_text())
    noise = report["settings"]["detection_noise"]
    assert noise["twin_prob"] > 0 and noise["stray_per_joint"] > 0
    # 2000 steps (configs/synthetic-detections-v2.yaml), then 1000 with the detector's height bumps
    assert report["step"] == report["settings"]["steps"] == 1000
    # a warm start from the 2000-step model: the run named it by its then shipped name
    assert report["settings"]["init_from"] == "synthetic-detections"
    ck = load_checkpoint(path)
    assert ck.config["model"]["detector"]["height_levels"] == 9
    assert "configs/synthetic-detections-v2.yaml" in ck.meta["training_command"]
    assert ck.weights["detector.height_mix.weight"].abs().sum() > 0  # it learned something


def test_detections_panoptic_knows_its_floor_in_panoptics_y_down_world():
    path = resolve_checkpoint("detections-panoptic")
    report = json.loads((path.parent / "report.json").read_text())
    # recipe v3 (configs/detections-panoptic.yaml, 2000 steps), then 1000 steps with the
    # height bumps, harder detection noise and single-view clips, then 500 steps at half the rate
    # with at least two views per clip, then 300 steps with 10 % single-view clips (the
    # shipped report is that last leg's)
    assert report["step"] == report["settings"]["steps"] == 300
    assert report["settings"]["init_from"] == "runs/panoptic-height2/last.safetensors"
    assert report["settings"]["single_view_prob"] == 0.1
    ck = load_checkpoint(path)
    detector = ck.config["model"]["detector"]
    assert detector["height_levels"] == 9
    assert detector["up"] == [0.0, -1.0, 0.0]  # Panoptic's world: y down, floor at y = 0
    command = ck.meta["training_command"]
    # each leg's config is in the recorded command
    for leg in ("", "-height", "-height2", "-height3"):
        assert f"configs/detections-panoptic{leg}.yaml " in command
    assert ck.weights["detector.height_mix.weight"].abs().sum() > 0
