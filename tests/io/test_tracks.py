"""Tracks files: round trips through .json/.npz/.csv and schema errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.io.tracks import TRACKS_FORMAT, load_tracks, save_tracks
from tessetrack.skeletons import PANOPTIC19
from tessetrack.structures import FramePoses, PersonPose, Tracks


def _tracks(rng: np.random.Generator) -> Tracks:
    """Three frames: two people (one without scores, one with a NaN joint), then nobody, then one."""
    J = PANOPTIC19.num_joints
    a = rng.normal(size=(J, 3))
    b = rng.normal(size=(J, 3))
    b[4] = np.nan  # an unknown joint
    return Tracks(
        joint_names=PANOPTIC19.joints,
        frames=(
            FramePoses(
                frame=300,
                people=(
                    PersonPose(id=0, joints=a, scores=rng.uniform(size=J)),
                    PersonPose(id=7, joints=b, scores=None),
                ),
            ),
            FramePoses(frame=301, people=()),
            FramePoses(frame=302, people=(PersonPose(id=7, joints=a + 0.1, scores=np.ones(J)),)),
        ),
        fps=25.0,
    )


def _assert_same(x: Tracks, y: Tracks) -> None:
    assert x.joint_names == y.joint_names
    assert x.fps == y.fps and y.units == "m"
    assert [f.frame for f in x.frames] == [f.frame for f in y.frames]
    for fx, fy in zip(x.frames, y.frames, strict=True):
        assert [p.id for p in fx.people] == [p.id for p in fy.people]
        for px, py in zip(fx.people, fy.people, strict=True):
            np.testing.assert_array_equal(px.joints, py.joints)  # exact: repr/float64 round trip
            if px.scores is None:
                assert py.scores is None
            else:
                np.testing.assert_array_equal(px.scores, py.scores)


@pytest.mark.parametrize("suffix", [".json", ".npz", ".csv"])
def test_round_trip(tmp_path: Path, rng: np.random.Generator, suffix: str) -> None:
    tracks = _tracks(rng)
    path = save_tracks(tracks, tmp_path / f"tracks{suffix}")
    back = load_tracks(path)
    _assert_same(tracks, back)
    # The empty frame 301 survives in every format.
    assert back.frames[1].frame == 301 and back.frames[1].people == ()
    # The unknown joint stays NaN (a whole row).
    assert np.isnan(back.frames[0].people[1].joints[4]).all()


@pytest.mark.parametrize("suffix", [".json", ".npz", ".csv"])
def test_round_trip_without_fps_and_people(tmp_path: Path, suffix: str) -> None:
    tracks = Tracks(joint_names=("a", "b"), frames=(FramePoses(0), FramePoses(5)), fps=None)
    back = load_tracks(save_tracks(tracks, tmp_path / f"t{suffix}"))
    assert back.fps is None and back.joint_names == ("a", "b")
    assert [(f.frame, f.people) for f in back.frames] == [(0, ()), (5, ())]


def test_json_matches_spec_schema(tmp_path: Path, rng: np.random.Generator) -> None:
    path = save_tracks(_tracks(rng), tmp_path / "tracks.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == TRACKS_FORMAT and doc["units"] == "m" and doc["fps"] == 25.0
    assert doc["joint_names"][:3] == ["neck", "nose", "mid_hip"]
    first = doc["frames"][0]
    assert first["frame"] == 300 and first["people"][0]["id"] == 0
    assert len(first["people"][0]["joints"]) == 19 and len(first["people"][0]["scores"]) == 19
    assert first["people"][1]["joints"][4] is None  # unknown joint -> null
    assert "scores" not in first["people"][1]
    assert doc["frames"][1] == {"frame": 301, "people": []}


def _write_json(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _good_doc() -> dict:
    return {
        "format": TRACKS_FORMAT,
        "joint_names": ["a", "b"],
        "units": "m",
        "fps": 30,
        "frames": [
            {
                "frame": 0,
                "people": [{"id": 1, "joints": [[0, 0, 0], [1, 1, 1]], "scores": [1, 0.5]}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("format"), "missing key 'format'"),
        (lambda d: d.pop("frames"), "missing key 'frames'"),
        (lambda d: d.update(format="voxelpose/1"), "format tag"),
        (lambda d: d.update(units="mm"), "units are 'mm'"),
        (lambda d: d["frames"][0]["people"][0].update(joints=[[0, 0, 0]]), "expected (2, 3)"),
        (
            lambda d: d["frames"][0]["people"][0].update(joints=[[0, 0], [1, 1]]),
            "expected [x, y, z]",
        ),
        (
            lambda d: d["frames"][0]["people"][0].update(scores=[1.5, 0]),
            "scores must lie in [0, 1]",
        ),
        (lambda d: d["frames"][0]["people"][0].update(scores=[1]), "1 scores for 2 joint_names"),
        (lambda d: d["frames"][0]["people"][0].pop("id"), "missing key 'id'"),
        (lambda d: d["frames"].append({"frame": 0, "people": []}), "frame 0 appears twice"),
        (lambda d: d["frames"][0]["people"].append(d["frames"][0]["people"][0]), "appears twice"),
        (lambda d: d.update(fps=-1), "fps must be positive"),
    ],
)
def test_json_schema_errors(tmp_path: Path, mutate, message: str) -> None:
    doc = _good_doc()
    load_tracks(_write_json(tmp_path, doc))  # the unmodified document is valid
    mutate(doc)
    with pytest.raises(InputError) as err:
        load_tracks(_write_json(tmp_path, doc))
    assert message in str(err.value)
    assert "bad.json" in str(err.value)


def test_json_nan_empty_and_garbage(tmp_path: Path) -> None:
    text = json.dumps(_good_doc()).replace("[1, 1, 1]", "[NaN, 1, 1]")
    with pytest.raises(InputError, match="NaN is not valid JSON"):
        load_tracks(_write_json(tmp_path, text))
    with pytest.raises(InputError, match="empty tracks file"):
        load_tracks(_write_json(tmp_path, ""))
    with pytest.raises(InputError, match="not valid JSON"):
        load_tracks(_write_json(tmp_path, "{oops"))
    with pytest.raises(InputError, match="not found"):
        load_tracks(tmp_path / "missing.json")
    with pytest.raises(InputError, match="unknown tracks file type"):
        load_tracks(tmp_path / "tracks.txt")


def test_csv_errors(tmp_path: Path, rng: np.random.Generator) -> None:
    path = save_tracks(_tracks(rng), tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    # Drop the last joint row of the last person: that person lacks a joint.
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(
        InputError, match=r"bad\.csv: frame 302, person 7: no rows for joints r_ear"
    ):
        load_tracks(bad)
    bad.write_text("\n".join(lines).replace("# units: m", "# units: cm"))
    with pytest.raises(InputError, match="units are 'cm'"):
        load_tracks(bad)
    bad.write_text("\n".join(lines[:-1] + [lines[-1].replace("r_ear", "tail")]))
    with pytest.raises(InputError, match="joint 'tail' is not in joint_names"):
        load_tracks(bad)
    bad.write_text("\n".join(lines[:-1] + [lines[-1].rsplit(",", 1)[0] + ",2.0"]))
    with pytest.raises(InputError, match="scores must lie in"):
        load_tracks(bad)
    bad.write_text("")
    with pytest.raises(InputError, match="empty tracks file"):
        load_tracks(bad)


def test_npz_errors(tmp_path: Path, rng: np.random.Generator) -> None:
    path = save_tracks(_tracks(rng), tmp_path / "t.npz")
    with np.load(path) as npz:
        data = dict(npz)
    data["joints"] = data["joints"][:, :5]  # 5 joints for 19 joint_names
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(
        InputError, match=r"bad\.npz: frame 300, person 0: joints have shape \(5, 3\)"
    ):
        load_tracks(tmp_path / "bad.npz")
    data.pop("format")
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(InputError, match="missing array 'format'"):
        load_tracks(tmp_path / "bad.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(InputError, match="empty tracks file"):
        load_tracks(tmp_path / "empty.npz")


def test_save_refuses_bad_tracks(tmp_path: Path) -> None:
    tracks = Tracks(
        joint_names=("a", "b"),
        frames=(FramePoses(0, (PersonPose(0, np.zeros((3, 3))),)),),
    )
    with pytest.raises(InputError, match="expected \\(2, 3\\)"):
        save_tracks(tracks, tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()
