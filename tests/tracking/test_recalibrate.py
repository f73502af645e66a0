"""Tracking with the calibration refined from the recording's own people."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from tessetrack.calibrate.compare import compare_rigs
from tessetrack.cli import app
from tessetrack.errors import InputError
from tessetrack.eval.evaluate import evaluate, load_ground_truth
from tessetrack.geometry.camera import Camera
from tessetrack.io.calibration import load_cameras, save_cameras
from tessetrack.io.tracks import load_tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.recalibrate import (
    WithCameras,
    dataset_detections,
    recalibrate,
    refined_calibration_path,
)
from tessetrack.tracking.runner import track_to_file


def _turned(cam: Camera, deg: float, axis, shift) -> Camera:
    """``cam`` turned by ``deg`` about ``axis`` (its own frame) and moved by ``shift`` (world, m)."""
    axis = np.asarray(axis, dtype=float)
    R = Rotation.from_rotvec(np.radians(deg) * axis / np.linalg.norm(axis)).as_matrix() @ cam.R
    centre = cam.center + np.asarray(shift, dtype=float)
    return Camera(cam.name, cam.K, R, -R @ centre, cam.dist, cam.width, cam.height)


@pytest.fixture(scope="module")
def drifted(tmp_path_factory) -> tuple[Path, dict[str, Camera], Path]:
    """A synthetic ring scene (3 people, 30 frames, OpenPose-like detections) and its calibration
    with two of the five cameras turned 2-2.5° and moved 6-8 cm."""
    root = tmp_path_factory.mktemp("recalibrate")
    cfg = SynthConfig(rig="ring", num_people=3, num_frames=30, seed=11, split="test",
                      images=False, face="measured")  # fmt: skip
    truth = {c.name: c for c in generate_dataset(root / "scene", cfg).rig.cameras}
    names = list(truth)
    drift = {names[1]: (2.5, [1, 0, 0], [0.06, 0, 0]), names[3]: (2.0, [0, 1, 0], [0, 0.05, 0.05])}
    given = {n: _turned(c, *drift[n]) if n in drift else c for n, c in truth.items()}
    calibration = root / "drifted.toml"
    save_cameras(given, calibration)
    return root / "scene", truth, calibration


def test_tracking_with_the_refined_calibration_places_the_people_closer(drifted, tmp_path):
    """The same detections tracked with a drifted calibration, as given and refined: the refined
    calibration (written beside the tracks) is back within 0.3° and 2 cm of the truth, and the
    tracks are closer to the ground truth than with the calibration as given."""
    scene, truth, calibration = drifted
    before = compare_rigs(load_cameras(calibration), truth)
    assert max(before.rotation_deg.values()) > 1.5
    gt = load_ground_truth(str(scene))
    mpjpe = {}
    for refine in (False, True):
        out = tmp_path / f"refine_{refine}.json"
        summary = track_to_file(None, output=out, calibration=calibration,
                                detections=scene / "detections", detections_format="openpose",
                                refine_calibration=refine, smooth="none")  # fmt: skip
        mpjpe[refine] = evaluate(load_tracks(out), gt, ["mpjpe"])["mpjpe_mm"]
        assert refined_calibration_path(out).exists() == refine
        assert (summary.calibration is not None) == refine
    after = compare_rigs(load_cameras(refined_calibration_path(tmp_path / "refine_True.json")),
                         truth)  # fmt: skip
    assert max(after.rotation_deg.values()) < 0.3, after.rotation_deg
    assert max(after.centre_m.values()) < 0.02, after.centre_m
    assert mpjpe[True] < 0.8 * mpjpe[False], mpjpe


def test_detections_are_read_from_evenly_spaced_frames_and_a_silent_camera_sees_nobody(
    drifted, tmp_path
):
    """A frame one camera's detector wrote no file for is read as nobody seen there."""
    scene, _, calibration = drifted
    folder = tmp_path / "detections"
    shutil.copytree(scene / "detections", folder)
    (folder / "00_02" / "000000000009_keypoints.json").unlink()
    dataset = open_input(None, calibration=calibration, detections=folder,
                         detections_format="openpose")  # fmt: skip
    dets = dataset_detections(dataset, max_frames=7)
    assert dets.frames == (0, 4, 9, 14, 19, 24, 29)
    assert set(dets.by_camera) == set(dataset.cameras)
    assert all(set(frames) == set(dets.frames) for frames in dets.by_camera.values())
    assert dets.get("00_02", 9).shape == (0, 25, 3) and len(dets.get("00_01", 9)) > 0


def test_a_rig_the_people_cannot_refine_is_tracked_as_given_with_a_warning(
    drifted, tmp_path, caplog
):
    """One camera only: nothing to refine it against."""
    scene, _, calibration = drifted
    dataset = open_input(None, calibration=calibration, detections=scene / "detections",
                         detections_format="openpose", cameras="00_00", end=5)  # fmt: skip
    out, done = recalibrate(dataset, tmp_path / "x.calibration.toml")
    assert out is dataset and done is None
    assert "not refined" in caplog.text and "two cameras or more" in caplog.text
    assert not (tmp_path / "x.calibration.toml").exists()


def test_cameras_are_replaced_in_every_frame(drifted):
    scene, truth, calibration = drifted
    dataset = open_input(None, calibration=calibration, detections=scene / "detections",
                         detections_format="openpose", end=3)  # fmt: skip
    swapped = WithCameras(dataset, {"00_01": truth["00_01"]})
    assert swapped.cameras["00_01"] is truth["00_01"]
    assert swapped.cameras["00_00"] is dataset.cameras["00_00"]
    for frame in swapped:
        assert frame.cameras["00_01"] is truth["00_01"]
        assert frame.detections  # the detections come along


def test_an_input_without_detections_is_refused_before_any_output(tmp_path):
    """An image model on images has no 2D detections to refine from: a one-line error."""
    from tessetrack.synth.generate import SynthConfig as Cfg

    scene = tmp_path / "images"
    generate_dataset(scene, Cfg(rig="ring", num_people=1, num_frames=2, seed=3, split="test",
                                images=True, image_size=(64, 48)))  # fmt: skip
    dataset = open_input(scene)
    with pytest.raises(InputError, match="refines the cameras from 2D detections"):
        dataset_detections(dataset)


def test_the_command_says_how_far_each_camera_moved_and_where_it_wrote(drifted, tmp_path):
    scene, _, calibration = drifted
    out = tmp_path / "tracks.json"
    result = CliRunner().invoke(app, ["track", "--calibration", str(calibration), "--detections",
                                      str(scene / "detections"), "--end", "10", "-o", str(out),
                                      "--refine-calibration"])  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "moved (°, cm)" in said and "refined the calibration from 10 frames" in said
    assert refined_calibration_path(out).exists() and out.exists()
    same = tmp_path / "drifted.calibration.toml"
    save_cameras(load_cameras(calibration), same)
    refused = CliRunner().invoke(app, ["track", "--calibration", str(same), "--detections",
                                       str(scene / "detections"), "-o",
                                       str(tmp_path / "drifted.json"), "--refine-calibration"])  # fmt: skip
    assert isinstance(refused.exception, InputError)
    assert "would overwrite an input" in str(refused.exception)
