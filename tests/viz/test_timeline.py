"""Track timelines: presence runs computed by hand and the bars drawn from them."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from tessetrack.structures import FramePoses, PersonPose, Tracks
from tessetrack.viz.timeline import plot_timeline, presence_runs, track_presence


def _tracks() -> Tracks:
    # id 3 at frames 10, 11, 13; id 7 at frames 11, 12
    j = np.zeros((19, 3))
    seen = {10: [3], 11: [3, 7], 12: [7], 13: [3]}
    frames = tuple(
        FramePoses(f, tuple(PersonPose(i, j) for i in ids)) for f, ids in sorted(seen.items())
    )
    return Tracks(joint_names=tuple(f"j{k}" for k in range(19)), frames=frames, fps=10.0)


def test_presence_and_runs_by_hand():
    frames, ids, present = track_presence(_tracks())
    assert frames.tolist() == [10, 11, 12, 13]
    assert ids == [3, 7]
    assert present.tolist() == [[True, True, False, True], [False, True, True, False]]
    assert presence_runs(frames, present[0]) == [(10, 11), (13, 13)]
    assert presence_runs(frames, present[1]) == [(11, 12)]
    assert presence_runs(frames, np.zeros(4, bool)) == []


def test_plot_timeline_draws_one_bar_per_run(tmp_path: Path):
    path = tmp_path / "t.png"
    fig = plot_timeline(_tracks(), path)
    ax = fig.axes[0]
    # broken_barh: one collection per ID; id 3 has 2 runs, id 7 has 1
    assert [len(c.get_paths()) for c in ax.collections] == [2, 1]
    # run (10, 11) spans 9.5 .. 11.5
    x0 = ax.collections[0].get_paths()[0].vertices[:, 0]
    assert x0.min() == 9.5 and x0.max() == 11.5
    image = iio.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50


def test_plot_timeline_without_people(tmp_path: Path):
    tracks = Tracks(joint_names=("a",), frames=(FramePoses(0), FramePoses(1)))
    fig = plot_timeline(tracks, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").is_file()
    assert fig.axes[0].texts[0].get_text() == "no tracks"
