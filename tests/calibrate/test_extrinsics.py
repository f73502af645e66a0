from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from rig_helpers import people_ring, people_seen, turned
from tessetrack.calibrate.compare import compare_rigs, rotation_deg
from tessetrack.calibrate.extrinsics import _selected, calibrate_from_people, refine_from_people
from tessetrack.cli import app
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.calibration import load_cameras, save_cameras
from tessetrack.io.detections import Detections2D


def _cameras() -> dict[str, Camera]:
    K = np.array([[1000.0, 0, 640], [0, 1000, 360], [0, 0, 1]])
    return {n: Camera(n, K, np.eye(3), np.zeros(3), np.zeros(5), 1280, 720) for n in "abc"}


def test_camera_that_sees_nobody_is_named():
    people = np.zeros((1, 25, 3))
    people[0, :, :2], people[0, :, 2] = 500.0, 0.9
    frames = {f: people for f in range(3)}
    dets = Detections2D(
        "body25", {"a": frames, "b": frames, "c": {f: np.zeros((0, 25, 3)) for f in range(3)}}
    )
    with pytest.raises(InputError, match="camera\\(s\\) c see nobody"):
        calibrate_from_people(dets, _cameras())


def test_too_short_a_recording_is_refused(rng):
    # one frame, one person: 25 joints per camera, fewer than the 30 matches a pair needs
    people = np.concatenate([rng.uniform(300, 700, (1, 25, 2)), np.ones((1, 25, 1))], axis=-1)
    dets = Detections2D("body25", {n: {0: people} for n in "abc"})
    with pytest.raises(InputError, match="longer recording"):
        calibrate_from_people(dets, _cameras())


def test_people_calibrate_the_real_rig(shared_data, tmp_path):
    """Every 5th of the 100 frames of the 4-camera recording, the built-in detector, the
    Qualisys intrinsics; compared with the Qualisys poses after a similarity alignment.

    Measured with the detector's duplicates dropped: rotation errors 1.4°, 1.7°, 1.2°, 1.2°
    (cam01..cam04), centre errors 4.3, 5.8, 5.8, 4.1 cm (before: 0.5°, 1.5°, 3.2°, 1.2° and 4.5,
    8.9, 11.9, 9.4 cm). The scale: two people, whose joints measure 1.70 m and 1.40 m tall at
    Qualisys' scale, so the default 1.7 m mean height makes the camera distances 10.2 % too long
    (with all 100 frames 9.8 %); given those two heights instead (``--person-height 1.70,1.40``, as
    a tape measure would), within 5 %. The cameras' heights, the scale taken out, agree with
    Qualisys' (its floor is z = 0 too) within 0.18 m: the people's up is 1.8° off Qualisys' (1.2°
    before). The bounds leave room for other platforms' decoders and BLAS."""
    pytest.importorskip("mediapipe")
    root = shared_data / "multiperson_videos_4cams"
    qca = root / "calibration" / "Calib.qca.txt"
    out, dets = tmp_path / "calibration.toml", tmp_path / "detections"
    args = ["calibrate", "extrinsics", str(root), "--intrinsics", str(qca), "--end", "100",
            "--stride", "5", "--detections", str(dets)]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 people of mean height 1.7 m" in result.output
    ours, reference = load_cameras(out), load_cameras(qca)
    cmp = compare_rigs(ours, reference)
    assert max(cmp.rotation_deg.values()) < 5.0, cmp.rotation_deg
    assert max(cmp.centre_m.values()) < 0.2, cmp.centre_m
    assert 1.0 < cmp.distance_ratio < 1.15
    for name, cam in ours.items():  # z up, floor at 0: the cameras' heights agree
        assert abs(cam.center[2] / cmp.distance_ratio - reference[name].center[2]) < 0.25
    each = tmp_path / "each.toml"
    result = CliRunner().invoke(app, [*args, "--person-height", "1.40,1.70", "-o", str(each)])
    assert result.exit_code == 0, result.output
    assert "2 people of heights 1.7, 1.4 m" in result.output
    assert 0.95 < compare_rigs(load_cameras(each), reference).distance_ratio < 1.05


def test_refining_a_drifted_rig_brings_its_cameras_back(rng):
    """Three of four cameras turned 2-3° (about each of their axes) and moved 6-12 cm; refined
    from the people, every camera is back within 0.1° of the truth in the world itself (no
    similarity taken out) and within 1 cm after a similarity: the refined rig is placed by the
    camera whose given pose the others agree with best (cam0, the one not drifted), not by the one
    that sees the most people (cam2: the others miss one person in 5 frames); the scale comes from
    the drifted cameras' distances (within 1 %: cameras 8 m apart within 6 cm in the world)."""
    truth = people_ring()
    dets = people_seen(truth, rng, hidden=("cam0", "cam1", "cam3"))
    drift = {"cam1": (3.0, [1, 0, 0], [0.06, 0, 0]), "cam2": (3.0, [0, 1, 0], [0, 0.1, 0.03]),
             "cam3": (2.5, [0, 0, 1], [-0.05, 0.05, -0.08])}  # fmt: skip
    given = {n: turned(c, *[np.asarray(x, float) for x in drift[n]]) if n in drift else c
             for n, c in truth.items()}  # fmt: skip
    before = compare_rigs(given, truth)
    assert max(before.rotation_deg.values()) > 1.0
    result = refine_from_people(dets, given)
    after = compare_rigs(result.cameras, truth)
    assert abs(after.distance_ratio - 1) < 0.01
    assert max(after.centre_m.values()) < 0.01, after.centre_m
    for n, cam in result.cameras.items():
        assert rotation_deg(cam.R @ truth[n].R.T) < 0.1, n
        assert np.linalg.norm(cam.center - truth[n].center) < 0.06, n
        np.testing.assert_array_equal(cam.K, given[n].K)  # the intrinsics are the given ones
    assert max(f.median_px for f in result.fits.values()) < 1.5  # the noise: 0.5 px per axis
    kept = [n for n in given if np.allclose(result.cameras[n].R, given[n].R, atol=1e-9)
            and np.allclose(result.cameras[n].t, given[n].t, atol=1e-9)]  # fmt: skip
    assert kept == ["cam0"]


def test_the_cameras_that_did_not_move_outvote_the_one_that_sees_the_most_people(rng):
    """Only cam2 turned 3° and moved 10 cm, and it sees the most people (the others miss one
    person in 5 frames): the refined rig stays in the world of the three others, every camera
    within 0.1° and 1 cm of the truth."""
    truth = people_ring()
    dets = people_seen(truth, rng, frames=20, hidden=("cam0", "cam1", "cam3"))
    given = dict(truth, cam2=turned(truth["cam2"], 3.0, np.array([0, 1.0, 0]),
                                     np.array([0, 0.1, 0])))  # fmt: skip
    result = refine_from_people(dets, given)
    for n, cam in result.cameras.items():
        assert rotation_deg(cam.R @ truth[n].R.T) < 0.1, n
        assert np.linalg.norm(cam.center - truth[n].center) < 0.01, n


def test_a_refined_rig_is_put_back_in_the_given_world_frame_and_scale(rng, monkeypatch):
    """The rig the bundle adjustment returns is only known up to scale (and sits at the fixed
    camera): shrunk to 0.37 of its size, the same rig must still come back as the given one."""
    import tessetrack.calibrate.extrinsics as extrinsics

    truth = people_ring()
    dets = people_seen(truth, rng, frames=10)
    plain = refine_from_people(dets, truth).cameras
    refine = extrinsics.refine_rig

    def shrunk(*args, **kwargs):
        rig, fixed = refine(*args, **kwargs)
        return dataclasses.replace(rig, tvecs=0.37 * rig.tvecs), fixed

    monkeypatch.setattr(extrinsics, "refine_rig", shrunk)
    result = refine_from_people(dets, truth)
    for n, cam in result.cameras.items():
        np.testing.assert_allclose(cam.center, plain[n].center, atol=1e-9)
        np.testing.assert_allclose(cam.R, plain[n].R, atol=1e-9)


def test_a_camera_too_far_off_to_match_anyone_is_named(rng):
    truth = people_ring()
    given = dict(truth, cam3=turned(truth["cam3"], 25.0, np.array([1.0, 0, 0]), np.zeros(3)))
    with pytest.raises(InputError, match="camera\\(s\\) cam3: no person matches cam0's people"):
        refine_from_people(people_seen(truth, rng, frames=10), given)


def test_refining_needs_two_cameras(rng):
    one = {"cam0": people_ring()["cam0"]}
    with pytest.raises(InputError, match="two cameras or more, got 1"):
        refine_from_people(people_seen(one, rng, frames=2), one)


def test_detections_kept_from_a_longer_run_are_cut_to_the_frames_asked_for():
    people = np.zeros((1, 25, 3))
    dets = Detections2D("body25", {n: {f: people for f in range(10)} for n in "ab"})
    picked = _selected(dets, 2, 9, 3)
    assert picked.frames == (2, 5, 8) and set(picked.by_camera) == {"a", "b"}
    assert _selected(picked, 2, 9, 3).frames == (2, 5, 8)  # the detector's own run: all kept
    assert _selected(dets, None, None, 4).frames == (0, 4, 8)
    with pytest.raises(InputError, match="no frames selected"):
        _selected(dets, 20, None, 1)


def _write_openpose(folder, frames: dict[int, np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for f, people in frames.items():
        body = [{"pose_keypoints_2d": p.ravel().tolist()} for p in people]
        (folder / f"{f:012d}_keypoints.json").write_text(json.dumps({"people": body}))


def test_command_refuses_bad_recordings_in_one_line_and_writes_nothing(tmp_path, rng):
    """From kept detections (no detector run): a camera that sees nobody, and a recording of one
    frame (too short to relate two cameras)."""
    intrinsics = tmp_path / "intrinsics.toml"
    save_cameras(_cameras(), intrinsics)
    person = np.concatenate([rng.uniform(300, 700, (1, 25, 2)), np.ones((1, 25, 1))], axis=-1)
    cases = {
        "blind": ({"a": {f: person for f in range(3)}, "b": {f: person for f in range(3)},
                   "c": {f: person[:0] for f in range(3)}}, "camera(s) c see nobody"),
        "short": ({n: {0: person} for n in "abc"}, "use a longer recording"),
    }  # fmt: skip
    for case, (by_camera, message) in cases.items():
        for name, frames in by_camera.items():
            _write_openpose(tmp_path / case / name, frames)
        out = tmp_path / f"{case}.toml"
        result = CliRunner().invoke(app, ["calibrate", "extrinsics", str(tmp_path), "--intrinsics",
                                          str(intrinsics), "--detections", str(tmp_path / case),
                                          "-o", str(out)])  # fmt: skip
        assert result.exit_code != 0 and isinstance(result.exception, InputError)
        assert message in str(result.exception) and "\n" not in str(result.exception)
        assert not out.exists()
    for height in ("tall", "inf", "170", "1.7,"):
        result = CliRunner().invoke(app, ["calibrate", "extrinsics", str(tmp_path), "--intrinsics",
                                          str(intrinsics), "--person-height", height, "-o",
                                          str(tmp_path / "x.toml")])  # fmt: skip
        assert isinstance(result.exception, InputError), height
        assert "--person-height" in str(result.exception) and "\n" not in str(result.exception)
    assert not (tmp_path / "x.toml").exists()


def test_command_refines_a_calibration_and_says_how_far_each_camera_moved(tmp_path, rng):
    truth = people_ring()
    dets = people_seen(truth, rng, frames=20)
    given = dict(truth, cam2=turned(truth["cam2"], 3.0, np.array([1.0, 0, 0]), np.zeros(3)))
    calibration = tmp_path / "lab.toml"
    save_cameras(given, calibration)
    for name, frames in dets.by_camera.items():
        _write_openpose(tmp_path / "detections" / name, frames)
    out = tmp_path / "refined.toml"
    args = ["calibrate", "extrinsics", str(tmp_path), "--intrinsics", str(calibration),
            "--detections", str(tmp_path / "detections"), "--refine", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "moved" in said and "refined, in its world frame and scale" in said
    assert max(compare_rigs(load_cameras(out), truth).rotation_deg.values()) < 0.2
    bad = CliRunner().invoke(app, [*args[:-2], "--from", "board", "-o", str(tmp_path / "b.toml")])
    assert isinstance(bad.exception, InputError) and "--from people only" in str(bad.exception)
    assert not (tmp_path / "b.toml").exists()


def test_a_camera_that_fits_far_worse_than_the_others_is_warned_about():
    from tessetrack.calibrate.extrinsics import CameraFit
    from tessetrack.cli import _poor_fits

    fits = {"cam01": CameraFit(1192, 3.7, 9.0), "cam02": CameraFit(1465, 6.1, 12.0),
            "cam03": CameraFit(302, 18.6, 40.0), "cam04": CameraFit(1970, 7.2, 14.0)}  # fmt: skip
    (line,) = _poor_fits(fits)
    assert line.startswith("cam03 fits worse") and "18.6 px against 3.7-7.2" in line
    assert "302 joints" in line
    assert _poor_fits(dict(fits, cam03=CameraFit(302, 9.0, 20.0))) == []  # under 10 px
    assert _poor_fits(dict(fits, cam03=CameraFit(302, 12.0, 20.0))) == []  # under twice 6.1


def test_a_camera_refined_further_than_a_drift_is_warned_about():
    from tessetrack.cli import _far_turns

    before = people_ring()
    after = dict(before, cam1=turned(before["cam1"], 15.0, [0, 1, 0], [0, 0, 0]),
                 cam2=turned(before["cam2"], 4.0, [1, 0, 0], [0, 0, 0]))  # fmt: skip
    (line,) = _far_turns(before, after)
    assert line.startswith("cam1 turned 15° from the given pose, more than a drift")
    assert _far_turns(before, dict(before, cam2=after["cam2"])) == []  # 4°: a drift


def test_a_rig_is_placed_exactly_where_the_cameras_that_did_not_move_say(rng):
    """The rig estimate of the true cameras in a frame of its own (turned, shifted, 0.37 of the
    size): placed by the given poses, one of which is 8° and 50 cm off, every camera comes back
    exactly, the one given off included."""
    from tessetrack.calibrate.extrinsics import _consensus_frame, _metric_cameras
    from tessetrack.calibrate.people import RigEstimate

    truth = people_ring()
    Q = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()  # x_world = s Q x_rig + d
    s, d = 1 / 0.37, rng.normal(size=3)
    R_rig = [c.R @ Q for c in truth.values()]
    c_rig = [Q.T @ (c.center - d) / s for c in truth.values()]
    rig = RigEstimate(np.stack([Rotation.from_matrix(R).as_rotvec() for R in R_rig]),
                      np.stack([-R @ c for R, c in zip(R_rig, c_rig, strict=True)]),
                      np.zeros((1, 1, 25, 3)), np.zeros((4, 1, 1), dtype=int))  # fmt: skip
    given = dict(truth, cam3=turned(truth["cam3"], 8.0, [0, 1, 0], [0.5, 0, 0]))
    frame = _consensus_frame(rig, list(given.values()), s)
    placed = _metric_cameras(rig, tuple(truth), given, frame)
    for n, cam in placed.items():
        np.testing.assert_allclose(cam.R, truth[n].R, atol=1e-9)
        np.testing.assert_allclose(cam.center, truth[n].center, atol=1e-9)
