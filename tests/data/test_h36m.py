"""Human3.6M reader on the real preprocessed sample (mmpose layout)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tessetrack.data import H36MDataset, open_dataset
from tessetrack.data.h36m import parse_h36m_imgname
from tessetrack.errors import InputError


def test_real_sample_rows_cameras_and_world_joints(shared_data: Path):
    ds = open_dataset(shared_data / "h36m")
    assert isinstance(ds, H36MDataset)
    assert len(ds) == 4 and ds.joint_set == "h36m17" and ds.fps == 50.0
    assert list(ds.cameras) == ["S1_54138969", "S5_54138969", "S7_55011271", "S8_55011271"]
    s = ds.samples[0]
    assert (s.subject, s.action, s.camera, s.frame_number) == ("S1", "Directions_1", "54138969", 1)
    npz = np.load(shared_data / "h36m" / "test_h36m_body3d.npz")
    for i, frame in enumerate(ds):
        (name,) = frame.cameras
        cam = frame.cameras[name]
        (person,) = frame.people
        # the npz holds camera-frame metres: moving the world joints back must give them again
        np.testing.assert_allclose(person.joints @ cam.R.T + cam.t, npz["S"][i, :, :3], atol=1e-9)
        # world frame: H36M's floor is z = 0 (up), the capture area is within 3 m of the origin;
        # a wrong camera convention puts rows 2 and 3 (camera 55011271) 10 m away, upside down
        # (measured: pelvis heights 0.91, 0.07 (sitting down), 0.92, 0.98 m)
        assert (person.joints[:, 2] > -0.1).all() and (person.joints[:, 2] < 2.1).all()
        assert np.abs(person.joints[:, :2]).max() < 3.0
        assert person.joints[10, 2] > person.joints[0, 2]  # head above pelvis
        # projecting with the pinhole part only (no distortion) lands on the 2D ground truth:
        # measured max 1.49 / 1.19 / 2.21 / 2.44 px for the four rows
        x_cam = npz["S"][i, :, :3]
        uv = x_cam[:, :2] / x_cam[:, 2:] * np.diag(cam.K)[:2] + cam.K[:2, 2]
        assert np.abs(uv - npz["part"][i, :, :2]).max() < 3.0
        assert frame.detections_joint_set == "h36m17" and frame.detections[name].shape == (1, 17, 3)


def test_camera_selection_keeps_its_rows(shared_data: Path):
    ds = H36MDataset(shared_data / "h36m", cameras=["S7_55011271"])
    assert ds.frames == [2] and list(ds.cameras) == ["S7_55011271"]
    with pytest.raises(InputError, match="S1_1"):
        H36MDataset(shared_data / "h36m", cameras=["S1_1"])


def test_imgname_parsing():
    s = parse_h36m_imgname("S8/S8_WalkDog_1.55011271/S8_WalkDog_1.55011271_000026.jpg")
    assert (s.subject, s.action, s.camera, s.frame_number) == ("S8", "WalkDog_1", "55011271", 26)
    with pytest.raises(InputError, match="not '<subject>"):
        parse_h36m_imgname("frame_0001.jpg")


def test_bad_input(shared_data: Path, tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        H36MDataset(tmp_path / "missing")
    root = tmp_path / "h36m"
    root.mkdir()
    shutil.copy(shared_data / "h36m" / "cameras.pkl", root)
    npz = root / "test_h36m_body3d.npz"
    npz.write_bytes((shared_data / "h36m" / "test_h36m_body3d.npz").read_bytes()[:200])
    with pytest.raises(InputError, match="truncated") as info:
        H36MDataset(root)
    assert info.value.path == str(npz)
    np.savez(npz, imgname=np.array(["S1_Directions_1.54138969_000001.jpg"]), S=np.zeros((1, 16, 4)))
    with pytest.raises(InputError, match=r"\(N, 17, 3 or 4\)"):
        H36MDataset(root)
    np.savez(npz, imgname=np.array(["S1_Directions_1.54138969_000001.jpg"]))
    with pytest.raises(InputError, match="'imgname' and 'S'"):
        H36MDataset(root)
    (root / "cameras.pkl").unlink()
    np.savez(npz, imgname=np.array(["S1_Directions_1.54138969_000001.jpg"]), S=np.zeros((1, 17, 4)))
    with pytest.raises(InputError, match="cameras.pkl"):
        H36MDataset(root)
