from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from tessetrack.calibrate import calibrate_intrinsics, fit_intrinsics, parse_board
from tessetrack.cli import app
from tessetrack.data.own_cameras import find_sources
from tessetrack.errors import InputError
from tessetrack.io.calibration import load_cameras, save_cameras


def test_fit_recovers_a_known_camera(rng):
    """Noise-free corners of a board seen from 6 poses give back K exactly (to 0.1 %)."""
    K = np.array([[800.0, 0, 330], [0, 805, 235], [0, 0, 1]])
    board = parse_board("checkerboard:6x9:0.03").object_points()
    obj, img = [], []
    for _ in range(6):
        R = Rotation.from_rotvec(rng.normal(0, 0.3, 3)).as_matrix()
        t = np.array([-0.12, -0.08, 0.6]) + rng.normal(0, 0.05, 3)
        cam = (board @ R.T + t) @ K.T  # N×3
        obj.append(board)
        img.append(cam[:, :2] / cam[:, 2:])
    fit = fit_intrinsics(obj, img, (640, 480))
    np.testing.assert_allclose(fit.K, K, rtol=1e-3, atol=0.5)
    assert fit.rms < 0.01 and fit.model == "k1"  # no distortion: the simplest model wins


def _distortion_field(camera, points: np.ndarray) -> np.ndarray:
    """(N, 2) pixels each image point moves when the lens distortion is taken out."""
    und = cv2.undistortPoints(points[:, None], camera.K, camera.dist, P=camera.K)
    return und.reshape(-1, 2) - points


def test_real_checkerboard_photos_match_qualisys(shared_data, tmp_path):
    """The 4 cameras' focal lengths within 2 % of the marker-based calibration, RMS < 1 px; the
    lens distortion the Qualisys file states agrees with the board's (its coefficients are read
    as they are, not as sub-pixels: divided by 64 they would say the lenses have none).

    Measured over a 12 × 20 grid of the image: the board's distortion moves points by a median
    1.9-2.6 px; the Qualisys file's differs from it by a median 0.5-0.6 px (divided by 64:
    1.9-2.6 px, all of it)."""
    reference = load_cameras(shared_data / "multiperson_videos_4cams/calibration/Calib.qca.txt")
    sources = find_sources(shared_data / "checkerboard_4cams")
    results = calibrate_intrinsics(sources, parse_board("checkerboard:4x7:0.06"))
    assert list(results) == ["cam01", "cam02", "cam03", "cam04"]
    for name, r in results.items():
        ref = reference[name]
        # both are portrait 1088×1920: fx with fx, fy with fy
        assert (r.camera.width, r.camera.height) == (ref.width, ref.height) == (1088, 1920)
        assert abs(r.camera.K[0, 0] / ref.K[0, 0] - 1) < 0.02
        assert abs(r.camera.K[1, 1] / ref.K[1, 1] - 1) < 0.02
        assert r.fit.rms < 1.0
        assert len(r.fit.used) >= 5 and r.views.images == 7
        u, v = np.meshgrid(np.linspace(0, ref.width - 1, 12), np.linspace(0, ref.height - 1, 20))
        grid = np.stack([u.ravel(), v.ravel()], axis=-1)
        board = _distortion_field(r.camera, grid)
        apart = np.median(np.linalg.norm(_distortion_field(ref, grid) - board, axis=1))
        assert apart < 1.0 and apart < 0.5 * np.median(np.linalg.norm(board, axis=1)), name
    out = save_cameras({n: r.camera for n, r in results.items()}, tmp_path / "intrinsics.toml")
    loaded = load_cameras(out)
    np.testing.assert_allclose(loaded["cam02"].K, results["cam02"].camera.K)


def test_board_never_seen_names_the_cameras(shared_data, tmp_path):
    sources = find_sources(shared_data / "checkerboard_4cams")
    with pytest.raises(InputError, match="cam01: 0 of 7 images"):
        calibrate_intrinsics({"cam01": sources["cam01"]}, parse_board("checkerboard:5x9:0.06"))
    # the command: one line, nothing written (one camera's photos, to stay quick)
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "cam01").symlink_to(sources["cam01"])
    out = tmp_path / "intrinsics.toml"
    result = CliRunner().invoke(app, ["calibrate", "intrinsics", str(tmp_path / "boards"),
                                      "--board", "checkerboard:5x9:0.06", "-o", str(out)])  # fmt: skip
    assert isinstance(result.exception, InputError) and "\n" not in str(result.exception)
    assert "check --board" in str(result.exception) and not out.exists()
