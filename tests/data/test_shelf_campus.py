"""TUM Shelf / Campus reader: real 3-frame samples and hand-made folders."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from tessetrack.data import STANDARD_EVALUATION_FRAMES, ShelfCampusDataset, open_dataset
from tessetrack.data.shelf_campus import read_actors_gt, read_voxelpose_detections
from tessetrack.errors import InputError


def _write_actors_gt(path: Path, poses: list[list[np.ndarray | None]]) -> None:
    """Write ``actor3D`` like the TUM files: (1, A) cells of (F, 1) cells of 14×3 or empty."""
    actors = np.empty((1, len(poses)), dtype=object)
    for a, frames in enumerate(poses):
        cells = np.empty((len(frames), 1), dtype=object)
        for f, pose in enumerate(frames):
            cells[f, 0] = np.zeros((1, 0)) if pose is None else pose
        actors[0, a] = cells
    scipy.io.savemat(str(path), {"actor3D": actors})


def _copy_dataset(shared_data: Path, name: str, dst: Path) -> Path:
    root = dst / name
    root.mkdir()
    shutil.copy(shared_data / name / f"calibration_{name}.json", root)
    shutil.copy(shared_data / name / "actorsGT.mat", root)
    return root


def test_real_shelf_people_cameras_and_detections(shared_data: Path, caplog):
    with caplog.at_level(logging.WARNING):
        ds = ShelfCampusDataset(shared_data / "shelf")
    # the sample keeps frames 0..2, outside the standard 300..600: read whole, with a warning
    assert "standard shelf evaluation range" in caplog.text
    assert ds.kind == "shelf" and ds.frames == [0, 1, 2] and ds.joint_set == "shelf14"
    assert list(ds.cameras) == ["0", "1", "2", "3", "4"]
    assert {(c.width, c.height) for c in ds.cameras.values()} == {(1032, 776)}
    frame = ds[1]
    assert [p.id for p in frame.people] == [0, 2]  # actors 1 and 3 are empty in the sample
    # actor 0, frame 0, joint 0 (r_ankle) from the file: (-0.14304384, -0.09228449, -0.04118636) m
    np.testing.assert_allclose(ds[0].people[0].joints[0], [-0.14304384, -0.09228449, -0.04118636])
    # VoxelPose predictions: key "0_1" (camera 0, frame 1) holds 5 COCO-17 people, the last a
    # copy of the third (their 8 common joints a median 4.8 px apart): kept once
    assert frame.detections_joint_set == "coco17"
    assert frame.detections["0"].shape == (4, 17, 3)
    assert [ds[0].detections[c].shape[0] for c in ds.cameras] == [3, 3, 5, 4, 4]
    assert "2 of 59 2D people were found twice" in caplog.text  # and "4_2" (4.9 % of the size)
    raw = read_voxelpose_detections(shared_data / "shelf" / "pred_shelf_maskrcnn_hrnet_coco.pkl",
                                    list(ds.cameras))  # fmt: skip
    assert raw[("0", 1)].shape[0] == 5 and sum(len(p) for p in raw.values()) == 59
    np.testing.assert_array_equal(frame.detections["0"], raw[("0", 1)][:4])
    gt2d = ds.ground_truth_2d(0)
    assert set(gt2d) == set(ds.cameras) and gt2d["0"].shape == (2, 14, 2)
    # actor2D[0][0][0] joint 0 from the file: (244.17184684, 794.9880006) px
    np.testing.assert_allclose(gt2d["0"][0, 0], [244.17184684, 794.9880006])


def test_real_campus_shares_the_reader(shared_data: Path):
    ds = open_dataset(shared_data / "campus")
    assert isinstance(ds, ShelfCampusDataset) and ds.kind == "campus"
    assert list(ds.cameras) == ["0", "1", "2"]
    assert {(c.width, c.height) for c in ds.cameras.values()} == {(360, 288)}
    frame = ds[2]
    assert [p.id for p in frame.people] == [0] and frame.people[0].joints.shape == (14, 3)
    # the sample's prediction pickle is empty for every camera/frame: (0, 17, 3) each
    assert {k: v.shape for k, v in frame.detections.items()} == {c: (0, 17, 3) for c in "012"}
    no_det = ShelfCampusDataset(shared_data / "campus", detections=False)
    assert no_det[0].detections == {} and no_det[0].detections_joint_set is None


def test_standard_range_is_an_option_not_a_rule(shared_data: Path, tmp_path: Path):
    root = _copy_dataset(shared_data, "shelf", tmp_path)
    pose = np.arange(42, dtype=float).reshape(14, 3) / 100
    _write_actors_gt(root / "actorsGT.mat", [[pose] * 610, [None] * 610])
    ds = ShelfCampusDataset(root)
    # Shelf's standard frames: 300..600 inclusive = 301 frames
    assert STANDARD_EVALUATION_FRAMES["shelf"] == ((300, 601),)
    assert len(ds) == 301 and ds.frames[0] == 300 and ds.frames[-1] == 600
    assert len(ShelfCampusDataset(root, evaluation_range=False)) == 610
    assert ShelfCampusDataset(root, start=10, end=20, stride=5).frames == [10, 15]
    # Campus: 350..470 and 650..750 inclusive (this 610-frame file has only the first range)
    assert ShelfCampusDataset(root, kind="campus").frames == list(range(350, 471))
    frame = ds[0]
    assert [p.id for p in frame.people] == [0]
    np.testing.assert_array_equal(frame.people[0].joints, pose)
    assert frame.detections == {}  # no pred_*.pkl in this folder
    _write_actors_gt(root / "actorsGT.mat", [[pose] * 800, [None] * 800])
    campus = ShelfCampusDataset(root, kind="campus").frames
    assert campus == list(range(350, 471)) + list(range(650, 751))


def test_images_for_both_naming_schemes(shared_data: Path, tmp_path: Path):
    root = _copy_dataset(shared_data, "campus", tmp_path)
    for cam, name in (("0", "campus4-c0-00001.png"), ("1", "img_000001.png")):
        (root / f"Camera{cam}").mkdir()
        cv2.imwrite(str(root / f"Camera{cam}" / name), np.full((3, 5, 3), 7, np.uint8))
    (root / "Camera0" / "notes.txt").write_text("not an image")
    ds = ShelfCampusDataset(root)
    assert set(ds[1].images) == {"0", "1"} and ds[0].images == {}
    assert ds[1].images["0"]().shape == (3, 5, 3)
    assert set(ShelfCampusDataset(root, cameras=["1"])[1].images) == {"1"}


def test_read_actors_gt_structure(shared_data: Path):
    gt = read_actors_gt(shared_data / "shelf" / "actorsGT.mat")
    assert gt.poses_3d.shape == (4, 3, 14, 3) and gt.poses_2d.shape == (4, 3, 5, 14, 2)
    np.testing.assert_array_equal(gt.present(), [[True] * 3, [False] * 3, [True] * 3, [False] * 3])
    assert np.isnan(gt.poses_2d[1]).all()


def test_bad_input_names_file_and_problem(shared_data: Path, tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        ShelfCampusDataset(tmp_path / "missing")
    root = _copy_dataset(shared_data, "shelf", tmp_path)
    mat = root / "actorsGT.mat"
    data = mat.read_bytes()
    mat.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="truncated") as info:
        ShelfCampusDataset(root)
    assert info.value.path == str(mat)
    mat.write_bytes(b"not a mat file at all")
    with pytest.raises(InputError, match="cannot read MATLAB"):
        read_actors_gt(mat)
    scipy.io.savemat(str(mat), {"actors": np.zeros(3)})
    with pytest.raises(InputError, match="no 'actor3D'.*actors"):
        read_actors_gt(mat)
    _write_actors_gt(mat, [[np.zeros((15, 3))]])
    with pytest.raises(InputError, match=r"actor3D\[0\]\[0\].*14×3"):
        read_actors_gt(mat)
    _write_actors_gt(mat, [[np.zeros((14, 3))], [np.zeros((14, 3))] * 2])
    with pytest.raises(InputError, match="different frame counts"):
        read_actors_gt(mat)
    _write_actors_gt(mat, [[np.zeros((14, 3))]])
    with pytest.raises(InputError, match="camera.*'9'|9.*not in the calibration"):
        ShelfCampusDataset(root, cameras=["9"])
    with pytest.raises(InputError, match="detections file not found"):
        ShelfCampusDataset(root, detections=tmp_path / "pred.pkl")
    (root / "calibration_shelf.json").unlink()
    with pytest.raises(InputError, match="calibration"):
        ShelfCampusDataset(root)
