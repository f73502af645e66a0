"""tessetrack.eval.person_detection: the detector scored on a scene's frames as the tracker runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tessetrack.config import apply_overrides, preset
from tessetrack.eval.person_detection import sequence_detections
from tessetrack.model.tessetrack import build_model
from tessetrack.tracking.inputs import open_input
from tessetrack.tracking.runner import load_model
from tessetrack.train.checkpoints import save_checkpoint
from tessetrack.train.clips import person_centres
from tiny_network import TINY_INFERENCE


@pytest.fixture(scope="module")
def scene(ring_scene):
    return ring_scene


def test_sequence_detections_match_an_independent_count(scene, tmp_path):
    cfg = apply_overrides(
        preset("cpu-small", "HTDL"), {**TINY_INFERENCE, "train.image_size": [64, 48]}
    )
    torch.manual_seed(0)
    path = tmp_path / "h.safetensors"
    save_checkpoint(path, build_model(cfg).state_dict(), cfg.to_dict(), {})
    loaded = load_model(path)
    scores, dists, ids, num_gt, frames, per_gt = sequence_detections(loaded, str(scene), every=2)
    ds = open_input(scene, detections=scene / "detections")
    kept = [ds[i] for i in (0, 2, 4)]  # every 2nd of 5 frames
    assert frames == 3
    gt = [person_centres(np.stack([p.joints for p in f.people]), ds.joint_set) for f in kept]
    assert num_gt == sum(len(g) for g in gt) == 6
    # max_people 2, threshold 0: two peaks a frame, each matched to its nearest GT of that frame
    assert scores.shape == dists.shape == ids.shape == (6,)
    assert np.all(ids // 2 == np.repeat(np.arange(3), 2))
    for k in range(3):
        a, b = gt[k]
        gap = np.linalg.norm(a - b)
        np.testing.assert_allclose(per_gt["nearest_other"][2 * k : 2 * k + 2], [gap, gap])
    assert np.all(per_gt["nearest_det"] >= 0) and per_gt["nearest_score"].shape == (6,)
    # the nearest detection to a GT person is no farther than any detection's distance to its GT
    for g in range(6):
        mine = ids == g
        if mine.any():
            assert per_gt["nearest_det"][g] <= dists[mine].min() + 1e-9
