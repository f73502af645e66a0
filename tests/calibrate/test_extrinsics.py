from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tessetrack.calibrate.compare import compare_rigs
from tessetrack.calibrate.extrinsics import calibrate_from_people
from tessetrack.cli import app
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.calibration import load_cameras
from tessetrack.io.detections import Detections2D


def _cameras() -> dict[str, Camera]:
    K = np.array([[1000.0, 0, 640], [0, 1000, 360], [0, 0, 1]])
    return {n: Camera(n, K, np.eye(3), np.zeros(3), np.zeros(5), 1280, 720) for n in "abc"}


def test_camera_that_sees_nobody_is_named():
    people = np.zeros((1, 25, 3))
    people[0, :, :2], people[0, :, 2] = 500.0, 0.9
    frames = {f: people for f in range(3)}
    dets = Detections2D(
        "body25", {"a": frames, "b": frames, "c": {f: np.zeros((0, 25, 3)) for f in range(3)}}
    )
    with pytest.raises(InputError, match="camera\\(s\\) c see nobody"):
        calibrate_from_people(dets, _cameras())


def test_too_short_a_recording_is_refused(rng):
    # one frame, one person: 25 joints per camera, fewer than the 30 matches a pair needs
    people = np.concatenate([rng.uniform(300, 700, (1, 25, 2)), np.ones((1, 25, 1))], axis=-1)
    dets = Detections2D("body25", {n: {0: people} for n in "abc"})
    with pytest.raises(InputError, match="longer recording"):
        calibrate_from_people(dets, _cameras())


def test_people_calibrate_the_real_rig(shared_data, tmp_path):
    """Every 5th of the 100 frames of the 4-camera recording, the built-in detector, the
    Qualisys intrinsics; compared with the Qualisys poses after a similarity alignment.

    Measured when this was written: rotation errors 0.6°, 1.5°, 3.3°, 1.2° (cam01..cam04),
    centre errors 4.5, 9.1, 12.2, 9.7 cm, camera distances 0.4 % too long with the default
    1.7 m person height, camera heights within 9 cm of Qualisys' (its floor is z = 0 too).
    The bounds below leave room for other platforms' decoders and BLAS."""
    pytest.importorskip("mediapipe")
    root = shared_data / "multiperson_videos_4cams"
    qca = root / "calibration" / "Calib.qca.txt"
    out = tmp_path / "calibration.toml"
    result = CliRunner().invoke(app, ["calibrate", "extrinsics", str(root), "--intrinsics", str(qca),
                                      "--end", "100", "--stride", "5", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    ours, reference = load_cameras(out), load_cameras(qca)
    cmp = compare_rigs(ours, reference)
    assert max(cmp.rotation_deg.values()) < 5.0, cmp.rotation_deg
    assert max(cmp.centre_m.values()) < 0.2, cmp.centre_m
    assert abs(cmp.distance_ratio - 1) < 0.05
    for name, cam in ours.items():  # z up, floor at 0: the cameras' heights agree
        assert abs(cam.center[2] - reference[name].center[2]) < 0.15
