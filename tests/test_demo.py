"""``tessetrack demo`` end to end with a tiny random checkpoint and a 3-frame scene."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch
from typer.testing import CliRunner

from tessetrack.cli import app
from tessetrack.config import apply_overrides, preset
from tessetrack.errors import CheckpointError
from tessetrack.io.tracks import load_tracks
from tessetrack.model.tessetrack import build_model
from tessetrack.train.checkpoints import save_checkpoint


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = apply_overrides(
        preset("cpu-small"),
        {
            "model.volume.shape": [16, 16, 16],
            "model.tesseract.shape": [8, 8, 8],
            "model.detector.max_people": 2,
            "train.image_size": [64, 64],
        },
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    return save_checkpoint(path, model.state_dict(), cfg.to_dict())


def test_demo_writes_every_output(tiny_checkpoint: Path, tmp_path: Path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        app, ["demo", "--output", str(out), "--checkpoint", str(tiny_checkpoint), "--frames", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "MPJPE" in result.output and "frames/s" in result.output
    tracks = load_tracks(out / "tracks.json")
    assert [f.frame for f in tracks.frames] == [0, 1, 2]  # every scene frame appears
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"mpjpe_mm", "mota", "id_switches"} <= set(metrics)
    assert metrics["frames"] == 3
    video = iio.imread(out / "overlay.mp4")
    # 5 views of 256² tiled at 256 px in ceil(sqrt(5)) = 3 columns × 2 rows
    assert video.shape == (3, 512, 768, 3)
    for name in ("scene3d.png", "timeline.png"):
        assert iio.imread(out / name).ndim == 3
    assert (out / "scene" / "hdImgs").is_dir() or any((out / "scene").iterdir())


def test_demo_missing_checkpoint_is_one_line_error(tmp_path: Path):
    from tessetrack.demo import run_demo

    with pytest.raises(CheckpointError, match="neither a file nor a shipped checkpoint"):
        run_demo(tmp_path / "d", checkpoint=tmp_path / "nope.safetensors", frames=2)
    assert not (tmp_path / "d" / "scene").exists()  # nothing built before the checkpoint check


def test_demo_cli_missing_checkpoint_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    from tessetrack.cli import main

    with pytest.raises(SystemExit) as exc:
        main(
            [
                "demo",
                "--output",
                str(tmp_path / "d"),
                "--checkpoint",
                str(tmp_path / "no.safetensors"),
            ]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: checkpoint") and "\n" not in err


def test_demo_runs_a_detections_model_on_the_scene_detections(tmp_path: Path):
    # A heatmap-input checkpoint cannot read images: the demo feeds it the scene's simulated
    # OpenPose detections (without them every view would be empty and nobody would be found).
    cfg = apply_overrides(
        preset("cpu-small", "HTDL"),
        {
            "model.volume.shape": [16, 16, 16],
            "model.tesseract.shape": [8, 8, 8],
            "model.detector.max_people": 2,
            "model.detector.threshold": 0.0,
            "train.image_size": [256, 256],
        },
    )
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "h.safetensors", build_model(cfg).state_dict(), cfg.to_dict())
    from tessetrack.demo import run_demo

    result = run_demo(tmp_path / "demo", checkpoint=path, frames=3)
    tracks = load_tracks(result.tracks)
    assert [f.frame for f in tracks.frames] == [0, 1, 2]
    assert sum(len(f.people) for f in tracks.frames) > 0  # threshold 0: the heatmaps gave people
