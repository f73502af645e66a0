"""Recordings laid out as users lay them out, on the real samples: the calibration in calibration/
beside videos/, one image per camera, videos a few pixels off the calibrated size, videos of
different lengths; and `tessetrack track` on a real recording with no option at all."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest

from tessetrack.cli import main
from tessetrack.data.own_cameras import fit_camera_to_frames
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import DEFAULT_CHECKPOINT


def test_calibration_found_beside_the_videos(shared_data):
    ds = open_input(shared_data / "multiperson_videos_4cams", end=2)
    assert list(ds.cameras) == ["cam01", "cam02", "cam03", "cam04"] and len(ds) == 2
    assert ds.cameras["cam01"].width == 1088 and ds.cameras["cam01"].height == 1920


def test_one_image_per_camera(shared_data):
    ds = open_input(shared_data / "panoptic_demo_5views")
    assert len(ds) == 1 and len(ds.cameras) == 5
    frame = ds.frame(ds.frames[0])
    assert frame.images[next(iter(ds.cameras))]().shape == (512, 960, 3)


def test_a_few_rows_off_keeps_the_intrinsics(caplog):
    cam = Camera("a", np.array([[1000.0, 0, 540], [0, 1000.0, 960], [0, 0, 1]]), np.eye(3), [0, 0, 1.0],
                 width=1088, height=1920)  # fmt: skip
    with caplog.at_level(logging.WARNING):
        fitted = fit_camera_to_frames(cam, (1080, 1920), "cam.mp4")
    np.testing.assert_array_equal(fitted.K, cam.K)
    assert (fitted.width, fitted.height) == (1080, 1920) and "padding or cropping" in caplog.text
    with pytest.raises(InputError, match="different aspect ratio"):
        fit_camera_to_frames(cam, (1920, 1080), "cam.mp4")


def test_videos_of_different_lengths_use_the_common_frames(tmp_path, shared_data, caplog):
    from tessetrack.io.calibration import load_cameras

    cams = load_cameras(shared_data / "multiperson_videos_4cams" / "calibration" / "Calib.qca.txt")
    take = tmp_path / "take"
    take.mkdir()
    for k, name in enumerate(["cam01", "cam02"]):
        w = cv2.VideoWriter(
            str(take / f"{name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 60.0, (136, 240)
        )
        for _ in range(3 + k):
            w.write(np.zeros((240, 136, 3), np.uint8))
        w.release()
    with caplog.at_level(logging.WARNING):
        ds = open_input(take, calibration={n: cams[n] for n in ("cam01", "cam02")})
    assert len(ds) == 3 and "using the 3 frames they all have" in caplog.text


def test_track_a_real_recording_with_no_option(shared_data, tmp_path, capsys):
    out = tmp_path / "tracks.json"
    with pytest.raises(SystemExit) as done:
        main(
            ["track", str(shared_data / "multiperson_videos_4cams"), "--end", "12", "-o", str(out)]
        )
    assert done.value.code == 0
    doc = json.loads(out.read_text())
    assert [f["frame"] for f in doc["frames"]] == list(range(12))
    found = [len(f["people"]) for f in doc["frames"]]
    assert min(found) >= 1 and max(found) <= 2  # two people in the room
    ids = {p["id"] for f in doc["frames"] for p in f["people"]}
    assert len(ids) <= 2
    for f in doc["frames"]:
        for p in f["people"]:
            j = np.array([np.full(3, np.nan) if r is None else r for r in p["joints"]], float)
            assert np.isfinite(j).all(-1).sum() >= 8  # unknown joints are null, most are known
            assert -0.3 < np.nanmin(j[:, 2]) and np.nanmax(j[:, 2]) < 2.2  # on the floor
            assert ((np.array(p["scores"]) >= 0) & (np.array(p["scores"]) <= 1)).all()
    cache = tmp_path / "tracks.detections"
    assert sorted(p.name for p in cache.iterdir()) == [
        "cam01", "cam02", "cam03", "cam04", "detector_settings.txt"
    ]  # fmt: skip
    assert len(list((cache / "cam03").glob("*_keypoints.json"))) == 12
    from tessetrack.detector import BlazePoseConfig, detector_settings, read_detector_settings

    assert read_detector_settings(cache) == detector_settings(BlazePoseConfig())
    assert "tracked 12 frames" in capsys.readouterr().out


def test_cli_default_checkpoint_matches_the_library():
    import inspect

    from tessetrack import cli

    default = inspect.signature(cli.track).parameters["checkpoint"].default.default
    assert default == DEFAULT_CHECKPOINT


def test_output_that_is_an_input_is_refused_before_any_work(shared_data, tmp_path, capsys):
    calib = tmp_path / "calib.qca.txt"
    calib.write_bytes(
        (shared_data / "multiperson_videos_4cams" / "calibration" / "Calib.qca.txt").read_bytes()
    )
    before = calib.read_bytes()
    calib_json = tmp_path / "calibration.json"
    calib_json.write_text("{}")
    with pytest.raises(SystemExit) as exc:
        main(["track", str(shared_data / "multiperson_videos_4cams"), "--calibration", str(calib_json),
              "-o", str(calib_json)])  # fmt: skip
    assert exc.value.code == 2 and "overwrite an input" in capsys.readouterr().err
    assert calib.read_bytes() == before and calib_json.read_text() == "{}"
