"""``tessetrack synth`` → ``tessetrack track`` → ``tessetrack evaluate``, and track's one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from tessetrack.cli import main
from tessetrack.config import apply_overrides, preset
from tessetrack.io.tracks import load_tracks
from tessetrack.model.tessetrack import build_model
from tessetrack.train.checkpoints import save_checkpoint
from tiny_network import TINY_INFERENCE

TINY = {**TINY_INFERENCE, "train.image_size": [64, 64]}


def _run(argv, capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _track(workdir, output, capsys, *extra):
    """``tessetrack track`` on the tiny scene with the tiny checkpoint, writing ``output``."""
    argv = ["track", str(workdir / "scene"), "--checkpoint", str(workdir / "tiny.safetensors")]
    return _run([*argv, *extra, "--output", str(output)], capsys)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A tiny synthetic scene written by `tessetrack synth` and a tiny random checkpoint."""
    root = tmp_path_factory.mktemp("track_cli")
    with pytest.raises(SystemExit) as info:
        main([
            "synth", str(root / "scene"), "--cameras", "2", "--people", "2", "--frames", "4",
            "--image-size", "64x64", "--seed", "5",
        ])  # fmt: skip
    assert info.value.code == 0
    cfg = apply_overrides(preset("cpu-small", "FTDL"), TINY)
    torch.manual_seed(0)
    save_checkpoint(root / "tiny.safetensors", build_model(cfg).state_dict(), cfg.to_dict())
    return root


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_synth_track_evaluate(workdir, tmp_path, capsys, suffix):
    tracks_file = tmp_path / f"tracks{suffix}"
    code, out, err = _track(workdir, tracks_file, capsys)
    assert code == 0, err
    assert "tracked 4 frames" in out and "fps" in out
    tracks = load_tracks(tracks_file)
    assert [f.frame for f in tracks.frames] == [0, 1, 2, 3]
    assert all(len(f.people) == 2 for f in tracks.frames)  # max_people 2, threshold 0
    metrics_file = tmp_path / "metrics.json"
    code, _, err = _run(
        ["evaluate", "--pred", str(tracks_file), "--gt", str(workdir / "scene"),
         "--json", str(metrics_file)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    metrics = json.loads(metrics_file.read_text())
    for key in ("mota", "precision", "recall", "recall_500"):
        assert math.isfinite(metrics[key]), (key, metrics[key])
    assert all(math.isfinite(v) for v in metrics["ap"].values())


def test_checkpoint_of_another_config_exits_2(workdir, tmp_path, capsys):
    small = apply_overrides(preset("cpu-small", "FTDL"), TINY)
    other = apply_overrides(small, {"model.backbone.channels": 16})
    save_checkpoint(tmp_path / "bad.safetensors", build_model(small).state_dict(), other.to_dict())
    code, _, err = _run(
        ["track", str(workdir / "scene"), "--checkpoint", str(tmp_path / "bad.safetensors"),
         "--output", str(tmp_path / "t.json")],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert "do not fit" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.json").exists()


def test_missing_default_checkpoint_exits_2(workdir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        "tessetrack.train.checkpoints.shipped_checkpoints", lambda: {}
    )  # as in a checkout without the shipped models
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(["track", str(workdir / "scene"), "--output", "t.json"], capsys)
    assert code == 2
    assert "'detections-any' is neither a file nor a shipped checkpoint" in err
    assert len(err.strip().splitlines()) == 1


def test_empty_input_folder_exits_2(workdir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = _run(
        ["track", str(tmp_path / "empty"), "--checkpoint", str(workdir / "tiny.safetensors"),
         "--output", str(tmp_path / "t.json")],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert "input folder is empty" in err and len(err.strip().splitlines()) == 1


def test_cameras_option_tracks_with_the_named_cameras(workdir, tmp_path, capsys):
    tracks_file = tmp_path / "t.json"
    code, out, err = _track(workdir, tracks_file, capsys, "--cameras", "00_01")
    assert code == 0, err
    assert "tracked 4 frames" in out
    assert [f.frame for f in load_tracks(tracks_file).frames] == [0, 1, 2, 3]


def test_unknown_camera_exits_2_naming_it(workdir, tmp_path, capsys):
    code, _, err = _track(workdir, tmp_path / "t.json", capsys, "--cameras", "00_00,cam9")
    assert code == 2
    assert "unknown camera(s) cam9; the input has 00_00, 00_01" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.json").exists()


def test_link_option(workdir, tmp_path, capsys):
    """--link hungarian links the FTDL model's people by pose distance; a bad value is one line."""
    tracks_file = tmp_path / "t.json"
    code, out, err = _track(workdir, tracks_file, capsys, "--link", "hungarian")
    assert code == 0, err
    assert [f.frame for f in load_tracks(tracks_file).frames] == [0, 1, 2, 3]
    code, _, err = _track(workdir, tmp_path / "u.json", capsys, "--link", "nearest")
    assert code == 2 and "tracker.link must be one of model, hungarian" in err
    assert len(err.strip().splitlines()) == 1


def test_no_gate_option(workdir, tmp_path, capsys):
    """--no-gate runs the learned matcher ungated (the paper's behaviour) over the whole input."""
    tracks_file = tmp_path / "t.json"
    code, _, err = _track(workdir, tracks_file, capsys, "--no-gate")
    assert code == 0, err
    assert [f.frame for f in load_tracks(tracks_file).frames] == [0, 1, 2, 3]


def test_cascade_option_reaches_the_tracker_and_defaults_as_the_config(
    workdir, tmp_path, capsys, monkeypatch
):
    import tessetrack.tracking.runner as runner
    from tessetrack.tracking.online import TrackerConfig

    seen = []
    real = runner.track_to_file

    def spy(*args, tracker=None, **kwargs):
        seen.append(tracker.cascade)
        return real(*args, tracker=tracker, **kwargs)

    monkeypatch.setattr(runner, "track_to_file", spy)
    for extra in ((), ("--cascade",), ("--no-cascade",)):
        code, _, err = _track(workdir, tmp_path / "t.json", capsys, *extra)
        assert code == 0, err
    assert seen == [TrackerConfig().cascade, True, False]


def test_smooth_option(workdir, tmp_path, capsys):
    """--smooth one-euro filters every track; the first frame of a track is its own, the rest move
    less than the raw joints; --smooth loess (the default) keeps every person and id and moves
    joints a little; a bad value is one line."""
    raw, smooth = tmp_path / "raw.json", tmp_path / "smooth.json"
    assert _track(workdir, raw, capsys, "--smooth", "none")[0] == 0
    code, _, err = _track(workdir, smooth, capsys, "--smooth", "one-euro")
    assert code == 0, err
    a, b = load_tracks(raw), load_tracks(smooth)
    assert [len(f.people) for f in a.frames] == [len(f.people) for f in b.frames]
    first = {p.id: p.joints for p in a.frames[0].people}
    for p in b.frames[0].people:
        assert torch.allclose(torch.tensor(p.joints), torch.tensor(first[p.id]), equal_nan=True)
    code, _, err = _track(workdir, tmp_path / "l.json", capsys, "--smooth", "loess")
    assert code == 0, err
    c = load_tracks(tmp_path / "l.json")
    assert [[p.id for p in f.people] for f in a.frames] == [
        [p.id for p in f.people] for f in c.frames
    ]
    moved = [np.nanmax(np.abs(p.joints - q.joints)) for f, g in zip(a.frames, c.frames, strict=True)
             for p, q in zip(f.people, g.people, strict=True)]  # fmt: skip
    assert 0 < max(moved) < 0.5  # smoothed, not thrown about
    assert _track(workdir, tmp_path / "d.json", capsys)[0] == 0
    default = load_tracks(tmp_path / "d.json")
    for f, g in zip(c.frames, default.frames, strict=True):
        for p, q in zip(f.people, g.people, strict=True):
            assert p.id == q.id and np.array_equal(p.joints, q.joints, equal_nan=True)
    code, _, err = _track(workdir, tmp_path / "x.json", capsys, "--smooth", "kalman")
    assert code == 2 and "unknown smoothing 'kalman'" in err and len(err.strip().splitlines()) == 1


def test_volume_option_is_checked(workdir, tmp_path, capsys):
    code, _, err = _track(workdir, tmp_path / "x.json", capsys, "--up", "0,1")
    assert code == 2 and "--up: expected three numbers" in err
    code, _, err = _track(workdir, tmp_path / "y.json", capsys, "--volume", "room")
    assert code == 2 and "unknown volume 'room'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "y.json").exists()


def test_keep_bone_lengths_option(workdir, tmp_path, capsys, monkeypatch):
    import tessetrack.tracking.bones as bones

    calls = []
    real = bones.keep_bone_lengths
    monkeypatch.setattr(
        bones, "keep_bone_lengths", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    code, _, err = _track(workdir, tmp_path / "b.json", capsys, "--keep-bone-lengths")
    assert code == 0, err
    assert calls == [1]
    assert [f.frame for f in load_tracks(tmp_path / "b.json").frames] == [0, 1, 2, 3]


def test_detection_threshold_and_candidates_options(workdir, tmp_path, capsys, monkeypatch):
    import inspect

    import tessetrack.tracking.runner as runner
    from tessetrack.tracking.candidates import CandidateConfig

    seen = []
    real = runner.track_to_file

    def spy(*args, detection_threshold=None, candidates=None, **kwargs):
        seen.append((detection_threshold, candidates))
        return real(*args, detection_threshold=detection_threshold, candidates=candidates, **kwargs)

    monkeypatch.setattr(runner, "track_to_file", spy)
    assert _track(workdir, tmp_path / "a.json", capsys)[0] == 0
    assert _track(workdir, tmp_path / "b.json", capsys, "--detection-threshold", "0.5",
                  "--no-candidates")[0] == 0  # fmt: skip
    assert seen == [(None, CandidateConfig()), (0.5, None)]
    # the library's default is the command's
    assert inspect.signature(real).parameters["candidates"].default == CandidateConfig()
    code, _, err = _track(workdir, tmp_path / "c.json", capsys, "--detection-threshold", "1.5")
    assert code == 2 and "--detection-threshold must lie in [0, 1], got 1.5" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "c.json").exists()
