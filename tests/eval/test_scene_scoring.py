"""tessetrack.eval.scene_scoring: camera sets, the --model parser, the GT area and the linking options."""

from __future__ import annotations

import argparse
import importlib

import numpy as np
import pytest

from tessetrack.eval import scene_scoring


@pytest.mark.parametrize(
    ("n", "k", "count", "expected"),
    [
        # spacing 5/2 = 2.5, rotation 2.5/2 = 1.25: {0, 2.5→3} and {1.25→1, 3.75→4}
        (5, 2, 2, [(0, 3), (1, 4)]),
        # spacing 5, rotation 2.5: {0} and {2.5→3}
        (5, 1, 2, [(0,), (3,)]),
        # k = n: every rotation gives the same set, kept once
        (5, 5, 3, [(0, 1, 2, 3, 4)]),
        # spacing 2, rotation 1: the even and the odd cameras of a ring of 8
        (8, 4, 2, [(0, 2, 4, 6), (1, 3, 5, 7)]),
        # spacing 8/3, rotation 4/3: {0, 2.67→3, 5.33→5} and {1.33→1, 4, 6.67→7}
        (8, 3, 2, [(0, 3, 5), (1, 4, 7)]),
    ],
)
def test_spread_subsets(n, k, count, expected):
    assert scene_scoring.spread_subsets(n, k, count) == expected


def test_spread_subsets_refuses_more_cameras_than_there_are():
    with pytest.raises(ValueError, match="cannot pick 6 of 5"):
        scene_scoring.spread_subsets(5, 6, 1)


def test_parse_models():
    assert scene_scoring.parse_models(["FTDL=a.safetensors", " FI = b ", "synthetic-small"]) == {
        "FTDL": "a.safetensors",
        "FI": "b",
        "synthetic-small": "synthetic-small",
    }
    with pytest.raises(ValueError, match="given twice"):
        scene_scoring.parse_models(["A=x", "A=y"])
    with pytest.raises(ValueError, match="NAME=CHECKPOINT"):
        scene_scoring.parse_models(["=x"])


def test_ground_truth_area_keeps_the_people_inside(tmp_path):
    # two people: one at the origin, one 6 m away in y; --area 4 keeps the first only
    from tessetrack.structures import FramePoses, PersonPose, Tracks

    j = np.zeros((19, 3))
    people = (PersonPose(0, j + [0.5, -0.5, 1.0]), PersonPose(1, j + [0.0, 6.0, 1.0]))
    tracks = Tracks(joint_names=tuple(f"j{i}" for i in range(19)), frames=(FramePoses(0, people),))
    with pytest.MonkeyPatch.context() as mp:
        ev = importlib.import_module("tessetrack.eval.evaluate")
        mp.setattr(ev, "load_ground_truth", lambda _d: tracks)
        kept = scene_scoring.ground_truth(tmp_path, area=4.0)
        assert [p.id for p in kept.frames[0].people] == [0]
        assert len(scene_scoring.ground_truth(tmp_path).frames[0].people) == 2
        with pytest.raises(ValueError, match="--area"):
            scene_scoring.ground_truth(tmp_path, area=0.0)


def test_link_and_gate_arguments_make_the_tracker_config():
    ap = argparse.ArgumentParser()
    scene_scoring.add_link_arguments(ap)
    cfg = scene_scoring.tracker_config(ap.parse_args([]))
    assert (cfg.link, cfg.gate, cfg.cascade) == ("model", True, True)
    cfg = scene_scoring.tracker_config(ap.parse_args(["--link", "hungarian", "--no-gate"]))
    assert (cfg.link, cfg.gate) == ("hungarian", False)
