"""Unreadable images: the lazy loaders refuse a corrupt, truncated or empty file with an InputError
naming it (``cv2.imread`` alone would return None silently)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tessetrack.data import PanopticDataset
from tessetrack.errors import InputError
from tessetrack.io.video import ImageFolderReader, read_image_rgb


def _jpeg_bytes() -> bytes:
    image = np.full((24, 32, 3), 120, np.uint8)
    image[4:12, 6:20] = 250
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


def _corrupt(kind: str) -> bytes:
    good = _jpeg_bytes()
    if kind == "garbage":
        return b"this is not a JPEG at all" * 20
    if kind == "truncated":
        return good[: len(good) // 2]  # cut in the middle of the entropy-coded data
    return b""  # empty


def _panoptic(root: Path) -> Path:
    """A one-camera, two-frame Panoptic sequence folder (calibration + hdImgs/00_00/, no poses)."""
    seq = root / "seq"
    (seq / "hdPose3d_stage1_coco19").mkdir(parents=True)
    cam = {
        "name": "00_00",
        "type": "hd",
        "resolution": [32, 24],
        "K": [[30.0, 0, 16], [0, 30.0, 12], [0, 0, 1]],
        "distCoef": [0, 0, 0, 0, 0],
        "R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        "t": [[0], [0], [300]],
    }
    (seq / "calibration_seq.json").write_text(json.dumps({"cameras": [cam]}))
    for f in (0, 1):
        (seq / "hdPose3d_stage1_coco19" / f"body3DScene_{f:08d}.json").write_text(
            json.dumps({"version": 0.7, "univTime": 0.0, "fpsType": "hd_29_97", "bodies": []})
        )
    images = seq / "hdImgs" / "00_00"
    images.mkdir(parents=True)
    (images / "00_00_00000000.jpg").write_bytes(_jpeg_bytes())
    return seq


@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty"])
def test_read_image_rgb_names_the_file(tmp_path, kind):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(_corrupt(kind))
    with pytest.raises(InputError, match=r"broken\.jpg: cannot read image") as info:
        read_image_rgb(bad)
    assert info.value.path == str(bad)


def test_panoptic_lazy_loader_refuses_a_corrupt_jpeg(tmp_path):
    seq = _panoptic(tmp_path)
    bad = seq / "hdImgs" / "00_00" / "00_00_00000001.jpg"
    bad.write_bytes(_corrupt("truncated"))
    ds = PanopticDataset(seq)  # opening reads no image: the loaders are lazy
    good = ds.frame(0).images["00_00"]()
    assert good.shape == (24, 32, 3) and good.dtype == np.uint8
    loader = ds.frame(1).images["00_00"]
    with pytest.raises(InputError, match="cannot decode") as info:
        loader()
    assert info.value.path == str(bad) and "00_00_00000001.jpg" in str(info.value)


def test_image_folder_reader_refuses_a_corrupt_file_when_read(tmp_path):
    folder = tmp_path / "cam0"
    folder.mkdir()
    for i in range(3):
        (folder / f"img{i}.jpg").write_bytes(_jpeg_bytes())
    (folder / "img1.jpg").write_bytes(_corrupt("garbage"))
    reader = ImageFolderReader(folder)  # the first image is fine: opening succeeds
    assert reader.read(0).shape == (24, 32, 3) and reader.read(2).shape == (24, 32, 3)
    with pytest.raises(InputError, match=r"img1\.jpg: cannot read image"):
        reader.read(1)
    with pytest.raises(InputError, match=r"img1\.jpg"):
        list(reader)  # iteration stops at the bad file with the same error


def test_image_folder_whose_first_file_is_corrupt_is_refused_on_open(tmp_path):
    folder = tmp_path / "cam0"
    folder.mkdir()
    (folder / "img0.jpg").write_bytes(_corrupt("empty"))
    (folder / "img1.jpg").write_bytes(_jpeg_bytes())
    with pytest.raises(InputError, match=r"img0\.jpg: cannot read image: the file is empty"):
        ImageFolderReader(folder)
