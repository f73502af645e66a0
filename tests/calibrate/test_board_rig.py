from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from tessetrack.calibrate.board_rig import calibrate_from_board
from tessetrack.calibrate.boards import Board, BoardDetection, parse_board
from tessetrack.calibrate.compare import compare_rigs
from tessetrack.cli import app
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.calibration import load_cameras, save_cameras


def _look_at(name: str, centre, target, K, dist, size, roll: float = 0.0) -> Camera:
    """A camera at ``centre`` looking at ``target``, x horizontal, turned by ``roll`` about its axis."""
    z = np.asarray(target, float) - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0, 0, 1.0])
    x /= np.linalg.norm(x)
    R = Rotation.from_euler("z", roll).as_matrix() @ np.stack([x, np.cross(z, x), z])
    return Camera(name, K, R, -R @ np.asarray(centre, float), dist, *size)


def _board_pose(yaw: float, tilt: float, centre) -> tuple[np.ndarray, np.ndarray]:
    """Board-to-world rotation and translation: the board upright (its z horizontal), turned by
    ``yaw`` about the vertical and tilted, its corner 0 at ``centre``."""
    R = Rotation.from_euler("ZX", [yaw, np.pi / 2 + tilt]).as_matrix()
    return R, np.asarray(centre, float)


def _sees_front(cam: Camera, R: np.ndarray, t: np.ndarray) -> bool:
    """A camera sees a board's printed side when it is on the board's −z side."""
    return float(R[:, 2] @ (cam.center - t)) < 0


def _ring_rig(K, dist, size) -> dict[str, Camera]:
    """4 cameras around the capture area, 3 m out, 2 m up, looking at its middle."""
    cams = {}
    for v in range(4):
        a = 2 * np.pi * v / 4 + 0.3
        cams[f"cam{v}"] = _look_at(f"cam{v}", [3 * np.cos(a), 3 * np.sin(a), 2.0], [0, 0, 1.0],
                                   K, dist, size)  # fmt: skip
    return cams


def _in_board_frame(cams: dict[str, Camera], R: np.ndarray, t: np.ndarray) -> dict[str, Camera]:
    """The cameras in the frame of a board pose (board to world ``R, t``), z turned to the
    cameras: what the calibration promises as its world."""
    flip = np.diag([1.0, -1.0, -1.0])
    out = {}
    for n, c in cams.items():
        Rw = c.R @ R @ flip
        out[n] = Camera(n, c.K, Rw, c.R @ t + c.t, c.dist, c.width, c.height)
    return out


def test_board_poses_recover_a_known_rig(rng):
    """A 4×7 board moved through 40 poses, projected (with distortion and 0.3 px noise) into 4
    known cameras wherever its printed side faces them: the rig comes back in metres within 0.1°
    and 5 mm (after a similarity alignment, whose scale is 1), and in the frame of the first
    best-seen board within 0.5° and 2 cm (that one board's pose error added)."""
    board = parse_board("checkerboard:4x7:0.06")
    K = np.array([[1400.0, 0, 544], [0, 1400, 960], [0, 0, 1]])
    dist = np.array([-0.1, 0.05, 0, 0, 0])
    truth = _ring_rig(K, dist, (1088, 1920))
    sightings: dict[str, dict[int, BoardDetection]] = {n: {} for n in truth}
    poses = []
    for f in range(40):
        R, t = _board_pose(rng.uniform(0, 2 * np.pi), rng.uniform(-0.3, 0.3),
                           rng.uniform([-0.5, -0.5, 0.8], [0.5, 0.5, 1.6]))  # fmt: skip
        poses.append((R, t))
        world = board.object_points() @ R.T + t
        for n, c in truth.items():
            if not _sees_front(c, R, t):
                continue
            uv, _ = cv2.projectPoints(world, cv2.Rodrigues(c.R)[0], c.t, c.K, c.dist)
            noisy = uv.reshape(-1, 2) + rng.normal(0, 0.3, (len(world), 2))
            sightings[n][f] = BoardDetection(np.arange(len(world)), noisy)
    intrinsics = {n: Camera(n, K, np.eye(3), np.zeros(3), dist, 1088, 1920) for n in truth}
    result = calibrate_from_board(sightings, intrinsics, board)
    cmp = compare_rigs(result.cameras, truth)
    assert max(cmp.rotation_deg.values()) < 0.1 and max(cmp.centre_m.values()) < 0.005
    assert abs(cmp.similarity.scale - 1) < 0.002 and abs(cmp.distance_ratio - 1) < 0.002
    expected = _in_board_frame(truth, *poses[result.origin_frame])
    for n, cam in result.cameras.items():  # the board's world: no alignment
        assert np.degrees(Rotation.from_matrix(cam.R @ expected[n].R.T).magnitude()) < 0.5
        assert np.linalg.norm(cam.center - expected[n].center) < 0.02
        assert 0.3 < result.fits[n].rms_px < 0.6  # √2 · 0.3 px noise


def test_camera_never_seeing_the_board_with_others_is_named():
    board = parse_board("checkerboard:4x7:0.06")
    K = np.array([[1000.0, 0, 640], [0, 1000, 360], [0, 0, 1]])
    intrinsics = {n: Camera(n, K, np.eye(3), np.zeros(3), np.zeros(5), 1280, 720) for n in "abc"}
    R, t = np.eye(3), np.array([-0.2, -0.1, 2.0])
    uv, _ = cv2.projectPoints(board.object_points() @ R.T + t, np.zeros(3), np.zeros(3), K, None)
    seen = BoardDetection(np.arange(28), uv.reshape(-1, 2))
    sightings = {"a": {0: seen}, "b": {0: seen}, "c": {5: seen}}  # c: only alone, in frame 5
    with pytest.raises(InputError, match="camera c never see the board in the same frame"):
        calibrate_from_board(sightings, intrinsics, board)
    with pytest.raises(InputError, match="camera c: the checkerboard 4x7 .* is never seen"):
        calibrate_from_board({"a": {0: seen}, "b": {0: seen}, "c": {}}, intrinsics, board)


def _render(board: Board, cam: Camera, R: np.ndarray, t: np.ndarray, pps: int = 40) -> np.ndarray:
    """A grey image of the board (white margin of one square) as ``cam`` sees it, no distortion."""
    rows, cols = board.rows + 1, board.cols + 1  # squares
    tex = np.full(((rows + 2) * pps, (cols + 2) * pps), 255, np.uint8)
    for i in range(rows):
        for j in range(cols):
            if (i + j) % 2 == 0:
                tex[(i + 1) * pps : (i + 2) * pps, (j + 1) * pps : (j + 2) * pps] = 0
    s = board.square_m
    texture_to_board = np.array([[s / pps, 0, -2 * s], [0, s / pps, -2 * s], [0, 0, 1]])
    Rc, tc = cam.R @ R, cam.R @ t + cam.t  # board to camera
    H = cam.K @ np.column_stack([Rc[:, 0], Rc[:, 1], tc]) @ texture_to_board
    return cv2.warpPerspective(tex, H, (cam.width, cam.height), flags=cv2.INTER_AREA,
                               borderValue=160)  # fmt: skip


def _rendered_recording(root: Path, board: Board, rng) -> tuple[dict[str, Camera], list]:
    """3 cameras on an arc (the last one upside down, so OpenCV lists the corners from the
    other end), 5 frames of the board facing them; PNG folders per camera."""
    K = np.array([[700.0, 0, 320], [0, 700, 240], [0, 0, 1]])
    truth = {}
    for v, angle in enumerate((-0.6, 0.0, 0.6)):
        centre = [2.5 * np.sin(angle), -2.5 * np.cos(angle), 1.5]
        truth[f"cam{v}"] = _look_at(f"cam{v}", centre, [0, 0, 1.0], K, np.zeros(5), (640, 480),
                                    roll=np.pi if v == 2 else 0.0)  # fmt: skip
    poses = []
    for f in range(5):
        R, t = _board_pose(np.pi + rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3),
                           rng.uniform([0.0, -0.1, 0.7], [0.4, 0.1, 1.0]))  # fmt: skip
        assert all(_sees_front(c, R, t) for c in truth.values())
        poses.append((R, t))
        for n, c in truth.items():
            (root / "videos" / n).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "videos" / n / f"frame_{f:03d}.png"), _render(board, c, R, t))
    return truth, poses


def test_board_extrinsics_from_rendered_images(tmp_path, rng):
    """The command end to end on rendered PNG folders: the cameras come back in the board's frame
    within 0.5° and 2 cm; every corner order agrees (the upside-down camera included)."""
    board = parse_board("checkerboard:4x7:0.1")
    truth, poses = _rendered_recording(tmp_path / "rec", board, rng)
    intrinsics = tmp_path / "intrinsics.toml"
    save_cameras({n: Camera(n, c.K, np.eye(3), np.zeros(3), c.dist, c.width, c.height)
                  for n, c in truth.items()}, intrinsics)  # fmt: skip
    out = tmp_path / "rig.toml"
    result = CliRunner().invoke(app, ["calibrate", "extrinsics", str(tmp_path / "rec"), "--from",
                                      "board", "--board", "checkerboard:4x7:0.1", "--intrinsics",
                                      str(intrinsics), "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    origin = int(result.output.split("board in frame ")[1].split(")")[0])
    expected = _in_board_frame(truth, *poses[origin])
    for n, cam in load_cameras(out).items():
        assert np.degrees(Rotation.from_matrix(cam.R @ expected[n].R.T).magnitude()) < 0.5
        assert np.linalg.norm(cam.center - expected[n].center) < 0.02


def test_board_size_matching_no_image_writes_nothing(tmp_path, rng):
    board = parse_board("checkerboard:4x7:0.1")
    truth, _ = _rendered_recording(tmp_path / "rec", board, rng)
    intrinsics = tmp_path / "intrinsics.toml"
    save_cameras({n: Camera(n, c.K, np.eye(3), np.zeros(3), c.dist, c.width, c.height)
                  for n, c in truth.items()}, intrinsics)  # fmt: skip
    out = tmp_path / "rig.toml"
    for spec, message in (("checkerboard:5x8:0.1", "cam0, cam1, cam2: the checkerboard 5x8"),
                          ("checkerboard:4x6:0.1", "turned half round")):  # fmt: skip
        result = CliRunner().invoke(app, ["calibrate", "extrinsics", str(tmp_path / "rec"),
                                          "--from", "board", "--board", spec, "--intrinsics",
                                          str(intrinsics), "-o", str(out)])  # fmt: skip
        assert result.exit_code != 0
        assert message in str(result.exception), result.exception
        assert not out.exists()


def test_board_source_needs_a_board(tmp_path):
    result = CliRunner().invoke(app, ["calibrate", "extrinsics", str(tmp_path), "--from", "board",
                                      "--intrinsics", str(tmp_path / "i.toml"),
                                      "-o", str(tmp_path / "o.toml")])  # fmt: skip
    assert result.exit_code != 0
    assert "--from board needs --board" in str(result.exception)


def test_board_views_of_different_moments_are_refused(rng):
    """Each camera sees its own board pose under the same frame number (photos taken one camera
    at a time, not a synchronized recording): the corners cannot agree, and the message says why."""
    board = parse_board("checkerboard:4x7:0.06")
    K = np.array([[1400.0, 0, 544], [0, 1400, 960], [0, 0, 1]])
    truth = _ring_rig(K, np.zeros(5), (1088, 1920))
    sightings: dict[str, dict[int, BoardDetection]] = {n: {} for n in truth}
    for n, c in truth.items():
        for f in range(6):  # the board 1 m in front of this camera, turned a little
            R = c.R.T @ Rotation.from_rotvec(rng.normal(0, 0.2, 3)).as_matrix()
            t = c.center + c.R.T @ np.array([-0.2, -0.1, 1.0])
            uv, _ = cv2.projectPoints(board.object_points() @ R.T + t, cv2.Rodrigues(c.R)[0],
                                      c.t, K, None)  # fmt: skip
            sightings[n][f] = BoardDetection(np.arange(28), uv.reshape(-1, 2))
    with pytest.raises(InputError, match="are the recordings synchronized"):
        calibrate_from_board(sightings, truth, board)
