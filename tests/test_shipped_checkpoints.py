"""Shipped checkpoints load by name, without pickle, and ship their training record."""

from __future__ import annotations

import json

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
