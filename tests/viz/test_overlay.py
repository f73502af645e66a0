from __future__ import annotations

import numpy as np

from tessetrack.geometry.camera import Camera
from tessetrack.skeletons import PANOPTIC19
from tessetrack.structures import PersonPose
from tessetrack.viz.overlay import draw_people, id_color, tile_images
from tessetrack.viz.plot3d import plot_scene_3d


def _camera() -> Camera:
    # Looks along world +y from 4 m away; world z up maps to image up.
    R = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    K = np.array([[200.0, 0, 160], [0, 200, 120], [0, 0, 1]])
    return Camera("c", K, R, -R @ np.array([0, -4.0, 1.0]), width=320, height=240)


def _person(pid: int, x: float) -> PersonPose:
    joints = np.zeros((19, 3))
    joints[:, 0] = x
    joints[:, 2] = np.linspace(1.6, 0.1, 19)
    return PersonPose(pid, joints)


def test_people_are_drawn_in_their_id_colour_where_they_project():
    cam = _camera()
    img = np.zeros((240, 320, 3), np.uint8)
    out = draw_people(img, cam, [_person(0, 0.0), _person(3, 1.0)], PANOPTIC19)
    assert img.sum() == 0  # input untouched
    for pid, x in ((0, 0.0), (3, 1.0)):
        u, v = cam.project(np.array([x, 0.0, 1.0])).round().astype(int)
        patch = out[v - 2 : v + 3, u - 2 : u + 3].reshape(-1, 3)
        # x=0 projects to u = 160 + 200·0/4 = 160; x=1 to u = 160 + 200·1/4 = 210
        assert u == (160 if x == 0 else 210)
        assert any(np.abs(px.astype(int) - id_color(pid)).max() < 60 for px in patch)
    assert id_color(0) != id_color(3)


def test_tiles_and_3d_plot(tmp_path):
    tiles = tile_images([np.full((10, 20, 3), i * 50, np.uint8) for i in range(5)], tile_width=20)
    assert tiles.shape == (2 * 10, 3 * 20, 3)  # ceil(sqrt 5) = 3 columns, 2 rows
    assert tiles[15, 25, 0] == 4 * 50 and tiles[15, 45, 0] == 0  # 5th tile, then padding
    fig = plot_scene_3d([_person(1, 0.0)], PANOPTIC19, [_camera()], path=tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert fig.axes


def test_uncertain_joints_are_drawn_faded():
    cam = _camera()
    img = np.zeros((240, 320, 3), np.uint8)
    sure = _person(0, 0.0)
    scores = np.ones(19)
    scores[18] = 0.2  # the last joint (lowest, z = 0.1 m): one view, say
    unsure = PersonPose(0, sure.joints, scores)
    a = draw_people(img, cam, [sure], PANOPTIC19)
    b = draw_people(img, cam, [unsure], PANOPTIC19)
    u, v = cam.project(sure.joints[18]).round().astype(int)
    colour = np.array(id_color(0))
    assert np.array_equal(a[v, u], colour)  # drawn fully when certain
    np.testing.assert_allclose(b[v, u], 0.35 * colour, atol=1.5)  # 35 % opacity over black
    u0, v0 = cam.project(sure.joints[0]).round().astype(int)
    assert np.array_equal(b[v0, u0], a[v0, u0])  # certain joints unchanged
