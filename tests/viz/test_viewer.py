"""`tessetrack view` / :mod:`tessetrack.viz.viewer`: recordings read back with rerun's own reader."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from tessetrack.cli import main
from tessetrack.errors import TesseTrackError
from tessetrack.io.calibration import save_cameras
from tessetrack.io.tracks import save_tracks
from tessetrack.skeletons import PANOPTIC19
from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.synth.rigs import make_rig
from tessetrack.viz.overlay import id_color
from tessetrack.viz.viewer import GROUND_TRUTH_COLOR, INSTALL_HINT, log_recording, view

FPS = 30.0
NAN_JOINT = 5  # track 3 at frame 11 has this joint unknown


def _tracks() -> Tracks:
    """2 tracks over frames 10, 11, 12: ID 3 throughout, ID 8 at frames 10 and 11 only."""
    rng = np.random.default_rng(7)
    frames = []
    for frame in (10, 11, 12):
        people = []
        for track_id in (3, 8) if frame < 12 else (3,):
            joints = rng.uniform(-1.5, 2.0, size=(PANOPTIC19.num_joints, 3))  # J×3, metres
            if track_id == 3 and frame == 11:
                joints[NAN_JOINT] = np.nan
            people.append(PersonPose(id=track_id, joints=joints))
        frames.append(FramePoses(frame=frame, people=tuple(people)))
    return Tracks(joint_names=PANOPTIC19.joints, frames=tuple(frames), fps=FPS)


def _cameras() -> tuple:
    return make_rig("ring", num_cameras=3, image_size=(64, 64)).cameras


def _read_rrd(path: Path) -> dict[str, list[dict[str, object]]]:
    """Every logged row, by entity path: ``{"/world/...": [{column: value}, ...]}``."""
    chunk = pytest.importorskip("rerun.chunk", reason="reading .rrd files needs rerun-sdk>=0.38")
    rows: dict[str, list[dict[str, object]]] = defaultdict(list)
    for ch in chunk.RrdReader(path).stream():
        columns = ch.to_record_batch().to_pydict()
        for i in range(ch.num_rows):
            rows[ch.entity_path].append({k: v[i] for k, v in columns.items()})
    return rows


def _at(rows: list[dict[str, object]], column: str, frame: int) -> object:
    """The value of ``column`` logged at ``frame`` (exactly one such row)."""
    hits = [r[column] for r in rows if r.get("frame") == frame and r.get(column) is not None]
    assert len(hits) == 1, (column, frame, hits)
    return hits[0]


def _static(rows: list[dict[str, object]], column: str) -> object:
    """The value of ``column`` logged once, statically."""
    (value,) = [r[column] for r in rows if column in r]
    return value


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tracks, tuple, dict]:
    """The recording :func:`log_recording` writes for `_tracks()` and `_cameras()`, read back."""
    rr = pytest.importorskip("rerun")
    path = tmp_path_factory.mktemp("viewer") / "scene.rrd"
    tracks, cameras = _tracks(), _cameras()
    rec = rr.RecordingStream("tessetrack-test", recording_id="test")
    rec.save(path)
    log_recording(rec, tracks, {c.name: c for c in cameras})
    rec.flush()
    rec.disconnect()
    return tracks, cameras, _read_rrd(path)


def test_cameras_are_pinholes_at_their_world_pose(recording) -> None:
    _, cameras, rows = recording
    for cam in cameras:
        logged = rows[f"/world/cameras/{cam.name}"]
        translation = _static(logged, "Transform3D:translation")
        mat3x3 = _static(logged, "Transform3D:mat3x3")
        K = _static(logged, "Pinhole:image_from_camera")
        res = _static(logged, "Pinhole:resolution")
        # world-from-camera: translation = camera centre -Rᵀt, rotation Rᵀ (rerun stores 3×3
        # matrices column-major, so the 9 numbers of Rᵀ column by column are R row by row)
        np.testing.assert_allclose(np.reshape(translation, 3), cam.center, atol=1e-6)
        np.testing.assert_allclose(np.reshape(mat3x3, (3, 3)), cam.R, atol=1e-6)
        np.testing.assert_allclose(np.reshape(K, (3, 3)).T, cam.K, atol=1e-4)
        np.testing.assert_array_equal(np.reshape(res, 2), [64.0, 64.0])


def test_both_tracks_on_three_frames_with_exact_joints(recording) -> None:
    tracks, _, rows = recording
    tracked = {path: rs for path, rs in rows.items() if path.startswith("/world/tracks/")}
    assert {"/world/tracks/3/joints", "/world/tracks/8/joints", "/world/tracks/3/bones"} <= set(
        tracked
    )
    frames = {r["frame"] for rs in tracked.values() for r in rs}
    assert frames == {10, 11, 12}
    joints_in = tracks.frames[0].people[1].joints  # ID 8 at frame 10
    got = np.array(_at(rows["/world/tracks/8/joints"], "Points3D:positions", 10))
    np.testing.assert_allclose(got, joints_in, atol=1e-6)  # float32 storage, |x| < 2 m
    # the time timeline is frame / fps seconds: 10 / 30 s
    (row,) = [r for r in rows["/world/tracks/8/joints"] if r["frame"] == 10]
    assert row["time"].total_seconds() == pytest.approx(10 / FPS, abs=1e-6)
    assert _at(rows["/world/tracks/8/joints"], "Points3D:labels", 10) == ["8"]
    rgb = id_color(8)
    packed = (rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xFF  # rerun's RGBA u32
    assert _at(rows["/world/tracks/8/joints"], "Points3D:colors", 10) == [packed]


def test_unknown_joint_and_its_bones_are_left_out(recording) -> None:
    tracks, _, rows = recording
    joints_in = tracks.frames[1].people[0].joints  # ID 3 at frame 11, joint 5 NaN
    ids = _at(rows["/world/tracks/3/joints"], "Points3D:keypoint_ids", 11)
    assert ids == [j for j in range(19) if j != NAN_JOINT]
    got = np.array(_at(rows["/world/tracks/3/joints"], "Points3D:positions", 11))
    np.testing.assert_allclose(got, np.delete(joints_in, NAN_JOINT, axis=0), atol=1e-6)
    limbs = PANOPTIC19.limb_indices
    touching = sum(NAN_JOINT in limb for limb in limbs)
    assert touching > 0
    strips = _at(rows["/world/tracks/3/bones"], "LineStrips3D:strips", 11)
    assert len(strips) == len(limbs) - touching
    assert len(_at(rows["/world/tracks/3/bones"], "LineStrips3D:strips", 10)) == len(limbs)


def test_track_that_ends_is_cleared(recording) -> None:
    _, _, rows = recording
    clears = rows["/world/tracks/8"]  # ID 8 is gone at frame 12
    assert [r["frame"] for r in clears] == [12]
    assert clears[0]["Clear:is_recursive"] == [True]
    assert "/world/tracks/3" not in rows  # ID 3 never leaves


def test_cli_save_with_calibration_and_ground_truth(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tessetrack.cli import app

    tracks_path = save_tracks(_tracks(), tmp_path / "tracks.json")
    calibration = save_cameras(_cameras(), tmp_path / "calibration.json")
    out = tmp_path / "out" / "view.rrd"
    result = CliRunner().invoke(
        app,
        ["view", str(tracks_path), "--calibration", str(calibration),
         "--ground-truth", str(tracks_path), "--save", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    rows = _read_rrd(out)
    assert {f"/world/cameras/00_0{i}" for i in range(3)} <= set(rows)
    assert {"/world/tracks/3/joints", "/world/tracks/8/joints"} <= set(rows)
    assert {"/world/ground_truth/3/joints", "/world/ground_truth/8/bones"} <= set(rows)
    gt = rows["/world/ground_truth/3/joints"]
    assert sorted(r["frame"] for r in gt) == [10, 11, 12]
    r, g, b = GROUND_TRUTH_COLOR
    assert _at(gt, "Points3D:colors", 12) == [(r << 24) | (g << 16) | (b << 8) | 0xFF]
    assert _at(gt, "Points3D:labels", 12) == ["gt 3"]
    # the .json round trip keeps the joints to 1e-6 m or better
    joints_in = _tracks().frames[2].people[0].joints
    got = np.array(_at(rows["/world/tracks/3/joints"], "Points3D:positions", 12))
    np.testing.assert_allclose(got, joints_in, atol=1e-5)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code, capsys.readouterr().err


def test_missing_rerun_says_how_to_install(tmp_path: Path, monkeypatch, capsys) -> None:
    tracks_path = save_tracks(_tracks(), tmp_path / "tracks.json")
    monkeypatch.setitem(sys.modules, "rerun", None)  # `import rerun` raises ImportError
    with pytest.raises(TesseTrackError, match=r'pip install "tessetrack\[viewer\]"'):
        view(tracks_path, save=tmp_path / "x.rrd")
    code, err = _run(["view", str(tracks_path), "--save", str(tmp_path / "x.rrd")], capsys)
    assert code == 2
    assert err.strip() == f"error: {INSTALL_HINT}"
    assert not (tmp_path / "x.rrd").exists()


def test_missing_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    pytest.importorskip("rerun")
    missing = tmp_path / "nope.json"
    code, err = _run(["view", str(missing), "--save", str(tmp_path / "x.rrd")], capsys)
    assert code == 2
    assert err.strip() == f"error: {missing}: tracks file not found"
    tracks_path = save_tracks(_tracks(), tmp_path / "tracks.json")
    no_cal = tmp_path / "cal.json"
    code, err = _run(
        ["view", str(tracks_path), "--calibration", str(no_cal), "--save", str(tmp_path / "x.rrd")],
        capsys,
    )
    assert code == 2
    assert err.count("\n") == 1 and str(no_cal) in err and "not found" in err


def test_default_spawns_native_viewer_and_needs_a_display(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    pytest.importorskip("rerun")
    tracks_path = save_tracks(_tracks(), tmp_path / "tracks.json")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code, err = _run(["view", str(tracks_path)], capsys)  # no --save/--web: spawn
    assert code == 2
    assert "no display for the native rerun viewer" in err and "--web" in err
    with pytest.raises(TesseTrackError, match="nothing to do"):
        view(tracks_path)
