"""Own recordings: name matching, image-size fitting, lazy frames, detections, the real 4-camera demo."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from tessetrack.data.own_cameras import (
    OwnCamerasDataset,
    find_sources,
    fit_camera_to_frames,
    match_sources,
)
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.detections import Detections2D, write_openpose

W, H = 32, 24


def _camera(name: str, width: int = W, height: int = H) -> Camera:
    K = np.array([[50.0, 0, width / 2], [0, 50.0, height / 2], [0, 0, 1]])
    return Camera(name, K, np.eye(3), np.zeros(3), width=width, height=height)


def _write_video(path: Path, n: int, value: int, fps: float = 25.0) -> Path:
    """n lossless frames; frame i is uniformly (value + i) in every channel."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (W, H))
    for i in range(n):
        writer.write(np.full((H, W, 3), value + i, np.uint8))
    writer.release()
    return path


# -- name matching -------------------------------------------------------------------------------


def test_match_exact_contained_and_numeric():
    # exact, case-insensitive, contained (longest: "cam10" not "cam1"), numeric ("3" vs "view_03")
    got = match_sources(["cam1", "CAM2", "video_cam10", "view_03"], ["cam1", "cam2", "cam10", "3"])
    assert got == {"cam1": "cam1", "CAM2": "cam2", "video_cam10": "cam10", "view_03": "3"}


def test_match_sorted_fallback_warns(caplog):
    with caplog.at_level(logging.WARNING):
        got = match_sources(["left", "right", "top"], ["B", "A", "C"])
    assert got == {"left": "A", "right": "B", "top": "C"}  # natural sorted order on both sides
    assert "sorted order" in caplog.text


def test_match_unknown_folder_names_it_and_lists_cameras():
    with pytest.raises(InputError, match=r"'cam05'.*cam01, cam02, cam03, cam04"):
        match_sources(["cam01", "cam02", "cam03", "cam05"], ["cam01", "cam02", "cam03", "cam04"])
    with pytest.raises(InputError, match=r"'x'.*a, b"):
        match_sources(["x"], ["a", "b"])


def test_fit_camera_to_frames(caplog):
    cam = _camera("c", 64, 48)
    assert fit_camera_to_frames(cam, (64, 48), "v.mp4") is cam
    half = fit_camera_to_frames(cam, (32, 24), "v.mp4")
    # halving: f 50 -> 25, c = 0.5·(32 + 0.5) − 0.5 = 15.75 (pixel-centre convention of scaled())
    assert (half.width, half.height) == (32, 24)
    np.testing.assert_allclose(half.K[0], [25.0, 0.0, 15.75])
    unknown = _camera("u", 0, 0)
    assert (fit_camera_to_frames(unknown, (32, 24), "v").width, unknown.height) == (32, 0)
    with pytest.raises(InputError, match="rotated"):
        fit_camera_to_frames(cam, (48, 64), "v.mp4")


# -- synthetic recordings ------------------------------------------------------------------------


def test_videos_folder_lazy_frames_and_detections(tmp_path):
    vids = tmp_path / "rec"
    vids.mkdir()
    _write_video(vids / "cam_1.avi", 4, value=10)
    _write_video(vids / "cam_2.avi", 4, value=100)
    cams = {"1": _camera("1"), "2": _camera("2", 64, 48), "3": _camera("3")}  # "3" has no video
    people = np.arange(2 * 25 * 3, dtype=float).reshape(2, 25, 3)
    people[..., 2] = np.linspace(0.1, 1.0, 50).reshape(2, 25)  # confidences in [0, 1]
    write_openpose(tmp_path / "dets", Detections2D("body25", {"cam_2": {1: people}}))
    ds = OwnCamerasDataset(vids, calibration=cams, detections=tmp_path / "dets")
    assert list(ds.cameras) == ["1", "2"] and len(ds) == 4 and ds.frames == [0, 1, 2, 3]
    assert ds.fps == pytest.approx(25.0)
    assert ds.cameras["2"].width == W  # 64×48 calibration rescaled to the 32×24 video
    frame = ds[2]
    assert frame.frame == 2 and set(frame.images) == {"1", "2"}
    # lossless frames: camera "2" frame 2 is uniformly 100 + 2
    assert np.all(frame.images["2"]() == 102) and np.all(frame.images["1"]() == 12)
    np.testing.assert_array_equal(ds[1].detections["2"], people)
    # camera "1" has no detections at all: its view is left out (no entry), not "nobody seen"
    assert "1" not in ds[1].detections and ds[1].detections_joint_set == "body25"
    assert ds[0].detections["2"].shape == (0, 25, 3)
    picked = OwnCamerasDataset(vids, calibration=cams, start=1, stride=2, cameras=["2"])
    assert picked.frames == [1, 3] and list(picked.cameras) == ["2"]


def test_image_folders_and_explicit_mapping(tmp_path):
    for cam, value in (("a", 5), ("b", 50)):
        folder = tmp_path / "imgs" / cam
        folder.mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((H, W, 3), value + i, np.uint8))
    cams = {"a": _camera("a"), "b": _camera("b")}
    ds = OwnCamerasDataset(tmp_path / "imgs", calibration=cams, fps=30.0)
    assert len(ds) == 3 and ds.fps == 30.0
    assert np.all(ds[-1].images["b"]() == 52)
    mapped = OwnCamerasDataset({"b": tmp_path / "imgs" / "a"}, calibration=cams)
    assert np.all(mapped[0].images["b"]() == 5)
    with pytest.raises(InputError, match=r"zz.*a, b"):
        OwnCamerasDataset({"zz": tmp_path / "imgs" / "a"}, calibration=cams)


def test_detections_only(tmp_path):
    dets = Detections2D("body25", {"c1": {3: np.ones((1, 25, 3))}, "c2": {5: np.ones((2, 25, 3))}})
    ds = OwnCamerasDataset(
        None, calibration={"c1": _camera("c1"), "c2": _camera("c2")}, detections=dets
    )
    assert ds.frames == [3, 5] and list(ds.cameras) == ["c1", "c2"]
    assert ds[1].images == {} and ds[1].detections["c2"].shape == (2, 25, 3)


def test_recording_errors(tmp_path):
    vids = tmp_path / "v"
    vids.mkdir()
    _write_video(vids / "c1.avi", 4, 0)
    _write_video(vids / "c2.avi", 3, 0)
    cams = {"c1": _camera("c1"), "c2": _camera("c2")}
    with pytest.raises(InputError, match=r"c1\.avi \(4 frames\).*c2\.avi \(3 frames\)"):
        OwnCamerasDataset(vids, calibration=cams)
    assert len(OwnCamerasDataset(vids, calibration=cams, trim_to_shortest=True)) == 3
    with pytest.raises(InputError, match=r"'c2'.*c1, c9"):
        OwnCamerasDataset(
            vids, calibration={"c1": _camera("c1"), "c9": _camera("c9"), "x": _camera("x")}
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no video files"):
        find_sources(tmp_path / "empty")
    with pytest.raises(InputError, match="detections, or both"):
        OwnCamerasDataset(None, calibration=cams)


# -- the real pose2sim demo (4 mp4s + Qualisys calibration) --------------------------------------


def test_real_videos_with_unmatched_names_and_scaled_camera(shared_data, caplog):
    videos = shared_data / "multiperson_videos_4cams" / "videos"
    assert sorted(find_sources(shared_data / "multiperson_videos_4cams")) == [
        "cam01",
        "cam02",
        "cam03",
        "cam04",
    ]  # found inside videos/
    # names "A".."D" match no file: paired in sorted order with a warning; "C" is calibrated at
    # half size 544×960 and is rescaled to the 1088×1920 frames
    cams = {n: _camera(n, 1088, 1920) for n in "ABD"} | {"C": _camera("C", 544, 960)}
    with caplog.at_level(logging.WARNING):
        ds = OwnCamerasDataset(videos, calibration=cams)
    assert "cam03 -> C" in caplog.text
    assert len(ds) == 100 and ds.fps == pytest.approx(60.0)
    assert (ds.cameras["C"].width, ds.cameras["C"].height) == (1088, 1920)
    assert ds.sources["C"].path.name == "cam03.mp4"
    assert ds[0].images["C"]().shape == (1920, 1088, 3)


def test_real_videos_with_qualisys_calibration(shared_data):
    calibration = pytest.importorskip("tessetrack.io.calibration")
    root = shared_data / "multiperson_videos_4cams"
    calib_file = root / "calibration" / "Calib.qca.txt"
    cams = calibration.load_cameras(calib_file)
    ds = OwnCamerasDataset(root / "videos", calibration=calib_file)
    assert len(ds.cameras) == 4 and len(ds) > 0
    assert set(ds.cameras) == set(cams)
    for name, cam in ds.cameras.items():
        image = ds[0].images[name]()
        assert image.dtype == np.uint8 and image.shape == (cam.height, cam.width, 3)
    # the calibration is found on its own next to videos/
    assert len(OwnCamerasDataset(root).cameras) == 4


def test_match_digits_are_not_split():
    # 0-based calibration names vs 1-based files: "0" must not be found inside "cam04", and with
    # some names matched the leftovers are not paired blindly
    with pytest.raises(InputError, match="'cam04'"):
        match_sources(["cam01", "cam02", "cam03", "cam04"], ["0", "1", "2", "3"])
    assert match_sources(["video_cam12", "video_cam1"], ["cam1", "cam12"]) == {
        "video_cam12": "cam12",
        "video_cam1": "cam1",
    }


def test_a_calibration_for_another_resolution_is_named(shared_data, caplog):
    """The 960×512 views of panoptic_demo_5views with a calibration made for 1920×1080 images: one
    warning names every camera and the size its principal point suggests."""
    from tessetrack.tracking.inputs import open_input

    with caplog.at_level(logging.WARNING):
        ds = open_input(shared_data / "panoptic_demo_5views")
    assert len(ds.cameras) == 5
    lines = [r.getMessage() for r in caplog.records if "principal point" in r.getMessage()]
    assert len(lines) == 1 and "5 camera(s)" in lines[0] and "~1899x1133" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        open_input(shared_data / "multiperson_videos_4cams")
    assert not any("principal point" in r.getMessage() for r in caplog.records)
