"""``detect_recording``: the layout ``track --detections`` reads, resuming, COCO output, errors;
with a stand-in detector (the real one is tested in test_blazepose.py and end to end in
tests/test_track_cli.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tessetrack.detector import detect_recording
from tessetrack.errors import InputError
from tessetrack.io.detections import load_detections

W, H = 64, 48


def _video(path, n: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25.0, (W, H))
    for i in range(n):
        writer.write(np.full((H, W, 3), 10 * i, np.uint8))
    writer.release()


class _Fake:
    """One person per image whose landmarks encode the frame (the image's brightness)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls = 0
        self.fail_at = fail_at

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt
        self.calls += 1
        lm = np.zeros((1, 33, 3))
        lm[0, :, 0] = float(image[0, 0, 0]) / 10
        lm[0, :, 1] = np.arange(33)
        lm[0, :, 2] = 0.9
        return lm


@pytest.fixture
def recording(tmp_path):
    root = tmp_path / "take"
    root.mkdir()
    for cam in ("cam1", "cam2"):
        _video(root / f"{cam}.avi", 4)
    return root


def test_openpose_layout_read_back_and_resumed(recording, tmp_path):
    out = tmp_path / "dets"
    fake = _Fake(fail_at=5)  # interrupted at the 6th image
    with pytest.raises(KeyboardInterrupt):
        detect_recording(recording, out, detector=fake)
    written = sorted(p.name for p in (out / "cam1").iterdir()) + sorted(
        p.name for p in (out / "cam2").iterdir()
    )
    assert len(written) == 5 and not any(".part" in n for n in written)
    summary = detect_recording(recording, out, detector=_Fake())
    assert (summary.detected, summary.skipped, summary.frames) == (3, 5, 4)
    dets = load_detections(out)
    assert dets.joint_set == "body25" and sorted(dets.by_camera) == ["cam1", "cam2"]
    for frame in range(4):
        people = dets.get("cam2", frame)
        assert people.shape == (1, 25, 3)
        assert people[0, 0, 0] == pytest.approx(frame)  # the frame's own image was detected
    doc = json.loads((out / "cam1" / "000000000002_keypoints.json").read_text())
    assert len(doc["people"][0]["blazepose33_keypoints_2d"]) == 99


def test_duplicates_are_counted_for_this_call_only(recording, tmp_path):
    class Merging(_Fake):  # says it merged one copy per image, like the built-in detector
        duplicates = 0

        def __call__(self, image: np.ndarray) -> np.ndarray:
            self.duplicates += 1
            return super().__call__(image)

    det = Merging()
    det.duplicates = 7  # from an earlier run of the same detector
    summary = detect_recording(recording, tmp_path / "dets", detector=det)
    assert summary.detected == 8 and summary.duplicates == 8
    assert detect_recording(recording, tmp_path / "more", detector=_Fake()).duplicates == 0


def test_coco_output(recording, tmp_path):
    out = tmp_path / "coco"
    summary = detect_recording(recording, out, format="coco", detector=_Fake(), end=3)
    assert summary.detected == 6
    dets = load_detections(out, format="coco")
    assert dets.joint_set == "coco17" and sorted(dets.get("cam1", 2)[0, :, 1]) == sorted(
        [
            0.0,
            2.0,
            5.0,
            7.0,
            8.0,
            11.0,
            12.0,
            13.0,
            14.0,
            15.0,
            16.0,
            23.0,
            24.0,
            25.0,
            26.0,
            27.0,
            28.0,
        ]
    )
    again = detect_recording(recording, out, format="coco", detector=_Fake(), end=3)
    assert (again.detected, again.skipped) == (0, 6)


def test_bad_outputs_and_formats(recording, tmp_path):
    a_file = tmp_path / "dets.json"
    a_file.write_text("{}")
    with pytest.raises(InputError, match="must be a folder"):
        detect_recording(recording, a_file, detector=_Fake())
    with pytest.raises(InputError, match="unknown detections format"):
        detect_recording(recording, tmp_path / "x", format="yolo", detector=_Fake())


def test_undecodable_video_is_named(tmp_path):
    root = tmp_path / "take"
    root.mkdir()
    (root / "cam1.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="cam1.mp4"):
        detect_recording(root, tmp_path / "dets", detector=_Fake())


class _Builtin(_Fake):
    """Stands in for the built-in detector (``BlazePose(config)``), so its settings are recorded."""

    made: list = []

    def __init__(self, config=None) -> None:
        super().__init__()
        self.config = config
        _Builtin.made.append(self)

    def close(self) -> None:
        pass


@pytest.fixture
def builtin(monkeypatch):
    import tessetrack.detector.recording as rec

    _Builtin.made = []
    monkeypatch.setattr(rec, "BlazePose", _Builtin)
    return _Builtin


def _files(out) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


@pytest.mark.parametrize("format", ["openpose", "coco"])
def test_the_settings_are_recorded_and_do_not_read_as_detections(recording, tmp_path, builtin,
                                                                 format):  # fmt: skip
    from tessetrack.detector import BlazePoseConfig, detector_settings, read_detector_settings
    from tessetrack.detector.recording import SETTINGS_FILE

    out = tmp_path / "dets"
    config = BlazePoseConfig(passes=1)
    assert detect_recording(recording, out, format=format, config=config).detected == 8
    assert read_detector_settings(out) == detector_settings(config)
    assert read_detector_settings(out)["passes"] == "1"
    assert "tessetrack = " in (out / SETTINGS_FILE).read_text()
    dets = load_detections(out)  # format found by itself: the settings file is no camera
    assert sorted(dets.by_camera) == ["cam1", "cam2"]
    again = detect_recording(recording, out, format=format, config=config)  # same settings
    assert (again.detected, again.skipped) == (0, 8)


def test_other_settings_do_not_add_to_unfinished_detections(recording, tmp_path, builtin):
    from tessetrack.detector import BlazePoseConfig

    out = tmp_path / "dets"
    detect_recording(recording, out, config=BlazePoseConfig(passes=2), end=2)  # 4 of 8 images
    before = _files(out)
    with pytest.raises(InputError, match=r"passes 2 \(now 1\).*the 4 images left") as err:
        detect_recording(recording, out, config=BlazePoseConfig(passes=1))
    assert str(err.value).startswith(str(out)) and "delete the folder" in str(err.value)
    assert _files(out) == before  # nothing written, nothing removed
    assert len(builtin.made) == 1  # refused before the detector was even made


def test_finished_detections_with_other_settings_are_reused_with_a_warning(recording, tmp_path,
                                                                           builtin, caplog):  # fmt: skip
    from tessetrack.detector import BlazePoseConfig

    out = tmp_path / "dets"
    detect_recording(recording, out, config=BlazePoseConfig(passes=2, max_people=4))
    before = {p: (out / p).read_bytes() for p in _files(out)}
    with caplog.at_level("WARNING"):
        summary = detect_recording(recording, out, config=BlazePoseConfig(passes=1, max_people=4))
    assert (summary.detected, summary.skipped) == (0, 8)
    warned = [r.getMessage() for r in caplog.records if r.name.endswith("recording")]
    assert len(warned) == 1 and "passes 2 (now 1)" in warned[0] and "max_people" not in warned[0]
    assert {p: (out / p).read_bytes() for p in _files(out)} == before  # settings file kept too


def test_detections_of_an_earlier_release_are_told_apart(recording, tmp_path, builtin, caplog):
    from tessetrack.detector.recording import SETTINGS_FILE

    out = tmp_path / "dets"
    detect_recording(recording, out, end=2)
    (out / SETTINGS_FILE).unlink()  # as written before the settings were recorded
    with pytest.raises(InputError, match=f"without a {SETTINGS_FILE}.*searched each image once"):
        detect_recording(recording, out)
    with caplog.at_level("WARNING"):
        assert detect_recording(recording, out, end=2).detected == 0
    assert any("reused as they are" in r.getMessage() for r in caplog.records)
    assert not (out / SETTINGS_FILE).exists()


def test_a_stand_in_detector_records_no_settings(recording, tmp_path):
    from tessetrack.detector.recording import SETTINGS_FILE

    detect_recording(recording, tmp_path / "dets", detector=_Fake())
    assert not (tmp_path / "dets" / SETTINGS_FILE).exists()


def test_other_cameras_or_frames_of_the_folder_count_too(recording, tmp_path, builtin):
    from tessetrack.detector import BlazePoseConfig, read_detector_settings

    out = tmp_path / "dets"
    detect_recording(recording, out, config=BlazePoseConfig(passes=1), cameras="cam1", end=2)
    with pytest.raises(InputError, match=r"passes 1 \(now 2\).*rerun with the recorded"):
        detect_recording(recording, out, cameras="cam2", end=2)  # another camera, other settings
    with pytest.raises(InputError, match=r"passes 1 \(now 2\)"):
        detect_recording(recording, out, cameras="cam1", start=2)  # other frames, same camera
    assert read_detector_settings(out)["passes"] == "1"  # the record stays true
    assert detect_recording(recording, out, config=BlazePoseConfig(passes=1)).detected == 6


def test_settings_are_recorded_as_their_fields_types(tmp_path):
    from tessetrack.detector import BlazePoseConfig, detector_settings

    same = BlazePoseConfig(min_detection=np.float64(0.3), max_people=np.int64(8), mask_pad=0.15)
    assert detector_settings(same) == detector_settings(BlazePoseConfig())
    assert detector_settings(BlazePoseConfig(tile_below=1))["tile_below"] == "1.0"


def test_detect_command_reads_mirrored_unless_told_not_to(recording, tmp_path, builtin, capsys):
    from tessetrack.cli import main
    from tessetrack.detector import read_detector_settings

    for flag, expected in ((None, True), ("--no-mirror", False)):
        out = tmp_path / f"dets_{expected}"
        with pytest.raises(SystemExit) as info:
            main(["detect", str(recording), "--output", str(out), *([flag] if flag else [])])
        assert info.value.code == 0, capsys.readouterr().err[-2000:]
        assert builtin.made[-1].config.mirror is expected
        assert read_detector_settings(out)["mirror"] == repr(expected)


def test_detections_of_a_release_that_read_each_image_once_resume_with_one_reading(
    recording, tmp_path, builtin, caplog
):
    from tessetrack.detector import BlazePoseConfig, detector_settings, read_detector_settings
    from tessetrack.detector.recording import SETTINGS_FILE

    out = tmp_path / "dets"
    detect_recording(recording, out, end=2, config=BlazePoseConfig(mirror=False))  # 4 of 8
    path = out / SETTINGS_FILE
    # the file as a release without the mirrored reading wrote it: no mirror line
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                            if not line.startswith("mirror")))  # fmt: skip
    assert read_detector_settings(out)["mirror"] == "False"
    assert read_detector_settings(out) == detector_settings(BlazePoseConfig(mirror=False))
    with pytest.raises(InputError, match=r"mirror False \(now True\)"):
        detect_recording(recording, out)  # the default reads mirrored: not mixed in
    assert detect_recording(recording, out, config=BlazePoseConfig(mirror=False)).detected == 4
