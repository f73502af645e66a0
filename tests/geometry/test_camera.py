"""Camera model vs OpenCV (the independent route), undistortion round trips, rays, validation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.geometry.camera import (
    Camera,
    camera_center,
    distort_normalized,
    distortion_jacobian,
    pixel_to_normalized,
    pixel_to_ray,
    project_points,
    stack_cameras,
    undistort_normalized,
    undistort_pixels,
    world_to_camera,
)

DTYPES = [torch.float64, torch.float32]
# projection tolerance in pixels (f32 has ~7 significant digits on pixel values ~1000)
PROJ_TOL = {torch.float64: 1e-6, torch.float32: 1e-2}


def random_camera(gen: np.random.Generator, name: str = "cam", strong: bool = False) -> Camera:
    """A 1920×1080 camera 3-6 m from the origin looking at it, with realistic distortion."""
    azimuth = gen.uniform(0, 2 * np.pi)
    centre = np.array(
        [
            gen.uniform(3, 6) * np.cos(azimuth),
            gen.uniform(3, 6) * np.sin(azimuth),
            gen.uniform(1, 3),
        ]
    )
    forward = -centre / np.linalg.norm(centre)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    t = -R @ centre
    f = gen.uniform(1000, 1500)
    K = np.array(
        [[f, 0, 960 + gen.uniform(-20, 20)], [0, f * 1.01, 540 + gen.uniform(-20, 20)], [0, 0, 1]]
    )
    k1 = -0.4 if strong else gen.uniform(-0.3, 0.1)
    dist = np.array(
        [
            k1,
            gen.uniform(-0.05, 0.1),
            gen.uniform(-1e-3, 1e-3),
            gen.uniform(-1e-3, 1e-3),
            gen.uniform(-0.01, 0.01),
        ]
    )
    return Camera(name, K, R, t, dist, 1920, 1080)


def random_points(gen: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) points in a 2 m cube around the origin (people-sized scene)."""
    return gen.uniform(-1.0, 1.0, size=(n, 3))


def cv2_project(cam: Camera, points: np.ndarray) -> np.ndarray:
    rvec, _ = cv2.Rodrigues(cam.R)
    uv, _ = cv2.projectPoints(points.reshape(-1, 1, 3), rvec, cam.t, cam.K, cam.dist)
    return uv.reshape(-1, 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_project_points_matches_opencv_batched_over_views(dtype: torch.dtype) -> None:
    gen = np.random.default_rng(1)
    cams = [random_camera(gen, f"c{i}") for i in range(4)]
    points = random_points(gen, 50)
    stacked = stack_cameras(cams, dtype=torch.float64)
    # points 1×N×3 against cameras V×1×..., one call for all views -> V×N×2
    uv = project_points(
        torch.as_tensor(points, dtype=dtype)[None],
        stacked["K"][:, None].to(dtype),
        stacked["R"][:, None].to(dtype),
        stacked["t"][:, None].to(dtype),
        stacked["dist"][:, None].to(dtype),
    )
    assert uv.shape == (4, 50, 2) and uv.dtype == dtype
    expected = np.stack([cv2_project(c, points) for c in cams])
    err = np.abs(uv.double().numpy() - expected).max()
    assert err < PROJ_TOL[dtype], err
    # the Camera method is the same computation, numpy in -> numpy out
    out = cams[0].project(points)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, expected[0], atol=1e-6)


def test_project_points_skew_hand_computed() -> None:
    # point (0.2, -0.1, 2) in the camera frame -> normalized (0.1, -0.05);
    # u = fx x + s y + cx = 1000*0.1 + 5*(-0.05) + 500 = 599.75; v = 900*(-0.05) + 400 = 355
    K = torch.tensor(
        [[1000.0, 5.0, 500.0], [0.0, 900.0, 400.0], [0.0, 0.0, 1.0]], dtype=torch.float64
    )
    uv = project_points(
        torch.tensor([0.2, -0.1, 2.0], dtype=torch.float64),
        K,
        torch.eye(3, dtype=torch.float64),
        torch.zeros(3, dtype=torch.float64),
    )
    torch.testing.assert_close(uv, torch.tensor([599.75, 355.0], dtype=torch.float64))
    # and back: pixel_to_normalized inverts K with skew
    xy = pixel_to_normalized(uv, K)
    torch.testing.assert_close(xy, torch.tensor([0.1, -0.05], dtype=torch.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_undistort_matches_opencv(dtype: torch.dtype) -> None:
    gen = np.random.default_rng(2)
    cam = random_camera(gen)
    uv = cam.project(random_points(gen, 200))  # realistic distorted pixels inside the image
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-15)
    expected = cv2.undistortPoints(
        uv.reshape(-1, 1, 2), cam.K, cam.dist, R=None, P=cam.K, criteria=criteria
    )
    p = cam.tensors(dtype)
    ours = undistort_pixels(torch.as_tensor(uv, dtype=dtype), p["K"], p["dist"])
    err = np.abs(ours.double().numpy() - expected.reshape(-1, 2)).max()
    assert err < PROJ_TOL[dtype], err
    np.testing.assert_allclose(cam.undistort_pixels(uv), expected.reshape(-1, 2), atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_undistort_round_trip_strong_barrel_distortion(dtype: torch.dtype) -> None:
    """k1 = -0.4: the radial map r (1 - 0.4 r²) is monotonic up to r = sqrt(1/1.2) ≈ 0.913, where
    the distorted radius peaks at 0.913 · (1 - 0.4/1.2) ≈ 0.609. Newton must invert it up to there."""
    gen = np.random.default_rng(3)
    dist = torch.tensor([-0.4, 0.0, 1e-3, -1e-3, 0.0], dtype=dtype)
    angle = gen.uniform(0, 2 * np.pi, 500)
    radius = gen.uniform(0.0, 0.85, 500)
    xy = torch.as_tensor(
        np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1), dtype=dtype
    )
    xy_d = distort_normalized(xy, dist)
    back = undistort_normalized(xy_d, dist)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert (back - xy).abs().max() < tol
    assert (distort_normalized(back, dist) - xy_d).abs().max() < tol


def test_undistort_broadcasts_per_view_coefficients() -> None:
    gen = np.random.default_rng(4)
    dist = torch.as_tensor(
        gen.uniform(-0.2, 0.2, size=(3, 1, 5)) * [1, 0.3, 0.01, 0.01, 0.1]
    )  # V×1×5
    xy = torch.as_tensor(gen.uniform(-0.4, 0.4, size=(2, 3, 7, 2)))  # B×V×N×2
    back = undistort_normalized(distort_normalized(xy, dist), dist)
    assert back.shape == (2, 3, 7, 2)
    assert (back - xy).abs().max() < 1e-10


def test_distortion_jacobian_matches_autograd() -> None:
    gen = np.random.default_rng(5)
    dist = torch.as_tensor(gen.uniform(-0.3, 0.3, 5) * [1, 0.3, 0.01, 0.01, 0.1])
    xy = torch.as_tensor(gen.uniform(-0.5, 0.5, 2))
    auto = torch.autograd.functional.jacobian(lambda p: distort_normalized(p, dist), xy)
    torch.testing.assert_close(distortion_jacobian(xy, dist), auto)


def test_pixel_to_ray_hits_the_point() -> None:
    gen = np.random.default_rng(6)
    cam = random_camera(gen)
    points = random_points(gen, 30)
    origin, direction = cam.unproject(cam.project(points))
    assert isinstance(origin, np.ndarray) and origin.shape == direction.shape == (30, 3)
    np.testing.assert_allclose(np.linalg.norm(direction, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(origin, np.broadcast_to(cam.center, (30, 3)), atol=1e-12)
    # the ray passes through the point: the component of (point - origin) off the ray vanishes
    offset = points - origin
    along = (offset * direction).sum(-1, keepdims=True)
    assert (along > 0).all()
    assert np.abs(offset - along * direction).max() < 1e-9
    # torch in, torch out, batched over views with per-view cameras
    cams = [cam, random_camera(gen, "b")]
    s = stack_cameras(cams, dtype=torch.float64)
    uv = torch.as_tensor(np.stack([c.project(points) for c in cams]))  # V×N×2
    o, d = pixel_to_ray(uv, s["K"][:, None], s["R"][:, None], s["t"][:, None], s["dist"][:, None])
    assert o.shape == d.shape == (2, 30, 3)
    np.testing.assert_allclose(d[1].numpy(), cams[1].unproject(uv[1].numpy())[1], atol=1e-12)
    o_t, d_t = cams[1].unproject(uv[1])  # the method with torch in gives torch out
    assert isinstance(d_t, torch.Tensor)
    torch.testing.assert_close(d_t, d[1])
    torch.testing.assert_close(o_t, o[1])


def test_camera_center_matches_opencv_decomposition() -> None:
    gen = np.random.default_rng(7)
    cams = [random_camera(gen, str(i)) for i in range(3)]
    s = stack_cameras(cams, dtype=torch.float64)
    ours = camera_center(s["R"], s["t"]).numpy()  # V×3
    for cam, c in zip(cams, ours, strict=True):
        # rebuild R through a Rodrigues round trip, then let OpenCV decompose P = K [R | t]
        rvec, _ = cv2.Rodrigues(cam.R)
        R_cv, _ = cv2.Rodrigues(rvec)
        P = cam.K @ np.hstack([R_cv, cam.t[:, None]])
        centre_h = cv2.decomposeProjectionMatrix(P)[2].ravel()
        np.testing.assert_allclose(c, centre_h[:3] / centre_h[3], atol=1e-9)
        np.testing.assert_allclose(cam.center, c, atol=1e-12)
    # the camera centre is at depth 0 in its own frame
    cam_frame = world_to_camera(torch.as_tensor(ours), s["R"], s["t"])
    assert cam_frame.abs().max() < 1e-12


def test_scaled_camera_uses_pixel_centre_convention() -> None:
    gen = np.random.default_rng(8)
    cam = random_camera(gen)
    small = cam.scaled(960, 512)
    points = random_points(gen, 40)
    sx, sy = 960 / 1920, 512 / 1080
    # pixel centres: u' + 0.5 = sx (u + 0.5)
    expected = (cam.project(points) + 0.5) * [sx, sy] - 0.5
    np.testing.assert_allclose(small.project(points), expected, atol=1e-9)
    assert (small.width, small.height) == (960, 512)
    # image corner (-0.5, -0.5) maps to itself; (1919.5, 1079.5) to (959.5, 511.5)
    np.testing.assert_allclose(
        small.K[:2, :2] @ np.linalg.solve(cam.K[:2, :2], np.array([1919.5, 1079.5]) - cam.K[:2, 2])
        + small.K[:2, 2],
        [959.5, 511.5],
        atol=1e-9,
    )


def test_gradcheck_project_points() -> None:
    gen = np.random.default_rng(9)
    cam = random_camera(gen)
    p = cam.tensors(torch.float64)
    points = torch.as_tensor(random_points(gen, 4), dtype=torch.float64).requires_grad_()
    K = p["K"].clone().requires_grad_()
    dist = p["dist"].clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x, k, d: project_points(x, k, p["R"], p["t"], d), (points, K, dist)
    )


def test_gradcheck_undistort() -> None:
    gen = np.random.default_rng(10)
    dist = torch.tensor([-0.25, 0.05, 1e-3, -5e-4, 0.01], dtype=torch.float64, requires_grad=True)
    xy = torch.as_tensor(gen.uniform(-0.4, 0.4, (5, 2)), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, d: undistort_normalized(a, d), (xy, dist))


def test_camera_normalises_homogeneous_K() -> None:
    K = np.array([[2000.0, 0, 1000], [0, 2000, 600], [0, 0, 2]])
    cam = Camera("scaled_k", K, np.eye(3), [0, 0, 0])
    # K / K[2,2]: f = 2000 / 2 = 1000, c = (500, 300)
    np.testing.assert_allclose(cam.K, [[1000, 0, 500], [0, 1000, 300], [0, 0, 1]])
    np.testing.assert_allclose(cam.project(np.array([0.1, 0.2, 1.0])), [600.0, 500.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"R": np.diag([1.0, 1.0, -1.0])}, "not a rotation"),  # a reflection, det = -1
        ({"R": np.eye(3) * 2.0}, "not a rotation"),
        ({"K": np.eye(2)}, "K must have shape"),
        ({"t": [0.0, 1.0]}, "t must have shape"),
        ({"t": [0.0, np.nan, 1.0]}, "NaN"),
        ({"K": [[1000, 0, 5], [0, np.inf, 5], [0, 0, 1]]}, "NaN"),
        ({"dist": [0.1, np.nan, 0, 0, 0]}, "NaN"),
        ({"dist": [0.1, 0, 0, 0, 0, 0.2, 0, 0]}, "5-coefficient"),
        ({"K": [[-1000, 0, 5], [0, 1000, 5], [0, 0, 1]]}, "focal"),
        ({"K": [[1000, 0, 5], [0, 1000, 5], [1, 0, 1]]}, "upper triangular"),
        ({"R": "not numbers"}, "not numeric"),
        ({"width": -5}, "negative image size"),
    ],
)
def test_camera_validation_names_the_camera(kwargs: dict, match: str) -> None:
    args = {"K": np.diag([1000.0, 1000.0, 1.0]), "R": np.eye(3), "t": np.zeros(3)} | kwargs
    with pytest.raises(InputError, match=match) as info:
        Camera("left_cam", **args)
    assert "'left_cam'" in str(info.value)


def test_camera_accepts_eight_coefficient_dist_with_zero_tail_and_none() -> None:
    cam = Camera(
        "c", np.diag([1000.0, 1000.0, 1.0]), np.eye(3), np.zeros(3), [0.1, 0, 0, 0, 0, 0, 0, 0]
    )
    np.testing.assert_array_equal(cam.dist, [0.1, 0, 0, 0, 0])
    assert np.all(Camera("c", np.diag([1.0, 1.0, 1.0]), np.eye(3), np.zeros(3), None).dist == 0)
