"""The rig-agnostic model straight after install, in a camera rig no model has seen."""

from __future__ import annotations

from pathlib import Path

from tessetrack.eval.evaluate import evaluate, load_ground_truth
from tessetrack.io.tracks import load_tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.tracking.runner import track_to_file

#: The scene's seed, chosen once for this test; training scenes use seeds 0-47. It draws 7 cameras
#: 1.4-3.9 m high and 4.5-15 m from the area's centre, 720p to 4K (two in portrait), around a
#: 3.1 m x 7.7 m area.
SEED = 2026


def test_detections_any_tracks_a_random_unseen_rig(tmp_path: Path) -> None:
    scene = tmp_path / "scene"
    cfg = SynthConfig(rig="varied", num_people=3, num_frames=40, seed=SEED, split="test",
                      images=False, face="measured")  # fmt: skip
    result = generate_dataset(scene, cfg)
    assert len(result.rig.cameras) == 7  # the rig described above
    out = tmp_path / "tracks.json"
    track_to_file(scene, output=out, checkpoint="detections-any", detections=scene / "detections",
                  detections_format="openpose")  # fmt: skip
    res = evaluate(load_tracks(out), load_ground_truth(str(scene)), ["mpjpe", "mot3d"])
    assert res["mpjpe_mm"] <= 60.0, res
    assert res["mota"] >= 90.0, res
