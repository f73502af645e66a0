"""Video files and image folders: sizes, lengths, random access vs sequential decoding, errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.io.video import (
    FrameSource,
    ImageFolderReader,
    VideoReader,
    check_synchronized,
    natural_key,
    open_frames,
)

W, H = 32, 24


def _frame(i: int) -> np.ndarray:
    """RGB frame i: red = 40·i, green = 7, blue = 200 − 40·i, plus a white pixel at column i."""
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 40 * i, 7, 200 - 40 * i
    rgb[0, i] = 255
    return rgb


def _write_video(path: Path, n: int, fps: float = 25.0) -> Path:
    """A lossless FFV1 video so decoded frames equal the written ones exactly."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (W, H))
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.ascontiguousarray(_frame(i)[..., ::-1]))  # OpenCV writes BGR
    writer.release()
    return path


def test_video_reader_size_length_fps_and_exact_rgb(tmp_path):
    video = VideoReader(_write_video(tmp_path / "cam1.avi", 5, fps=25.0))
    assert isinstance(video, FrameSource)
    assert len(video) == 5 and video.size == (W, H) and video.fps == pytest.approx(25.0)
    f3 = video.read(3)
    assert f3.shape == (H, W, 3) and f3.dtype == np.uint8
    # lossless codec: frame 3 is red 120 (=40·3), green 7, blue 80 (=200−120), in RGB order
    np.testing.assert_array_equal(f3, _frame(3))


def test_video_random_access_equals_sequential(tmp_path):
    video = VideoReader(_write_video(tmp_path / "v.avi", 5))
    sequential = list(video)
    assert len(sequential) == 5
    for i in (4, 0, 2, 2, 1, -1):  # backwards, repeated and negative indices all seek
        np.testing.assert_array_equal(video.read(i), sequential[i])
    np.testing.assert_array_equal(sequential[4], _frame(4))
    with pytest.raises(IndexError):
        video.read(5)


def test_video_reader_pickles_and_reopens(tmp_path):
    video = VideoReader(_write_video(tmp_path / "v.avi", 3))
    video.read(1)
    clone = pickle.loads(pickle.dumps(video))
    np.testing.assert_array_equal(clone.read(2), _frame(2))


def test_real_mp4_first_frame(shared_data):
    video = VideoReader(shared_data / "multiperson_videos_4cams" / "videos" / "cam01.mp4")
    # the pose2sim demo: 100 frames of 1088×1920 (portrait) at 60 fps
    assert (len(video), video.size, video.fps) == (100, (1088, 1920), 60.0)
    assert video.read(0).shape == (1920, 1088, 3)


def test_garbage_video_is_input_error(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video at all" * 64)
    with pytest.raises(InputError, match="x.mp4"):
        VideoReader(bad)
    with pytest.raises(InputError, match="not found"):
        VideoReader(tmp_path / "missing.mp4")


def test_image_folder_natural_order_and_rgb(tmp_path):
    folder = tmp_path / "cam"
    folder.mkdir()
    for i in (0, 2, 10, 1):  # written out of order; "f10" must come after "f2"
        cv2.imwrite(str(folder / f"f{i}.png"), _frame(i % 5)[..., ::-1])
    (folder / "notes.txt").write_text("ignored")
    reader = ImageFolderReader(folder, fps=30.0)
    assert [p.name for p in reader.files] == ["f0.png", "f1.png", "f2.png", "f10.png"]
    assert len(reader) == 4 and reader.size == (W, H) and reader.fps == 30.0
    np.testing.assert_array_equal(reader.read(3), _frame(0))  # f10 holds frame 10 % 5 = 0
    np.testing.assert_array_equal(reader.read(1), _frame(1))
    assert len(list(reader)) == 4


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        ImageFolderReader(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "0.jpg").write_bytes(b"garbage")
    with pytest.raises(InputError, match="0.jpg"):
        ImageFolderReader(bad)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    cv2.imwrite(str(mixed / "0.png"), _frame(0))
    cv2.imwrite(str(mixed / "1.png"), np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError, match="10x10"):
        ImageFolderReader(mixed).read(1)


def test_natural_key_orders_numbers_by_value():
    names = ["cam10", "cam2", "Cam1", "cam02b", "img_000100.jpg", "img_000099.jpg"]
    assert sorted(names, key=natural_key) == [
        "Cam1",
        "cam2",
        "cam02b",
        "cam10",
        "img_000099.jpg",
        "img_000100.jpg",
    ]


def test_open_frames_dispatch(tmp_path):
    video = _write_video(tmp_path / "a.avi", 2)
    assert isinstance(open_frames(video), VideoReader)
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "0.png"), _frame(0))
    assert isinstance(open_frames(folder, fps=10.0), ImageFolderReader)
    single = open_frames(folder / "0.png")  # one image: a camera with one frame
    assert isinstance(single, ImageFolderReader) and len(single) == 1
    assert single.read(0).shape == _frame(0).shape
    with pytest.raises(InputError, match="no such"):
        open_frames(tmp_path / "nothing")


def test_check_synchronized_lengths_and_rates(tmp_path):
    a = VideoReader(_write_video(tmp_path / "a.avi", 5, fps=25.0))
    b = VideoReader(_write_video(tmp_path / "b.avi", 3, fps=25.0))
    c = VideoReader(_write_video(tmp_path / "c.avi", 5, fps=30.0))
    assert check_synchronized({"a": a, "a2": a}) == 5
    with pytest.raises(InputError, match=r"a\.avi \(5 frames\).*b\.avi \(3 frames\)"):
        check_synchronized({"a": a, "b": b})
    assert check_synchronized({"a": a, "b": b}, trim_to_shortest=True) == 3
    with pytest.raises(InputError, match=r"a\.avi \(25 fps\).*c\.avi \(30 fps\)"):
        check_synchronized({"a": a, "c": c}, trim_to_shortest=True)
    with pytest.raises(InputError):
        check_synchronized({})
