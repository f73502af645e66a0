"""The real-Shelf judging path: a TUM Shelf folder (the real calibration and ``actorsGT.mat``),
OpenPose BODY25 JSON per camera, ``tessetrack track --checkpoint detections-shelf`` and
``tessetrack evaluate --protocol pcp``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tessetrack.cli import main
from tessetrack.data import ShelfCampusDataset
from tessetrack.skeletons import BODY25, SHELF14


def _body25_from_shelf14(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(14, 3) Shelf joints -> (25, 3) BODY25 joints and (25,) confidences (0 where Shelf has no
    counterpart: the feet; eyes and ears are placed on the head from the shoulder line)."""
    s = {name: pose[k] for k, name in enumerate(SHELF14.joints)}
    # OpenPose's neck is between the shoulders; on real people the nose is ~0.245 m above it and
    # two thirds of the way from Shelf's bottom_head to its top_head (README, "head geometry")
    head = {
        "neck": 0.5 * (s["l_shoulder"] + s["r_shoulder"]),
        "nose": s["bottom_head"] + 0.67 * (s["top_head"] - s["bottom_head"]),
        "mid_hip": 0.5 * (s["l_hip"] + s["r_hip"]),
    }
    side = s["l_shoulder"] - s["r_shoulder"]
    side = side / np.linalg.norm(side)
    up = s["top_head"] - s["bottom_head"]
    eyes = s["bottom_head"] + 0.8 * up
    ears = s["bottom_head"] + 0.6 * up
    head.update(l_eye=eyes + 0.03 * side, r_eye=eyes - 0.03 * side)
    head.update(l_ear=ears + 0.075 * side, r_ear=ears - 0.075 * side)
    out = np.zeros((25, 3))
    conf = np.zeros(25)
    for k, name in enumerate(BODY25.joints):
        if name in s or name in head:
            out[k] = s[name] if name in s else head[name]
            conf[k] = 0.9
    return out, conf


def test_real_shelf_files_with_openpose_json_score_pcp(shared_data: Path, tmp_path: Path, capsys):
    root = tmp_path / "Shelf"
    root.mkdir()
    for f in ("calibration_shelf.json", "actorsGT.mat"):
        shutil.copy(shared_data / "shelf" / f, root)
    ds = ShelfCampusDataset(root)
    dets = tmp_path / "dets"
    for cam_name, camera in ds.cameras.items():
        folder = dets / f"Camera{cam_name}"
        folder.mkdir(parents=True)
        rvec, _ = cv2.Rodrigues(camera.R)  # OpenCV's projection: a route independent of ours
        for index, frame_id in enumerate(ds.frames):
            people = []
            for person in ds[index].people:
                joints, conf = _body25_from_shelf14(np.asarray(person.joints))
                uv, _ = cv2.projectPoints(joints, rvec, camera.t, camera.K, camera.dist)
                uv = uv.reshape(-1, 2)
                flat = np.concatenate([uv, conf[:, None]], axis=1).ravel()
                people.append({"pose_keypoints_2d": [float(v) for v in flat]})
            (folder / f"img_{frame_id:012d}_keypoints.json").write_text(
                json.dumps({"version": 1.3, "people": people})
            )
    tracks = tmp_path / "shelf.json"
    with pytest.raises(SystemExit) as info:
        main([
            "track", str(root), "--detections", str(dets), "--checkpoint", "detections-shelf",
            "--start", "0", "--output", str(tracks),
        ])  # fmt: skip
    assert info.value.code == 0, capsys.readouterr().err[-2000:]
    report = tmp_path / "pcp.json"
    with pytest.raises(SystemExit) as info:
        main([
            "evaluate", "--pred", str(tracks), "--gt", str(root), "--protocol", "pcp",
            "--json", str(report),
        ])  # fmt: skip
    assert info.value.code == 0, capsys.readouterr().err[-2000:]
    result = json.loads(report.read_text())
    assert result["joint_set"] == "shelf14" and result["frames"] == 3
    pcp = result["pcp"]
    # actors 1 and 3 are in the sample's frames (actor 2 is empty there); clean detections of the
    # real people in the real cameras: every limb group must be found (100 % when this was written)
    assert set(pcp) >= {"actor_1", "actor_3", "average"} and "actor_2" not in pcp
    assert pcp["average"] >= 90.0, pcp
    assert min(pcp["per_limb"].values()) >= 80.0, pcp
