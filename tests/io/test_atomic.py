"""Outputs written whole or not at all, and output paths checked before any work."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.io.atomic import atomic_path, atomic_write_text, check_output
from tessetrack.io.calibration import RIG_SIZE_RANGE_M, load_cameras
from tessetrack.viz.render import VideoSink


def test_a_failure_inside_the_block_keeps_the_previous_file(tmp_path):
    out = tmp_path / "tracks.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["tracks.json"]


def test_an_os_error_while_writing_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match=r"writing failed \(No space left") as info:
        with atomic_path(tmp_path / "x.json"):
            raise OSError(28, "No space left on device")
    assert "\n" not in str(info.value)
    assert atomic_write_text(tmp_path / "y.json", "{}").read_text() == "{}"


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (lambda p: p.mkdir(), {}, "is an existing folder"),
        (lambda p: None, {"suffixes": (".json",)}, "must end in .json"),
        (lambda p: p.write_text("in"), {"inputs": ("{out}",)}, "would overwrite an input"),
        (lambda p: p.write_text("x"), {"folder": True}, "must be a folder"),
    ],
)
def test_check_output_refusals(tmp_path, make, kwargs, message):
    out = tmp_path / "out.csv"
    make(out)
    kwargs = {k: tuple(str(out) for _ in v) if k == "inputs" else v for k, v in kwargs.items()}
    with pytest.raises(InputError, match=message):
        check_output(out, **kwargs)


def test_check_output_under_a_file_and_unwritable(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        check_output(tmp_path / "file" / "sub" / "t.json")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # running as root: permissions are not enforced
            pytest.skip("permissions are not enforced for this user")
        with pytest.raises(InputError, match="no write permission"):
            check_output(locked / "t.json")
    finally:
        locked.chmod(0o700)
    assert check_output(tmp_path / "new" / "t.json", inputs=(None, {"a": 1})).name == "t.json"


def test_an_interrupted_video_keeps_the_previous_one(tmp_path):
    out = tmp_path / "overlay.gif"
    out.write_bytes(b"previous video")
    with pytest.raises(KeyboardInterrupt), VideoSink(out, 10.0) as sink:
        sink.append(np.zeros((16, 16, 3), np.uint8))
        raise KeyboardInterrupt
    assert out.read_bytes() == b"previous video" and os.listdir(tmp_path) == ["overlay.gif"]
    with VideoSink(out, 10.0) as sink:
        sink.append(np.zeros((16, 16, 3), np.uint8))
    assert out.read_bytes()[:3] == b"GIF"


def _voxelpose(path, centres_in_file_units):
    cams = {
        str(i): {"fx": 500.0, "fy": 500.0, "cx": 320.0, "cy": 240.0, "R": np.eye(3).tolist(),
                 "T": [[c[0]], [c[1]], [c[2]]]}
        for i, c in enumerate(centres_in_file_units)
    }  # fmt: skip
    path.write_text(json.dumps(cams))
    return path


def test_an_implausible_rig_names_the_unit_that_fits(tmp_path):
    # a 4 m rig written in metres, read as the VoxelPose default mm: 4 mm apart; as m: 4 m
    path = _voxelpose(tmp_path / "calib.json", [[0, 0, 0], [4.0, 0, 0]])
    with pytest.raises(InputError, match=r"0\.004 m apart.*pass --units m$"):
        load_cameras(path)
    cams = load_cameras(path, units="m")
    assert np.linalg.norm(cams["0"].center - cams["1"].center) == pytest.approx(4.0)


def test_an_explicit_unit_only_warns(tmp_path, caplog):
    lo, _ = RIG_SIZE_RANGE_M
    path = _voxelpose(tmp_path / "calib.json", [[0, 0, 0], [100.0, 0, 0]])  # 10 cm in mm
    assert lo > 0.1
    load_cameras(path, units="mm")  # a stereo pair, stated by the user
    assert "not a plausible rig" in caplog.text


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_written_file_has_the_permissions_open_would_give(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        (tmp_path / "b.json").write_text("{}")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o640
