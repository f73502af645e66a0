"""``evaluate`` (library) and ``tessetrack evaluate`` (CLI) on tiny tracks files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tessetrack.cli import main
from tessetrack.errors import InputError
from tessetrack.eval.evaluate import convert_tracks, evaluate, parse_protocols
from tessetrack.io.tracks import save_tracks
from tessetrack.skeletons import BODY25, PANOPTIC19, convert_joints
from tessetrack.structures import FramePoses, PersonPose, Tracks

J = PANOPTIC19.num_joints


def _gt(rng: np.random.Generator, frames: int = 3) -> Tracks:
    """Two person-sized poses (~1 m across) 3 m apart, moving 5 cm per frame."""
    base = rng.uniform(-0.4, 0.4, size=(2, J, 3)) + np.array([[[0.0, 0, 1]], [[3.0, 0, 1]]])
    return Tracks(
        PANOPTIC19.joints,
        tuple(
            FramePoses(f, tuple(PersonPose(i, base[i] + [0.05 * f, 0, 0]) for i in range(2)))
            for f in range(frames)
        ),
        fps=25.0,
    )


def _shift(tracks: Tracks, offset_m: float) -> Tracks:
    return Tracks(
        tracks.joint_names,
        tuple(
            FramePoses(
                f.frame, tuple(PersonPose(p.id, p.joints + [0, 0, offset_m]) for p in f.people)
            )
            for f in tracks.frames
        ),
    )


def test_gt_against_itself_all_protocols(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    out = evaluate(gt, gt)
    assert out["protocols"] == ["mpjpe", "pcp", "ap", "mot3d"]
    assert out["mpjpe_mm"] == 0.0 and out["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    assert out["mpjpe_root_mm"] == 0.0
    assert set(out["pck"].values()) == {100.0}
    assert out["pcp"]["average"] == 100.0 and out["pcp"]["actor_1"] == 100.0
    assert set(out["ap"]) == {"25", "50", "75", "100", "125", "150"}
    assert set(out["ap"].values()) == {100.0} and out["recall_500"] == 100.0
    assert out["mota"] == 100.0 and out["id_switches"] == 0 and out["motp_mm"] == 0.0
    assert out["precision"] == 100.0 and out["recall"] == 100.0
    assert set(out["per_joint"]) == set(PANOPTIC19.joints)


def test_uniform_offset(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    out = evaluate(_shift(gt, 0.04), gt, ["mpjpe", "ap"])
    # Every joint 40 mm off: MPJPE 40, PA-MPJPE and root-relative 0, PCK@25 0 %, PCK@50 100 %.
    assert out["mpjpe_mm"] == pytest.approx(40.0)
    assert out["mpjpe_root_mm"] == pytest.approx(0.0, abs=1e-9)
    assert out["pa_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    assert out["pck"]["25"] == 0.0 and out["pck"]["50"] == 100.0
    assert out["ap"]["25"] == 0.0 and out["ap"]["50"] == 100.0
    assert "mota" not in out and "pcp" not in out


def test_other_joint_set_is_converted(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    # BODY25 holds every Panoptic-19 joint by name (plus feet, NaN here): conversion is exact.
    body25 = Tracks(
        BODY25.joints,
        tuple(
            FramePoses(
                f.frame,
                tuple(
                    PersonPose(p.id, convert_joints(p.joints, "panoptic19", "body25"))
                    for p in f.people
                ),
            )
            for f in gt.frames
        ),
    )
    out = evaluate(body25, gt, "mpjpe")
    assert out["mpjpe_mm"] == pytest.approx(0.0, abs=1e-9)
    assert out["matched_poses"] == out["gt_poses"] == 6


def test_refusals(rng: np.random.Generator) -> None:
    gt = _gt(rng)
    shelf = convert_tracks(gt, "shelf14")
    with pytest.raises(InputError, match="lacks joints of panoptic19 needed for evaluation: nose"):
        evaluate(shelf, gt, "mpjpe")
    mm = Tracks(
        gt.joint_names,
        tuple(
            FramePoses(f.frame, tuple(PersonPose(p.id, p.joints * 1000) for p in f.people))
            for f in gt.frames
        ),
    )
    with pytest.raises(InputError, match="look like millimetres"):
        evaluate(mm, gt)
    with pytest.raises(InputError, match="unknown protocol"):
        parse_protocols("mpjpe,fast")
    assert parse_protocols(["pcp", "mpjpe"]) == ("mpjpe", "pcp")


def test_cli_writes_json(tmp_path: Path, rng: np.random.Generator, capsys) -> None:
    gt = _gt(rng)
    save_tracks(gt, tmp_path / "gt.csv")
    save_tracks(_shift(gt, 0.04), tmp_path / "pred.json")
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "evaluate",
                "--pred",
                str(tmp_path / "pred.json"),
                "--gt",
                str(tmp_path / "gt.csv"),
                "--protocol",
                "mpjpe",
                "--protocol",
                "mot3d",
                "--json",
                str(tmp_path / "m.json"),
            ]
        )
    assert exit_.value.code in (0, None)
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["mpjpe_mm"] == pytest.approx(40.0)
    assert doc["mota"] == 100.0 and doc["per_joint"]["neck"]["motp_mm"] == pytest.approx(40.0)
    assert "MPJPE" in capsys.readouterr().out


def test_cli_error_exit_code(tmp_path: Path, capsys) -> None:
    (tmp_path / "pred.json").write_text("")
    with pytest.raises(SystemExit) as exit_:
        main(
            ["evaluate", "--pred", str(tmp_path / "pred.json"), "--gt", str(tmp_path / "pred.json")]
        )
    assert exit_.value.code == 2
    assert "empty tracks file" in capsys.readouterr().err


def test_cli_dataset_folder_gt(tmp_path: Path, shared_data: Path) -> None:
    pytest.importorskip("tessetrack.io.calibration")
    from tessetrack.eval.evaluate import load_ground_truth

    gt = load_ground_truth(shared_data / "shelf")
    save_tracks(gt, tmp_path / "pred.json")
    with pytest.raises(SystemExit):
        main(
            [
                "evaluate",
                "--pred",
                str(tmp_path / "pred.json"),
                "--gt",
                str(shared_data / "shelf"),
                "--protocol",
                "pcp",
                "--json",
                str(tmp_path / "m.json"),
            ]
        )
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["pcp"]["average"] == 100.0
