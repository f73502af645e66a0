"""open_input: dataset folders, videos / image folders + calibration, detections only, camera
subsets, one-line errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tessetrack.data.own_cameras import OwnCamerasDataset
from tessetrack.data.panoptic import PanopticDataset
from tessetrack.errors import InputError
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.inputs import CameraSubset, DetectionsAttached, open_input


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Ring of 2 cameras, 1 person, 4 frames of 32² images, simulated BODY25 detections."""
    out = tmp_path_factory.mktemp("synth_inputs") / "scene"
    generate_dataset(
        out,
        SynthConfig(
            rig="ring", num_cameras=2, num_people=1, num_frames=4, image_size=(32, 32), seed=1
        ),
    )
    return out


def test_dataset_folder_with_frame_selection(scene):
    ds = open_input(scene, start=1, end=4, stride=2)
    assert isinstance(ds, PanopticDataset)
    assert ds.frames == [1, 3]  # ids 1..3, every 2nd


def test_dataset_folder_with_detections_attached(scene):
    ds = open_input(scene, detections=scene / "detections", detections_format="openpose")
    assert isinstance(ds, DetectionsAttached) and len(ds) == 4
    frame = ds[2]
    assert frame.detections_joint_set == "body25"
    assert sorted(frame.detections) == ["00_00", "00_01"]
    assert frame.detections["00_00"].shape == (1, 25, 3)  # 1 person, BODY25
    assert frame.images and frame.people  # images and ground truth kept


def test_cameras_without_detections_get_no_entry(scene, tmp_path):
    """A detections folder for one camera of two: the other view has no entry (masked by a
    heatmap model), not an empty array that would say "nobody there"."""
    dets = tmp_path / "dets"
    shutil.copytree(scene / "detections" / "00_01", dets / "00_01")
    ds = open_input(scene, detections=dets, detections_format="openpose")
    frame = ds[1]
    assert list(frame.detections) == ["00_01"] and sorted(frame.cameras) == ["00_00", "00_01"]
    assert frame.detections["00_01"].shape == (1, 25, 3)


def test_detections_only_with_calibration(scene):
    ds = open_input(
        None, calibration=scene / "calibration_scene.json", detections=scene / "detections"
    )
    assert isinstance(ds, OwnCamerasDataset)
    assert ds.frames == [0, 1, 2, 3] and list(ds.cameras) == ["00_00", "00_01"]


def test_image_folders_with_calibration(scene, tmp_path):
    for cam in ("00_00", "00_01"):
        shutil.copytree(scene / "hdImgs" / cam, tmp_path / "rec" / cam)
    ds = open_input(tmp_path / "rec", calibration=scene / "calibration_scene.json", end=3)
    assert isinstance(ds, OwnCamerasDataset)
    assert ds.frames == [0, 1, 2]
    assert ds[0].images["00_01"]().shape == (32, 32, 3)


@pytest.fixture(scope="module")
def ring3(tmp_path_factory):
    """Ring of 3 cameras, 1 person, 3 frames, poses + calibration + BODY25 detections, no images."""
    out = tmp_path_factory.mktemp("synth_ring3") / "ring3"
    generate_dataset(
        out,
        SynthConfig(
            rig="ring", num_cameras=3, num_people=1, num_frames=3, image_size=(32, 32), seed=2,
            images=False,
        ),
    )  # fmt: skip
    return out


def _same_camera(a, b):
    assert (a.width, a.height) == (b.width, b.height)
    for field in ("K", "R", "t", "dist"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize("cameras", [["00_02", "00_00"], "00_02, 00_00"])
def test_camera_subset_keeps_the_calibration_of_the_kept_cameras(ring3, cameras):
    full = open_input(ring3, detections=ring3 / "detections")
    ds = open_input(ring3, detections=ring3 / "detections", cameras=cameras)
    assert isinstance(ds, CameraSubset)
    assert list(ds.cameras) == ["00_02", "00_00"]  # the order asked for
    assert ds.frames == full.frames == [0, 1, 2]
    for name in ("00_02", "00_00"):
        _same_camera(ds.cameras[name], full.cameras[name])
    frame, whole = ds[1], full[1]
    assert list(frame.cameras) == list(frame.detections) == ["00_02", "00_00"]
    for name in ("00_02", "00_00"):
        _same_camera(frame.cameras[name], whole.cameras[name])
        np.testing.assert_array_equal(frame.detections[name], whole.detections[name])
    assert [p.id for p in frame.people] == [p.id for p in whole.people] == [0]  # GT untouched
    np.testing.assert_array_equal(frame.people[0].joints, whole.people[0].joints)


def test_camera_subset_of_detections_with_calibration(ring3):
    ds = open_input(
        None,
        calibration=ring3 / "calibration_ring3.json",
        detections=ring3 / "detections",
        cameras=["00_01"],
    )
    assert list(ds.cameras) == ["00_01"] and list(ds[0].detections) == ["00_01"]


@pytest.mark.parametrize(
    ("cameras", "message"),
    [
        (["00_00", "00_07"], r"unknown camera\(s\) 00_07; the input has 00_00, 00_01, 00_02"),
        (["00_01", "00_01"], r"camera\(s\) 00_01 named more than once"),
        ([], "the camera list is empty"),
        (" , ", "the camera list is empty"),
    ],
)
def test_camera_subset_errors(ring3, cameras, message):
    with pytest.raises(InputError, match=message) as info:
        open_input(ring3, cameras=cameras)
    assert "\n" not in str(info.value) and str(ring3) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input": None}, "give an INPUT folder"),
        ({"input": None, "detections": "DETS"}, "pass --calibration"),
        ({"input": "EMPTY"}, "input folder is empty"),
        ({"input": "MISSING"}, "input not found"),
        ({"input": "FILE"}, "INPUT must be a folder"),
        ({"input": "REC"}, "pass --calibration FILE"),
        ({"input": "SCENE", "calibration": "MISSING"}, "calibration file not found"),
        ({"input": "SCENE", "detections_format": "yolo"}, "unknown detections format"),
        ({"input": "SCENE", "start": 100}, "no frames selected"),
    ],
)
def test_one_line_errors(scene, tmp_path, kwargs, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "rec" / "cam0").mkdir(parents=True)
    paths = {
        "EMPTY": tmp_path / "empty",
        "MISSING": tmp_path / "missing",
        "FILE": tmp_path / "file.txt",
        "REC": tmp_path / "rec",
        "SCENE": scene,
        "DETS": scene / "detections",
    }
    kwargs = {k: paths.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(InputError, match=message) as info:
        open_input(**kwargs)
    assert "\n" not in str(info.value)
