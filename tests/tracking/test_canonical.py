"""Tracking in the rig's own frame: a synthetic scene tracked in its z-up world, and the same scene
in a y-down world 5 m away (CMU Panoptic's convention); in its own frame the shipped model finds the
same people as well, with its trained volume it cannot."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tessetrack.geometry.rig_frame import RigFrame
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.canonical import InRigFrame, enter_rig_frame, tracks_to_world
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import SequenceRunner, load_model

MOVE = RigFrame(
    R=Rotation.from_euler("x", 90, degrees=True).as_matrix(),  # z up -> -y up
    t=np.array([5.0, -1.0, 2.0]),
    area=np.zeros((2, 2)),
)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("canonical") / "scene"
    generate_dataset(out, SynthConfig(rig="ring", num_people=2, num_frames=10, seed=4,
                                      split="test", images=False))  # fmt: skip
    return open_input(out, detections=out / "detections")


def _mpjpe(tracks, dataset) -> tuple[float, int]:
    """Mean joint error (m) of the predictions nearest each GT person, and people found."""
    errs, found = [], 0
    for fp in tracks.frames:
        gt = dataset.frame(fp.frame).people
        for g in gt:
            best = min((np.nanmean(np.linalg.norm(p.joints - g.joints, axis=-1)) for p in fp.people),
                       default=np.inf)  # fmt: skip
            if best < 0.5:
                errs.append(best)
                found += 1
    return (float(np.mean(errs)) if errs else np.inf), found


def test_a_y_down_world_tracks_like_its_z_up_original(scene):
    loaded = load_model("detections-shelf")  # the default, trained in the Shelf rig
    trained = loaded.model.grid
    base_err, base_found = _mpjpe(
        SequenceRunner(loaded.model, image_size=loaded.image_size).run(scene), scene
    )
    assert base_found >= 18 and base_err < 0.1  # 2 people × 10 frames

    moved = InRigFrame(scene, MOVE)  # the same scene, cameras and people in the other world
    assert np.allclose(
        moved.frame(0).people[0].joints, MOVE.to_canonical(scene.frame(0).people[0].joints)
    )
    inside, rig = enter_rig_frame(moved, loaded.model)
    assert "-y" in rig.notes[0] and "feet" in rig.notes[1]
    tracks = tracks_to_world(
        SequenceRunner(loaded.model, image_size=loaded.image_size).run(inside), rig
    )
    err, found = _mpjpe(tracks, moved)
    assert found >= base_found - 2 and err < base_err + 0.02

    loaded.model.detector.grid = trained  # the trained volume, in the moved world: nobody there
    _, lost = _mpjpe(SequenceRunner(loaded.model, image_size=loaded.image_size).run(moved), moved)
    assert lost <= base_found // 2
