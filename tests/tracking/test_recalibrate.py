"""Tracking with the calibration refined from the recording's own people."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rig_helpers import people_ring, people_seen, turned
from tessetrack.calibrate.compare import compare_rigs, rotation_deg
from tessetrack.calibrate.extrinsics import CameraFit
from tessetrack.calibrate.people import PeopleConfig
from tessetrack.cli import app
from tessetrack.data.base import MultiViewDataset
from tessetrack.errors import InputError
from tessetrack.eval.evaluate import evaluate, load_ground_truth
from tessetrack.geometry.camera import Camera
from tessetrack.io.calibration import load_cameras, save_cameras
from tessetrack.io.tracks import load_tracks
from tessetrack.structures import MultiViewFrame
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.recalibrate import (
    WithCameras,
    _refined,
    _weak_fits,
    dataset_detections,
    picked_frames,
    recalibrate,
    refined_calibration_path,
)
from tessetrack.tracking.runner import track_to_file


@pytest.fixture(scope="module")
def drifted(tmp_path_factory) -> tuple[Path, dict[str, Camera], Path]:
    """A synthetic ring scene (3 people, 30 frames, OpenPose-like detections) and its calibration
    with two of the five cameras turned 2-2.5° and moved 6-8 cm."""
    root = tmp_path_factory.mktemp("recalibrate")
    cfg = SynthConfig(rig="ring", num_people=3, num_frames=30, seed=11, split="test",
                      images=False, face="measured")  # fmt: skip
    truth = {c.name: c for c in generate_dataset(root / "scene", cfg).rig.cameras}
    names = list(truth)
    drift = {names[1]: (2.5, [1, 0, 0], [0.06, 0, 0]), names[3]: (2.0, [0, 1, 0], [0, 0.05, 0.05])}
    given = {n: turned(c, *drift[n]) if n in drift else c for n, c in truth.items()}
    calibration = root / "drifted.toml"
    save_cameras(given, calibration)
    return root / "scene", truth, calibration


def test_tracking_with_the_refined_calibration_places_the_people_closer(drifted, tmp_path):
    """The same detections tracked with a drifted calibration, as given and refined: the refined
    calibration (written beside the tracks) is back within 0.3° and 2 cm of the truth, and the
    tracks are closer to the ground truth than with the calibration as given."""
    scene, truth, calibration = drifted
    before = compare_rigs(load_cameras(calibration), truth)
    assert max(before.rotation_deg.values()) > 1.5
    gt = load_ground_truth(str(scene))
    mpjpe = {}
    for refine in (False, True):
        out = tmp_path / f"refine_{refine}.json"
        summary = track_to_file(None, output=out, calibration=calibration,
                                detections=scene / "detections", detections_format="openpose",
                                refine_calibration=refine, smooth="none")  # fmt: skip
        mpjpe[refine] = evaluate(load_tracks(out), gt, ["mpjpe"])["mpjpe_mm"]
        assert refined_calibration_path(out).exists() == refine
        assert (summary.calibration is not None) == refine
    after = compare_rigs(load_cameras(refined_calibration_path(tmp_path / "refine_True.json")),
                         truth)  # fmt: skip
    assert max(after.rotation_deg.values()) < 0.3, after.rotation_deg
    assert max(after.centre_m.values()) < 0.02, after.centre_m
    assert mpjpe[True] < 0.8 * mpjpe[False], mpjpe


class _Edited(MultiViewDataset):
    """A dataset whose frames are passed through ``edit(frame) -> frame``."""

    def __init__(self, dataset: MultiViewDataset, edit) -> None:
        self.base, self.edit = dataset, edit
        super().__init__(root=dataset.root, cameras=dataset.cameras, frames=dataset.frames,
                         joint_set=dataset.joint_set, fps=dataset.fps)  # fmt: skip

    def _load_frame(self, frame_id: int) -> MultiViewFrame:
        return self.edit(self.base.frame(frame_id))


def _without(camera: str, frame: int):
    """An edit: frame ``frame`` lacks camera ``camera`` (its view, its detections)."""

    def edit(f: MultiViewFrame) -> MultiViewFrame:
        if f.frame != frame:
            return f
        keep = lambda d: {n: x for n, x in d.items() if n != camera}  # noqa: E731
        return dataclasses.replace(f, cameras=keep(f.cameras), detections=keep(f.detections))

    return edit


def _blind(camera: str):
    """An edit: camera ``camera`` sees nobody (its detections empty)."""

    def edit(f: MultiViewFrame) -> MultiViewFrame:
        dets = {n: x[:0] if n == camera else x for n, x in f.detections.items()}
        return dataclasses.replace(f, detections=dets)

    return edit


def test_frames_are_read_in_evenly_spaced_runs_and_an_absent_camera_sees_nobody(drifted):
    """All frames where there are few; else runs of consecutive frames (a person is followed
    within a run); a frame without one camera counts as that camera seeing nobody there, so the
    other cameras' people of that frame are kept."""
    assert picked_frames(list(range(30)), max_frames=40) == list(range(30))
    runs = picked_frames(list(range(1000)), max_frames=30, run=10)
    assert runs == [*range(0, 10), *range(495, 505), *range(990, 1000)]
    scene, _, calibration = drifted
    dataset = open_input(None, calibration=calibration, detections=scene / "detections",
                         detections_format="openpose")  # fmt: skip
    dets = dataset_detections(_Edited(dataset, _without("00_02", 9)), max_frames=20)
    assert dets.frames == (*range(0, 10), *range(20, 30))
    assert set(dets.by_camera) == set(dataset.cameras)
    assert all(set(frames) == set(dets.frames) for frames in dets.by_camera.values())
    assert dets.get("00_02", 9).shape == (0, 25, 3) and len(dets.get("00_01", 9)) > 0


def test_a_camera_whose_people_match_nobody_keeps_its_pose_and_the_others_are_refined(caplog):
    """A camera turned 25° (too far for its people to match under its pose) is named in a
    warning and left out; the others (cam1 turned 2°) are refined without it, within 0.3°."""
    truth = people_ring()
    given = dict(truth, cam3=turned(truth["cam3"], 25.0, [1, 0, 0], [0, 0, 0]),
                 cam1=turned(truth["cam1"], 2.0, [0, 1, 0], [0.05, 0, 0]))  # fmt: skip
    result = _refined(people_seen(truth, np.random.default_rng(0), frames=10), given,
                      PeopleConfig())  # fmt: skip
    assert "cam3" in caplog.text and "kept as given" in caplog.text
    assert set(result.cameras) == {"cam0", "cam1", "cam2"}
    for n, cam in result.cameras.items():
        assert rotation_deg(cam.R @ truth[n].R.T) < 0.3, n


def test_a_refinement_that_turns_most_cameras_far_is_not_used(drifted, caplog):
    """00_04 turned 20° and seeing the most people: the others' people are matched to its
    people under that pose, wrongly, and the refinement turns four of the five cameras by
    about 60°: the calibration is used as given."""
    scene, truth, calibration = drifted
    off = dict(truth, **{"00_04": turned(truth["00_04"], 20.0, [1, 0, 0], [0, 0, 0])})
    base = open_input(None, calibration=calibration, detections=scene / "detections",
                      detections_format="openpose", end=20)  # fmt: skip
    dataset = WithCameras(base, off)
    out, done = recalibrate(dataset)
    assert done is None and out is dataset
    assert "not refined" in caplog.text and "more than a drift" in caplog.text


def _refined_as(monkeypatch, cameras: dict, fits: dict) -> None:
    """Make the refinement return ``cameras`` with ``fits``."""
    import tessetrack.tracking.recalibrate as recal
    from tessetrack.calibrate.extrinsics import ExtrinsicsResult

    result = ExtrinsicsResult(cameras, fits, 20, None)
    monkeypatch.setattr(recal, "_refined", lambda dets, given, config: result)


def test_cameras_turned_far_or_fitting_poorly_keep_their_given_poses(drifted, monkeypatch, caplog):
    """Of five refined cameras, one turned 15° and one that rests on 12 joints keep their given
    poses and the others are used; with half of the cameras or more kept, none is (two cameras,
    one of them turned far)."""
    scene, truth, calibration = drifted
    dataset = open_input(None, calibration=calibration, detections=scene / "detections",
                         detections_format="openpose", end=20)  # fmt: skip
    given = dict(dataset.cameras)
    refined = {n: turned(c, 1.0, [0, 0, 1], [0.02, 0, 0]) for n, c in given.items()}
    refined["00_01"] = turned(given["00_01"], 15.0, [1, 0, 0], [0, 0, 0])
    fits = {n: CameraFit(900, 1.5, 3.0) for n in given} | {"00_03": CameraFit(12, 1.5, 3.0)}
    _refined_as(monkeypatch, refined, fits)
    out, done = recalibrate(dataset)
    assert done is not None
    assert {n for n in given if out.cameras[n] is given[n]} == {"00_01", "00_03"}
    assert all(out.cameras[n] is refined[n] for n in ("00_00", "00_02", "00_04"))
    assert "00_01: the refinement turned them by 15°" in caplog.text
    assert "00_03: fewer than 30 joints" in caplog.text
    fits.update({"00_02": CameraFit(900, 9.0, 18.0)})  # a third one kept: over half
    assert recalibrate(dataset)[1] is None and "not to be trusted" in caplog.text
    two = {n: refined[n] for n in ("00_00", "00_01")}  # the other one far: nothing changes
    _refined_as(monkeypatch, two, {n: fits[n] for n in two})
    assert recalibrate(dataset)[1] is None


def test_a_camera_that_sees_nobody_keeps_its_pose_and_the_others_are_refined(drifted, caplog):
    scene, truth, calibration = drifted
    base = open_input(None, calibration=calibration, detections=scene / "detections",
                      detections_format="openpose", end=20)  # fmt: skip
    out, done = recalibrate(_Edited(base, _blind("00_01")))
    assert done is not None and "00_01: nobody seen confidently" in caplog.text
    assert out.cameras["00_01"] is base.cameras["00_01"]  # given, drifted 2.5°
    for n in ("00_00", "00_02", "00_03", "00_04"):
        assert rotation_deg(out.cameras[n].R @ truth[n].R.T) < 0.3, n


def test_cameras_with_too_few_joints_or_a_poor_fit_keep_their_given_poses(caplog):
    fit = lambda n, px: CameraFit(n, px, 2 * px)  # noqa: E731
    fits = {"a": fit(900, 1.2), "b": fit(800, 1.4), "c": fit(20, 1.3), "d": fit(700, 6.2),
            "e": fit(900, 3.9)}  # fmt: skip
    assert _weak_fits(fits, min_matches=30) == ["c", "d"]  # e: under the 4 px floor
    assert "c: fewer than 30 joints" in caplog.text and "d: the refined pose" in caplog.text
    real = {"cam01": fit(1167, 3.6), "cam02": fit(1425, 6.0), "cam03": fit(177, 16.3),
            "cam04": fit(1905, 7.2)}  # the real 4-camera sample's second half  # fmt: skip
    assert _weak_fits(real, min_matches=30) == []


def test_a_rig_the_people_cannot_refine_is_tracked_as_given_and_a_stale_file_is_removed(
    drifted, tmp_path, caplog
):
    """One camera: nothing to refine it against. The tracks are written with the calibration as
    given, a warning says why, and the refined calibration an earlier run left beside the tracks
    is removed (it is not what they used)."""
    scene, _, calibration = drifted
    out = tmp_path / "one.json"
    stale = refined_calibration_path(out)
    save_cameras(load_cameras(calibration), stale)
    summary = track_to_file(None, output=out, calibration=calibration, cameras="00_00", end=3,
                            detections=scene / "detections", refine_calibration=True)  # fmt: skip
    assert summary.calibration is None and out.exists() and not stale.exists()
    assert "not refined" in caplog.text and "two cameras or more" in caplog.text
    assert "removed" in caplog.text


def test_cameras_are_replaced_in_every_frame(drifted):
    scene, truth, calibration = drifted
    dataset = open_input(None, calibration=calibration, detections=scene / "detections",
                         detections_format="openpose", end=3)  # fmt: skip
    swapped = WithCameras(dataset, {"00_01": truth["00_01"]})
    assert swapped.cameras["00_01"] is truth["00_01"]
    assert swapped.cameras["00_00"] is dataset.cameras["00_00"]
    for frame in swapped:
        assert frame.cameras["00_01"] is truth["00_01"]
        assert frame.detections  # the detections come along


def test_an_input_without_detections_is_refused_before_any_output(tmp_path):
    """An image model on images has no 2D detections to refine from: a one-line error, and no
    tracks file or calibration is written."""
    scene = tmp_path / "images"
    generate_dataset(scene, SynthConfig(rig="ring", num_people=1, num_frames=2, seed=3,
                                        split="test", images=True, image_size=(64, 48)))  # fmt: skip
    out = tmp_path / "tracks.json"
    with pytest.raises(InputError, match="refines the cameras from 2D detections") as err:
        track_to_file(scene, output=out, checkpoint="synthetic-images", refine_calibration=True)
    assert "\n" not in str(err.value)
    assert not out.exists() and not refined_calibration_path(out).exists()


def test_the_command_says_how_far_each_camera_moved_and_where_it_wrote(drifted, tmp_path):
    scene, _, calibration = drifted
    out = tmp_path / "tracks.json"
    result = CliRunner().invoke(app, ["track", "--calibration", str(calibration), "--detections",
                                      str(scene / "detections"), "--end", "10", "-o", str(out),
                                      "--refine-calibration"])  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "moved (°, cm)" in said and "refined the calibration from 10 frames" in said
    assert refined_calibration_path(out).exists() and out.exists()
    same = tmp_path / "drifted.calibration.toml"
    save_cameras(load_cameras(calibration), same)
    refused = CliRunner().invoke(app, ["track", "--calibration", str(same), "--detections",
                                       str(scene / "detections"), "-o",
                                       str(tmp_path / "drifted.json"), "--refine-calibration"])  # fmt: skip
    assert isinstance(refused.exception, InputError)
    assert "would overwrite an input" in str(refused.exception)
