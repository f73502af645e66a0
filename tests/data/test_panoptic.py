"""CMU Panoptic reader on the real sample sequence and on small hand-made folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tessetrack.data import VOXELPOSE_CAMERAS, PanopticDataset, open_dataset
from tessetrack.data.panoptic import read_body3d_scene
from tessetrack.errors import InputError
from tessetrack.structures import MultiViewFrame


@pytest.fixture
def band1(shared_data: Path) -> Path:
    return shared_data / "panoptic" / "160906_band1"


def _copy_sequence(src: Path, dst: Path, frames: list[int]) -> Path:
    """A small copy of a sequence under ``dst/<seq name>`` with some of its pose files."""
    seq = dst / src.name
    (seq / "hdPose3d_stage1_coco19").mkdir(parents=True)
    shutil.copy(src / f"calibration_{src.name}.json", seq)
    for f in frames:
        name = f"body3DScene_{f:08d}.json"
        shutil.copy(src / "hdPose3d_stage1_coco19" / name, seq / "hdPose3d_stage1_coco19" / name)
    return seq


def test_real_sequence_frames_cameras_and_people(band1: Path):
    ds = PanopticDataset(band1)
    assert len(ds) == 20 and ds.frames == list(range(168, 188))
    assert list(ds.cameras) == [f"00_{i:02d}" for i in range(31)]
    assert ds.joint_set == "panoptic19" and ds.fps == pytest.approx(29.97)
    frame = ds[0]
    assert isinstance(frame, MultiViewFrame) and frame.frame == 168
    assert [p.id for p in frame.people] == [0, 1, 2]
    assert frame.images == {} and frame.detections == {}
    assert ds[-1].frame == 187 and ds.frame(170).frame == 170
    assert [f.frame for f in ds] == ds.frames
    with pytest.raises(IndexError):
        ds[20]
    with pytest.raises(InputError, match="not among"):
        ds.frame(5)


def test_real_joints_are_metres_with_scores_and_nan_for_missing(band1: Path):
    person = PanopticDataset(band1).frame(169).people[0]
    raw = json.loads((band1 / "hdPose3d_stage1_coco19" / "body3DScene_00000169.json").read_text())
    flat = np.asarray(raw["bodies"][0]["joints19"]).reshape(19, 4)
    # joint 0 (neck): 124.147 cm -> 1.24147 m; confidence 0.709717 >= 0.1 is kept
    np.testing.assert_allclose(person.joints[0], flat[0, :3] / 100)
    assert person.joints[0, 0] == pytest.approx(1.24147)
    assert person.scores[0] == pytest.approx(0.709717)
    # joint 8 (l_ankle) is (0, 0, 0, -1) in the file: not reconstructed -> NaN, score 0
    assert np.isnan(person.joints[8]).all() and person.scores[8] == 0
    # all other joints lie within the 5 m dome
    assert np.nanmax(np.abs(person.joints)) < 5.0


def test_confidence_threshold_is_configurable(band1: Path):
    path = band1 / "hdPose3d_stage1_coco19" / "body3DScene_00000169.json"
    # body 1 joint 11 (r_wrist) has confidence 0.138: kept at 0.1, zeroed at 0.2
    assert read_body3d_scene(path, 0.1)[1].scores[11] == pytest.approx(0.138)
    assert read_body3d_scene(path, 0.2)[1].scores[11] == 0.0


def test_camera_and_frame_selection(band1: Path):
    ds = PanopticDataset(band1, cameras=VOXELPOSE_CAMERAS, start=170, end=180, stride=3)
    assert list(ds.cameras) == ["00_03", "00_06", "00_12", "00_13", "00_23"]
    assert ds.frames == [170, 173, 176, 179]
    assert list(ds[1].cameras) == list(VOXELPOSE_CAMERAS)
    with pytest.raises(InputError, match="00_99"):
        PanopticDataset(band1, cameras=["00_03", "00_99"])
    with pytest.raises(InputError, match="stride"):
        PanopticDataset(band1, stride=0)


def test_images_are_lazy_rgb_and_optional(band1: Path, tmp_path: Path):
    seq = _copy_sequence(band1, tmp_path, [168, 169])
    folder = seq / "hdImgs" / "00_03"
    folder.mkdir(parents=True)
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 255  # pure blue in OpenCV's BGR order
    cv2.imwrite(str(folder / "00_03_00000168.png"), bgr)
    ds = PanopticDataset(seq, cameras=["00_03", "00_06"])
    frame = ds.frame(168)
    assert set(frame.images) == {"00_03"}  # 00_06 has no image folder: no image, no error
    rgb = frame.images["00_03"]()
    assert rgb.shape == (4, 6, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 0], [0, 0, 255])  # blue is the last channel in RGB
    assert ds.frame(169).images == {}
    (folder / "00_03_00000168.png").unlink()  # loaders are lazy: the file is read on call
    with pytest.raises(InputError, match="cannot read image"):
        frame.images["00_03"]()


def test_video_frames_are_read_lazily(band1: Path, tmp_path: Path):
    seq = _copy_sequence(band1, tmp_path, [168])
    videos = seq / "hdVideos"
    videos.mkdir()
    writer = cv2.VideoWriter(
        str(videos / "hd_00_03.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (64, 48)
    )
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write mp4 here")
    for value in range(0, 250, 10):  # 25 frames of grey levels 0, 10, ..., 240
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    frame = PanopticDataset(seq, cameras=["00_03"]).frame(168)
    with pytest.raises(InputError, match="no frame 168"):  # the video has 25 frames only
        frame.images["00_03"]()
    from tessetrack.data.panoptic import load_video_frame_rgb

    image = load_video_frame_rgb(videos / "hd_00_03.mp4", 12)
    # frame 12 was written with grey level 12 * 10 = 120 (lossy codec: within a few levels)
    assert image.shape == (48, 64, 3) and abs(float(image.mean()) - 120) < 6


def test_bad_input_names_file_and_problem(band1: Path, tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        PanopticDataset(tmp_path / "missing")
    seq = _copy_sequence(band1, tmp_path, [168])
    scene = seq / "hdPose3d_stage1_coco19" / "body3DScene_00000168.json"

    scene.write_text('{"bodies": [')
    with pytest.raises(InputError, match="malformed JSON") as info:
        PanopticDataset(seq)[0]
    assert str(scene) in str(info.value)

    scene.write_text(json.dumps({"bodies": [{"id": 0, "joints15": [0] * 60}]}))
    with pytest.raises(InputError, match=r"bodies\[0\] has no 'joints19'") as info:
        PanopticDataset(seq)[0]
    assert info.value.path == str(scene)

    scene.write_text(json.dumps({"bodies": [{"id": 0, "joints19": [0] * 75}]}))
    with pytest.raises(InputError, match="76 numbers"):
        PanopticDataset(seq)[0]

    scene.write_text(json.dumps({"bodies": [{"joints19": [0] * 76}]}))
    with pytest.raises(InputError, match="integer 'id'"):
        PanopticDataset(seq)[0]

    scene.write_text(json.dumps({"people": []}))
    with pytest.raises(InputError, match="'bodies' list"):
        PanopticDataset(seq)[0]

    # extra fields are fine
    scene.write_text(
        json.dumps({"bodies": [{"id": 4, "joints19": [1.0] * 76, "extra": 1}], "x": 2})
    )
    assert PanopticDataset(seq)[0].people[0].id == 4

    (seq / f"calibration_{seq.name}.json").unlink()
    with pytest.raises(InputError, match="calibration"):
        PanopticDataset(seq)


def test_open_dataset_detects_panoptic_and_rejects_unknown(band1: Path, tmp_path: Path):
    ds = open_dataset(band1, cameras=VOXELPOSE_CAMERAS)
    assert isinstance(ds, PanopticDataset) and len(ds.cameras) == 5
    with pytest.raises(InputError, match=r"actorsGT\.mat.*_body3d\.npz.*calibration_\*\.json"):
        open_dataset(tmp_path)
    with pytest.raises(InputError, match="not found"):
        open_dataset(tmp_path / "nope")
