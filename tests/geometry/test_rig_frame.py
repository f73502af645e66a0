"""The rig's own frame from its calibration: up, floor, capture area, volume; cameras moved into the
frame project exactly as before (checked with OpenCV's projection)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from rig_helpers import cameras_seeing, cv_project, look_at, rig
from tessetrack.errors import InputError
from tessetrack.geometry.rig_frame import (
    RigFrame,
    _largest_rectangle,
    capture_area,
    choose_up,
    floor_from_people,
    rig_frame,
    volume_for,
    walk_area,
)
from tessetrack.geometry.voxel_grid import VoxelGrid

# a world whose up is -y (CMU Panoptic's convention), 5 m off: x_new = M x + s
M = Rotation.from_euler("x", 90, degrees=True).as_matrix()
SHIFT = np.array([5.0, -1.0, 2.0])


def _moved(cams):
    """The same cameras in the world x_new = M x + SHIFT."""
    frame = RigFrame(R=M, t=SHIFT, area=np.zeros((2, 2)))
    return {n: frame.camera(c) for n, c in cams.items()}


def test_up_of_a_level_rig_and_of_a_y_down_one():
    cams = rig()
    up, how = choose_up(list(cams.values()))
    assert np.allclose(up, [0, 0, 1]) and "+z" in how
    up, how = choose_up(list(_moved(cams).values()))
    assert np.allclose(up, M @ [0, 0, 1]) and np.allclose(up, [0, -1, 0], atol=1e-9)
    assert "-y" in how
    with pytest.raises(InputError, match="up"):
        choose_up(list(cams.values()), given=(0, 0, 0))


def test_a_moved_camera_projects_like_the_original():
    cam = rig()["c1"]
    frame = RigFrame(R=M, t=SHIFT, area=np.zeros((2, 2)))
    pts = np.random.default_rng(0).uniform(-1, 1, (20, 3)) + [0, 0, 1]
    moved = frame.camera(cam)
    np.testing.assert_allclose(
        moved.project(frame.to_canonical(pts)), cv_project(cam, pts), atol=1e-6
    )
    rvec = cv2.Rodrigues(moved.R)[0]
    uv, _ = cv2.projectPoints(frame.to_canonical(pts), rvec, moved.t, moved.K, moved.dist)
    np.testing.assert_allclose(uv.reshape(-1, 2), cv_project(cam, pts), atol=1e-6)
    np.testing.assert_allclose(frame.to_world(frame.to_canonical(pts)), pts, atol=1e-12)


def test_floor_from_people_feet():
    up = np.array([0.0, 0.0, 1.0])
    people = [np.array([[0, 0, 0.08], [0, 0, 0.10], [0, 0, 1.5]]),
              np.array([[1, 0, 0.07], [np.nan] * 3, [1, 0, 1.6]])]  # fmt: skip
    assert floor_from_people(people, [0, 1], up) == pytest.approx(-0.005)
    assert floor_from_people([np.full((3, 3), np.nan)], [0, 1], up) is None


def test_frame_of_a_moved_rig_is_the_original_frame():
    """Found in the moved world, the frame puts cameras at the same heights over the same area."""
    cams = rig()
    person = np.array([[0.3, 0.2, 0.08], [0.3, 0.2, 1.5]])  # an ankle and a neck, metres
    a = rig_frame(cams, people=[person], feet=[0])
    moved_person = person @ M.T + SHIFT
    b = rig_frame(_moved(cams), people=[moved_person], feet=[0])
    ha = sorted(a.to_canonical(c.center)[2] for c in cams.values())
    hb = sorted(b.to_canonical(c.center)[2] for c in _moved(cams).values())
    np.testing.assert_allclose(ha, hb, atol=1e-6)
    np.testing.assert_allclose(ha, 2.0, atol=1e-6)  # cameras 2 m above a floor at z = 0
    np.testing.assert_allclose(np.ptp(a.area, 0), np.ptp(b.area, 0), atol=0.3)
    assert any("0.08 m below the lowest feet" in n for n in b.notes)


def test_capture_area_covers_what_two_cameras_see():
    cams = rig()  # four cameras 4 m from the origin, looking at it
    area = capture_area(list(cams.values()), np.eye(3), 0.0, margin=0.0)
    assert (area[0] < -1).all() and (area[1] > 1).all()  # the middle is seen
    assert (area[0] >= -6.5).all() and (area[1] <= 6.5).all()  # within 0.75 × the rig's span
    # a rig on one side of the room, all looking +y: nothing behind it
    wall = {
        f"w{i}": look_at(f"w{i}", (x, -4.0, 2.0), (x, 0.0, 1.0))
        for i, x in enumerate((-3, -1, 1, 3))
    }
    area = capture_area(list(wall.values()), np.eye(3), 0.0, margin=0.0)
    assert area[0, 1] >= -4.0 and area[1, 1] > 0.0  # from the cameras forward
    widened = capture_area(list(wall.values()), np.eye(3), 0.0)  # by 1 m on every side
    np.testing.assert_allclose(widened, area + [[-1.0, -1.0], [1.0, 1.0]])


def test_largest_rectangle_by_hand():
    mask = np.zeros((6, 8), bool)
    mask[1:4, 1:4] = True  # a 3×3 square
    mask[2:4, 4:7] = True  # and a 2-row arm to its right
    # the square (9 cells) beats the 2 × 6 band through the arm, capped at 2 × 4 (8 cells)
    assert _largest_rectangle(mask) == (1, 3, 1, 3)
    mask[1, 4:7] = True  # now the arm is three rows high too: 3 × 6, within twice its width
    assert _largest_rectangle(mask) == (1, 3, 1, 6)
    assert _largest_rectangle(np.zeros((3, 3), bool)) is None
    # a corridor 2 × 10 keeps at most twice its width, in its middle
    assert _largest_rectangle(np.ones((2, 10), bool)) == (0, 1, 3, 6)
    # the exact answer, not the first square grown: a 3 × 3 square, and elsewhere a 4 × 8 block
    mask = np.zeros((12, 12), bool)
    mask[0:3, 0:3] = True
    mask[6:10, 2:10] = True
    assert _largest_rectangle(mask) == (6, 9, 2, 9)


def test_walk_area_is_seen_whole_by_two_cameras():
    cams = list(rig().values())  # four cameras 4 m from the origin, looking at it
    frame = rig_frame({c.name: c for c in cams})
    yaw, area = walk_area(frame, cams)
    assert (area[1] - area[0] >= 1.0).all()
    c, s = np.cos(yaw), np.sin(yaw)
    turn = np.array([[c, -s], [s, c]])  # Rz(yaw) in the floor plane
    for x in np.linspace(area[0, 0], area[1, 0], 4):
        for y in np.linspace(area[0, 1], area[1, 1], 4):
            column = np.array([[*(turn @ [x, y]), z] for z in (0.1, 0.9, 1.7)])
            assert cameras_seeing(cams, frame.to_world(column)) >= 2  # OpenCV's projection
    # 0.25 m beyond its edges (within the 0.3 m clearance) a person is still seen by two cameras
    for x, y in (
        (area[0, 0] - 0.25, area[:, 1].mean()),
        (area[1, 0] + 0.25, area[:, 1].mean()),
        (area[:, 0].mean(), area[0, 1] - 0.25),
        (area[:, 0].mean(), area[1, 1] + 0.25),
    ):
        world = frame.to_world(np.array([[*(turn @ [x, y]), z] for z in (0.1, 0.9, 1.7)]))
        assert cameras_seeing(cams, world) >= 2
    with pytest.raises(InputError):
        walk_area(frame, cams, step=0.0)
    # a rig whose cameras look away from each other shares no floor
    apart = [look_at("a", (0.0, -1.0, 2.0), (0.0, -6.0, 1.0)),
             look_at("b", (0.0, 1.0, 2.0), (0.0, 6.0, 1.0))]  # fmt: skip
    assert walk_area(rig_frame({c.name: c for c in apart}), apart) is None


def test_volume_keeps_the_voxel_size():
    frame = RigFrame(R=np.eye(3), t=np.zeros(3), area=np.array([[-3.1, -2.0], [3.1, 2.0]]))
    model = VoxelGrid(center=(0.45, -0.32, 0.9), size=(8.0, 8.0, 2.0), shape=(64, 64, 16))
    grid = volume_for(frame, model)
    assert grid.shape == (56, 32, 16)  # 6.2 m and 4 m at 0.125 m, rounded up to multiples of 8
    np.testing.assert_allclose(np.array(grid.size) / grid.shape, 0.125)
    assert grid.center == (0.0, 0.0, 0.9)
