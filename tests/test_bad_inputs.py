"""Every row of docs/bad_inputs.md run through the CLI: refused inputs exit 2 with one line, warned
ones log their warning exactly once; no traceback for any of them. Plus the cases the table cannot
run (a missing optional package, a write that fails half-way)."""

from __future__ import annotations

import json
import logging
import re
import shlex
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tessetrack.cli import main
from tessetrack.config import apply_overrides, preset
from tessetrack.eval.evaluate import load_ground_truth
from tessetrack.io.calibration import load_cameras, save_cameras
from tessetrack.io.tracks import load_tracks, save_tracks
from tessetrack.model.tessetrack import build_model
from tessetrack.structures import Tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.train.checkpoints import save_checkpoint
from tiny_network import TINY_INFERENCE

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"
ROW = re.compile(
    r"^\| (?P<input>[^|]+) \| `(?P<cmd>[^`]+)` \| (?P<how>refused|warned|tracked): `(?P<text>[^`]+)` \|$"
)


def _rows() -> list[tuple[str, str, str, str]]:
    rows = [ROW.match(line) for line in DOC.read_text(encoding="utf-8").splitlines()]
    return [(m["input"], m["cmd"], m["how"], m["text"]) for m in rows if m is not None]


def _edit_openpose(src: Path, dst: Path, change) -> Path:
    """A copy of an OpenPose detections folder with ``change(keypoints (P, J, 3))`` applied."""
    shutil.copytree(src, dst)
    for path in dst.glob("*/*_keypoints.json"):
        doc = json.loads(path.read_text())
        for person in doc["people"]:
            k = np.asarray(person["pose_keypoints_2d"], float).reshape(-1, 3)
            person["pose_keypoints_2d"] = change(k).ravel().tolist()
        path.write_text(json.dumps(doc))
    return dst


def _voxelpose_in_metres(calibration: Path, out: Path) -> Path:
    """The scene's cameras as a VoxelPose calibration whose translations are in metres."""
    doc = {}
    for i, cam in enumerate(load_cameras(calibration).values()):
        doc[str(i)] = {"fx": cam.K[0, 0], "fy": cam.K[1, 1], "cx": cam.K[0, 2], "cy": cam.K[1, 2],
                       "R": cam.R.tolist(), "T": cam.center.reshape(3, 1).tolist(),
                       "k": [[0.0], [0.0], [0.0]], "p": [[0.0], [0.0]]}  # fmt: skip
    out.write_text(json.dumps(doc))
    return out


def _videos(out: Path, lengths: dict[str, int]) -> Path:
    out.mkdir()
    for name, n in lengths.items():
        w = cv2.VideoWriter(
            str(out / f"{name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 64)
        )
        for _ in range(n):
            w.write(np.zeros((64, 64, 3), np.uint8))
        w.release()
    return out


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    """The placeholders of the table's commands."""
    root = tmp_path_factory.mktemp("bad_inputs")
    scene = root / "scene"
    generate_dataset(scene, SynthConfig(rig="ring", num_cameras=3, num_people=2, num_frames=6,
                                        image_size=(64, 64), seed=1))  # fmt: skip
    dets = scene / "detections"
    cfg = apply_overrides(
        preset("cpu-small", "HI"), {**TINY_INFERENCE, "train.image_size": [64, 64]}
    )
    torch.manual_seed(0)
    save_checkpoint(root / "tiny.safetensors", build_model(cfg).state_dict(), cfg.to_dict())
    gt = load_ground_truth(scene)
    save_tracks(gt, root / "tracks.json")
    other = [type(f)(f.frame + 100, f.people) for f in gt.frames]
    save_tracks(Tracks(gt.joint_names, tuple(other), fps=gt.fps), root / "other.json")
    (root / "folder.json").mkdir()
    (root / "folder.gif").mkdir()
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    d_none = root / "dnocam"
    shutil.copytree(dets, d_none)
    shutil.rmtree(d_none / "00_02")
    d_one = root / "donefile"
    shutil.copytree(dets, d_one)
    (d_one / "00_01" / "000000000003_keypoints.json").unlink()
    d_all = root / "dallfile"
    shutil.copytree(dets, d_all)
    for cam in ("00_00", "00_01", "00_02"):
        (d_all / cam / "000000000002_keypoints.json").unlink()

    d_old = root / "dold"  # what an earlier release's detector left: no settings file
    for cam in ("00_00", "00_01"):
        (d_old / cam).mkdir(parents=True)
        shutil.copy(dets / cam / "000000000000_keypoints.json", d_old / cam)

    def far(k):
        return k + np.array([5000.0, 0.0, 0.0]) * (k[:, 2:] > 0)

    d_dup = root / "ddup"
    shutil.copytree(dets, d_dup)
    frame = d_dup / "00_01" / "000000000003_keypoints.json"
    doc = json.loads(frame.read_text())
    copy = np.asarray(doc["people"][0]["pose_keypoints_2d"], float).reshape(-1, 3)
    copy = np.where(copy[:, 2:] > 0, copy + [1.0, 1.0, -0.1], 0.0)  # 1 px off, a little less sure
    doc["people"].append({"pose_keypoints_2d": copy.ravel().tolist()})
    frame.write_text(json.dumps(doc))

    # what `track -o take.json --refine-calibration` writes beside the tracks
    refined = root / "take.calibration.toml"
    save_cameras(load_cameras(scene / "calibration_scene.json"), refined)

    return {
        "scene": str(scene), "ckpt": str(root / "tiny.safetensors"), "tmp": str(root / "tmp"),
        "refined": str(refined), "take": str(root / "take.json"),
        "folder": str(root / "folder.json"), "gif_folder": str(root / "folder.gif"),
        "tracks": str(root / "tracks.json"),
        "tracks_other": str(root / "other.json"), "binary": str(root / "binary.yaml"),
        "calib_m": str(_voxelpose_in_metres(scene / "calibration_scene.json", root / "calib.json")),
        "d100": str(_edit_openpose(dets, root / "d100", lambda k: k * [1.0, 1.0, 100.0])),
        "dneg": str(_edit_openpose(dets, root / "dneg", lambda k: k * [1.0, 1.0, -1.0])),
        "dfar": str(_edit_openpose(dets, root / "dfar", far)),
        "dnocam": str(d_none), "donefile": str(d_one), "dallfile": str(d_all), "ddup": str(d_dup),
        "dold": str(d_old),
        "videos": str(_videos(root / "videos", {"00_00": 3, "00_01": 4})),
    }  # fmt: skip


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_the_table_has_its_rows():
    rows = _rows()
    assert len(rows) >= 25 and {how for *_, how, _ in rows} == {"refused", "warned", "tracked"}


@pytest.mark.parametrize(("what", "command", "how", "text"), _rows(), ids=[r[0] for r in _rows()])
def test_row(places, capsys, caplog, what, command, how, text):
    argv = [a.format(**places) for a in shlex.split(command)]
    with caplog.at_level(logging.INFO):
        code, out, err = _run(argv, capsys)
    said = out + err + caplog.text
    assert "Traceback" not in said
    if how == "refused":
        assert code == 2, said
        assert len(err.strip().splitlines()) == 1 and text in err, err
    else:
        assert code == 0, said
        assert said.count(text) == 1, said  # one counted line, not one per frame


def test_a_frame_missing_everywhere_stays_in_the_output(places, capsys, tmp_path):
    argv = ["track", "--calibration", f"{places['scene']}/calibration_scene.json",
            "--detections", places["dallfile"], "--checkpoint", places["ckpt"],
            "-o", str(tmp_path / "t.json")]  # fmt: skip
    assert _run(argv, capsys)[0] == 0
    frames = load_tracks(tmp_path / "t.json").frames
    assert [f.frame for f in frames] == [0, 1, 2, 3, 4, 5]  # frame 2 too, though no file has it


def test_confidences_of_a_0_100_scale_are_rescaled(places):
    from tessetrack.io.detections import load_detections

    scaled = load_detections(places["d100"])
    plain = load_detections(f"{places['scene']}/detections")
    for cam, frames in plain.by_camera.items():
        for f, people in frames.items():
            np.testing.assert_allclose(scaled.by_camera[cam][f], people)


def test_refused_output_leaves_the_input_untouched(places, capsys):
    calibration = Path(places["scene"]) / "calibration_scene.json"
    before = calibration.read_bytes()
    argv = ["track", "--calibration", str(calibration), "--detections",
            f"{places['scene']}/detections", "-o", str(calibration)]  # fmt: skip
    assert _run(argv, capsys)[0] == 2
    assert calibration.read_bytes() == before


def test_c3d_export_without_the_package_names_the_extra(places, capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "c3d", None)  # import c3d now raises ImportError
    code, _, err = _run(["export", places["tracks"], str(tmp_path / "x.c3d")], capsys)
    assert code == 2 and 'pip install "tessetrack[export]"' in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x.c3d").exists()


def test_a_write_that_fails_half_way_keeps_the_previous_file(places, capsys, monkeypatch, tmp_path):
    """Disk full while writing the tracks: the previous good file stays, one-line error."""
    out = tmp_path / "t.json"
    shutil.copy(places["tracks"], out)
    before = out.read_bytes()

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    code, _, err = _run(["track", "--calibration", f"{places['scene']}/calibration_scene.json",
                         "--detections", f"{places['scene']}/detections",
                         "--checkpoint", places["ckpt"], "-o", str(out)], capsys)  # fmt: skip
    assert code == 2 and "No space left on device" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no partial file left behind
