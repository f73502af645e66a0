"""Overlay videos and 3D animations on a tiny synthetic scene whose ground truth serves as tracks."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from tessetrack.data import open_dataset
from tessetrack.errors import InputError
from tessetrack.eval.evaluate import load_ground_truth
from tessetrack.structures import Tracks
from tessetrack.synth.generate import SynthConfig, generate_dataset
from tessetrack.viz.overlay import id_color
from tessetrack.viz.render import (
    render_3d_animation,
    render_overlay_frame,
    render_overlay_video,
    tracks_joint_set,
)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Tracks]:
    root = tmp_path_factory.mktemp("render") / "scene"
    config = SynthConfig(
        rig="ring", num_cameras=2, num_people=2, num_frames=4, split="test",
        image_size=(128, 128), seed=1,
    )  # fmt: skip
    generate_dataset(root, config)
    return open_dataset(root), load_ground_truth(root)


def _joint_pixel(dataset, tracks: Tracks) -> tuple[int, int, int, tuple[int, int, int]]:
    """(frame position, row, col, colour) of a joint of frame 0, view 0 drawn in its track colour."""
    frame = dataset[0]
    cam = frame.cameras[next(iter(frame.cameras))]
    image = render_overlay_frame(frame, tracks.frames[0].people, tracks_joint_set(tracks))
    for person in tracks.frames[0].people:
        uv = np.round(cam.project(person.joints)).astype(int)  # J×2
        color = id_color(person.id)
        for u, v in uv:
            # inside the first tile, away from the corner labels, drawn exactly in the track colour
            if 20 <= u < cam.width - 4 and 20 <= v < cam.height - 20:
                if tuple(image[v, u]) == color:
                    return 0, v, u, color
    raise AssertionError("no joint drawn in its track colour")


def test_overlay_frame_tiles_views_and_draws_track_colours(scene):
    dataset, tracks = scene
    frame = dataset[0]
    image = render_overlay_frame(frame, tracks.frames[0].people, tracks_joint_set(tracks))
    # 2 views of 128×128 tiled in ceil(sqrt(2)) = 2 columns, 1 row
    assert image.shape == (128, 256, 3)
    _, v, u, color = _joint_pixel(dataset, tracks)
    assert tuple(image[v, u]) == color
    # without people the same pixel shows the rendered scene, not the track colour
    bare = render_overlay_frame(frame, (), tracks_joint_set(tracks))
    assert tuple(bare[v, u]) != color


def test_overlay_video_has_every_frame_and_the_track_colour(scene, tmp_path: Path):
    dataset, tracks = scene
    path = render_overlay_video(dataset, tracks, tmp_path / "o.mp4", tile_width=None)
    video = iio.imread(path)
    assert video.shape == (4, 128, 256, 3)  # 4 frames; 128 and 256 are multiples of 16: no padding
    _, v, u, color = _joint_pixel(dataset, tracks)
    # H.264 with 4:2:0 chroma blurs a 5-pixel dot: compare the 3×3 mean, tolerance 60 per channel
    patch = video[0, v - 1 : v + 2, u - 1 : u + 2].reshape(-1, 3).mean(axis=0)
    assert np.abs(patch - np.array(color)).max() < 60


def test_overlay_gif_and_frame_selection(scene, tmp_path: Path):
    dataset, tracks = scene
    path = render_overlay_video(dataset, tracks, tmp_path / "o.gif", tile_width=64, fps=5)
    video = iio.imread(path)
    assert video.shape[:3] == (4, 64, 128)  # tiles of 64×64, 2 columns


def test_3d_animation_one_frame_per_tracks_frame(scene, tmp_path: Path):
    dataset, tracks = scene
    path = render_3d_animation(tracks, tmp_path / "a.mp4", cameras=dataset.cameras, size=160)
    video = iio.imread(path)
    assert video.shape == (4, 160, 160, 3)
    # the skeletons are drawn: some pixels carry a track colour's hue (not grey/white)
    spread = video[0].max(axis=-1).astype(int) - video[0].min(axis=-1)
    assert (spread > 100).sum() > 20


def test_bad_output_type_is_refused(scene, tmp_path: Path):
    dataset, tracks = scene
    with pytest.raises(InputError, match="unknown video type"):
        render_overlay_video(dataset, tracks, tmp_path / "o.txt")


def test_render_cli_writes_video_animation_and_timeline(scene, tmp_path: Path):
    from typer.testing import CliRunner

    from tessetrack.cli import app
    from tessetrack.io.tracks import save_tracks

    dataset, tracks = scene
    tracks_path = save_tracks(tracks, tmp_path / "gt.json")
    args = ["render", str(dataset.root), "--tracks", str(tracks_path), "--output",
            str(tmp_path / "v.mp4"), "--animation", str(tmp_path / "a.gif"), "--timeline",
            str(tmp_path / "t.png"), "--tile-width", "64"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert iio.imread(tmp_path / "v.mp4").shape == (4, 64, 128, 3)
    assert iio.imread(tmp_path / "a.gif").shape[0] == 4
    assert (tmp_path / "t.png").is_file()
