"""``tessetrack synth`` end to end: files in the Panoptic layout, determinism, bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tessetrack.cli import app
from tessetrack.errors import InputError
from tessetrack.synth.generate import SynthConfig, build_scene, generate_dataset, parse_image_size
from tessetrack.synth.rigs import rigs_data_dir

SMALL = SynthConfig(num_cameras=2, num_people=3, num_frames=4, image_size=(64, 48))


def _scene_files(out: Path) -> list[dict]:
    files = sorted((out / "hdPose3d_stage1_coco19").glob("body3DScene_*.json"))
    return [json.loads(f.read_text()) for f in files]


def test_files_in_panoptic_layout(tmp_path: Path) -> None:
    out = tmp_path / "seq1"
    result = generate_dataset(out, SMALL)
    calib = json.loads((out / "calibration_seq1.json").read_text())
    assert [c["name"] for c in calib["cameras"]] == ["00_00", "00_01"]
    assert calib["cameras"][0]["resolution"] == [64, 48]
    # t in cm: the ring camera is 5 m from the centre at 2.5 m height -> |t| = |R c| = 559 cm
    t = np.array(calib["cameras"][0]["t"]).reshape(3)
    np.testing.assert_allclose(np.linalg.norm(t), 100 * np.hypot(5.0, 2.5), rtol=1e-9)
    scenes = _scene_files(out)
    assert len(scenes) == 4 and scenes[0]["fpsType"] == "hd_29_97"
    body = scenes[0]["bodies"][0]
    joints = np.array(body["joints19"]).reshape(19, 4)
    # cm: a standing or moving person's joints are metres * 100 of the floor-frame truth
    truth = result.scene.joints[0, body["id"]]
    np.testing.assert_allclose(joints[:, :3], truth * 100, atol=1e-3)
    for cam in ("00_00", "00_01"):
        assert len(list((out / "hdImgs" / cam).glob(f"{cam}_*.jpg"))) == 4
        assert len(list((out / "detections" / cam).glob("*_keypoints.json"))) == 4
    meta = json.loads((out / "tessetrack_synth.json").read_text())
    assert meta["seed"] == 0 and meta["split"] == "train"
    assert set(meta["clips_used"]) <= set(meta["clips_available"])


def test_deterministic_per_seed(tmp_path: Path) -> None:
    cfg = SynthConfig(**{**SMALL.__dict__, "images": False})
    generate_dataset(tmp_path / "a", cfg)
    generate_dataset(tmp_path / "b", cfg)
    generate_dataset(tmp_path / "c", SynthConfig(**{**cfg.__dict__, "seed": 1}))
    assert _scene_files(tmp_path / "a") == _scene_files(tmp_path / "b")
    assert _scene_files(tmp_path / "a") != _scene_files(tmp_path / "c")
    assert not (tmp_path / "a" / "hdImgs").exists()


def test_measured_face_moves_only_the_face_joints(tmp_path: Path) -> None:
    """``--face measured``: the same scene (people, segments, body joints), the face raised, and the
    choice in the metadata."""
    from tessetrack.skeletons import PANOPTIC19

    cfg = SynthConfig(**{**SMALL.__dict__, "images": False, "num_frames": 30, "limb_mix_prob": 0.5})
    a = generate_dataset(tmp_path / "a", cfg)
    b = generate_dataset(tmp_path / "b", SynthConfig(**{**cfg.__dict__, "face": "measured"}))
    assert a.metadata["face"] == "humanoid" and b.metadata["face"] == "measured"
    assert a.metadata["people"] == b.metadata["people"]
    face = [PANOPTIC19.index(n) for n in ("nose", "l_eye", "r_eye", "l_ear", "r_ear")]
    body = [j for j in range(PANOPTIC19.num_joints) if j not in face]
    ja, jb = a.scene.joints, b.scene.joints  # T×P×19×3
    np.testing.assert_array_equal(ja[..., body, :], jb[..., body, :])
    neck = PANOPTIC19.index("neck")
    nose_a = np.linalg.norm(ja[..., PANOPTIC19.index("nose"), :] - ja[..., neck, :], axis=-1)
    nose_b = np.linalg.norm(jb[..., PANOPTIC19.index("nose"), :] - jb[..., neck, :], axis=-1)
    present = a.scene.present  # T×P
    ratio = nose_b[present] / nose_a[present]  # 0.272 / 0.186 at every scale
    np.testing.assert_allclose(ratio, np.hypot(0.139, 0.234) / np.hypot(0.095, 0.160), rtol=1e-9)


def test_panoptic_reader_reads_the_output(tmp_path: Path) -> None:
    pytest.importorskip("tessetrack.io.calibration")
    from tessetrack.data.panoptic import PanopticDataset

    out = tmp_path / "seq2"
    result = generate_dataset(out, SMALL)
    ds = PanopticDataset(out)
    frame = ds[0]
    assert len(frame.cameras) == 2
    people = frame.people
    assert len(people) == int(result.scene.present[0].sum())


def test_bad_arguments(tmp_path: Path) -> None:
    for bad in (
        {"num_cameras": 0},
        {"num_frames": -1},
        {"num_people": 0},
        {"rig": "dome"},
        {"split": "holdout"},
        {"face": "alien"},
        {"walk": "everywhere"},
        {"rig": "varied"},  # images asked for: its lens distortion would not be drawn
        {"rig": "varied", "images": False, "image_size": (64, 48)},
        {"rig": str(rigs_data_dir() / "calibration_shelf.json")},  # likewise
    ):
        with pytest.raises(InputError):
            generate_dataset(tmp_path / "x", SynthConfig(**{**SMALL.__dict__, **bad}))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="not a folder"):
        generate_dataset(blocker, SMALL)
    with pytest.raises(InputError):
        generate_dataset(blocker / "sub", SMALL)  # parent is a file: cannot create
    with pytest.raises(InputError):
        parse_image_size("64by48")
    assert parse_image_size("64x48") == (64, 48)


def test_varied_and_calibration_rigs_make_pose_only_scenes(tmp_path: Path) -> None:
    for rig in ("varied", str(rigs_data_dir() / "calibration_campus.json")):
        cfg = SynthConfig(rig=rig, num_people=2, num_frames=3, seed=1, images=False)
        result = generate_dataset(tmp_path / Path(rig).stem, cfg)
        assert len(result.rig.cameras) >= 1
        assert len(list((tmp_path / Path(rig).stem).glob("calibration*.json"))) == 1


def test_two_views_walk_keeps_people_where_two_cameras_see_them() -> None:
    from tessetrack.eval.visibility import views_seeing

    def views(walk: str) -> np.ndarray:
        cfg = SynthConfig(rig="panoptic", num_people=3, num_frames=60, seed=200, split="test",
                          images=False, walk=walk)  # fmt: skip
        rig, scene, _ = build_scene(cfg)
        world = rig.floor_to_world(scene.joints[scene.present])  # N×19×3
        return np.array([views_seeing(p, rig.cameras) for p in world])

    # Panoptic's own 4 m × 4 m area reaches where one of its five default cameras sees a person
    assert (views("rig") < 2).mean() > 0.1
    assert (views("two-views") >= 2).all()


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "synth",
            str(tmp_path / "s"),
            "--cameras",
            "1",
            "--people",
            "1",
            "--frames",
            "2",
            "--no-images",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert len(_scene_files(tmp_path / "s")) == 2
    bad = runner.invoke(app, ["synth", str(tmp_path / "t"), "--cameras", "0"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, InputError)
    walk = ["synth", str(tmp_path / "w"), "--rig", "shelf", "--people", "1", "--frames", "2",
            "--no-images", "--walk"]  # fmt: skip
    assert runner.invoke(app, [*walk, "two-views"]).exit_code == 0
    meta = json.loads((tmp_path / "w" / "tessetrack_synth.json").read_text())
    assert meta["walk"] == "two-views"
    bad = runner.invoke(app, [*walk, "everywhere"])
    assert isinstance(bad.exception, InputError) and "--walk" in str(bad.exception)
