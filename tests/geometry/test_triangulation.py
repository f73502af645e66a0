"""Triangulation vs OpenCV, multi-view exactness, weights, batching, gradients, a real Panoptic rig."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera, projection_matrix, stack_cameras
from tessetrack.geometry.triangulation import (
    dlt_rows,
    reprojection_error,
    triangulate_dlt,
    triangulate_undistorted,
)


def ring_cameras(gen: np.random.Generator, n: int, dist_scale: float = 1.0) -> list[Camera]:
    """n cameras on a ring of radius 4-6 m at 1-3 m height, looking at the origin, with distortion."""
    cams = []
    for i in range(n):
        azimuth = 2 * np.pi * i / n + gen.uniform(-0.2, 0.2)
        radius = gen.uniform(4, 6)
        centre = np.array([radius * np.cos(azimuth), radius * np.sin(azimuth), gen.uniform(1, 3)])
        forward = -centre / np.linalg.norm(centre)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        R = np.stack([right, np.cross(forward, right), forward])
        f = gen.uniform(1000, 1400)
        K = np.array([[f, 0, 960], [0, f, 540], [0, 0, 1.0]])
        dist = dist_scale * np.array(
            [gen.uniform(-0.3, 0.0), gen.uniform(0, 0.1), 5e-4, -5e-4, 0.0]
        )
        cams.append(Camera(f"cam{i}", K, R, -R @ centre, dist, 1920, 1080))
    return cams


def projections(cams: list[Camera], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    s = stack_cameras(cams, dtype=dtype)
    return projection_matrix(s["K"], s["R"], s["t"])  # V×3×4


def pinhole_uv(cams: list[Camera], points: np.ndarray) -> np.ndarray:
    """(N, 3) points -> (N, V, 2) undistorted pixels ``P X`` (pure pinhole)."""
    P = np.stack([c.P for c in cams])  # V×3×4
    hom = np.einsum("vij,nj->nvi", P, np.c_[points, np.ones(len(points))])  # N×V×3
    return hom[..., :2] / hom[..., 2:]


def test_two_views_match_opencv() -> None:
    gen = np.random.default_rng(0)
    cams = ring_cameras(gen, 2)
    points = gen.uniform(-1, 1, (100, 3))
    uv = pinhole_uv(cams, points) + gen.normal(0, 0.5, (100, 2, 2))  # half-pixel noise
    X_h = cv2.triangulatePoints(cams[0].P, cams[1].P, uv[:, 0].T.copy(), uv[:, 1].T.copy())
    expected = (X_h[:3] / X_h[3]).T
    ours = triangulate_dlt(torch.as_tensor(uv), projections(cams)).numpy()
    # with noise the two minimise slightly different algebraic errors (we normalise the rows,
    # OpenCV does not): measured max difference 3.3 mm at 0.5 px noise, and the same mean
    # reprojection error (0.285 px vs 0.281 px; the true points score 0.61 px)
    assert np.abs(ours - expected).max() < 5e-3
    mean_reproj = lambda X: np.linalg.norm(pinhole_uv(cams, X) - uv, axis=-1).mean()  # noqa: E731
    assert mean_reproj(ours) < 1.05 * mean_reproj(expected)
    # noise-free both are exact
    exact = triangulate_dlt(torch.as_tensor(pinhole_uv(cams, points)), projections(cams)).numpy()
    X_h = cv2.triangulatePoints(
        cams[0].P, cams[1].P, *(pinhole_uv(cams, points)[:, v].T.copy() for v in (0, 1))
    )
    np.testing.assert_allclose(exact, (X_h[:3] / X_h[3]).T, atol=1e-8)
    np.testing.assert_allclose(exact, points, atol=1e-8)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-6), (torch.float32, 1e-4)])
def test_multiview_noise_free_is_exact(dtype: torch.dtype, tol: float) -> None:
    gen = np.random.default_rng(1)
    cams = ring_cameras(gen, 6)
    points = gen.uniform(-1, 1, (3, 50, 3))  # B×N×3
    uv = torch.as_tensor(pinhole_uv(cams, points.reshape(-1, 3)).reshape(3, 50, 6, 2), dtype=dtype)
    ours = triangulate_dlt(uv, projections(cams, dtype))  # P V×3×4 broadcasts over B×N
    assert ours.shape == (3, 50, 3) and ours.dtype == dtype
    err = (ours.double() - torch.as_tensor(points)).norm(dim=-1).max().item()
    assert err < tol, err  # metres


def test_zero_weight_ignores_a_corrupted_view() -> None:
    gen = np.random.default_rng(2)
    cams = ring_cameras(gen, 4)
    points = gen.uniform(-1, 1, (20, 3))
    uv = torch.as_tensor(pinhole_uv(cams, points))  # N×V×2
    uv[:, 2] += 80.0  # view 2 is off by 80 px in u and v
    weights = torch.ones(20, 4, dtype=torch.float64)
    corrupted = triangulate_dlt(uv, projections(cams), weights)
    assert (corrupted - torch.as_tensor(points)).norm(dim=-1).min() > 1e-2  # it does hurt
    weights[:, 2] = 0.0
    cleaned = triangulate_dlt(uv, projections(cams), weights)
    assert (cleaned - torch.as_tensor(points)).norm(dim=-1).max() < 1e-8
    # dropping the view altogether gives the same answer
    keep = [0, 1, 3]
    dropped = triangulate_dlt(uv[:, keep], projections(cams)[keep])
    torch.testing.assert_close(cleaned, dropped)


def test_batched_equals_per_item_with_per_item_cameras() -> None:
    gen = np.random.default_rng(3)
    P = torch.stack([projections(ring_cameras(gen, 3)) for _ in range(4)])  # B×V×3×4
    uv = torch.as_tensor(gen.uniform(200, 900, (4, 3, 2)))  # B×V×2 (inconsistent on purpose)
    w = torch.as_tensor(gen.uniform(0.2, 1.0, (4, 3)))
    batched = triangulate_dlt(uv, P, w)
    looped = torch.stack([triangulate_dlt(uv[b], P[b], w[b]) for b in range(4)])
    torch.testing.assert_close(batched, looped)


def test_dlt_rows_hand_computed() -> None:
    # P = [I | 0], pixel (2, 3): rows u·p3 - p1 = (-1, 0, 2, 0), v·p3 - p2 = (0, -1, 3, 0);
    # norms sqrt(5) and sqrt(10); weight 2 scales both
    P = torch.cat([torch.eye(3), torch.zeros(3, 1)], dim=1)[None].double()  # V=1
    A = dlt_rows(
        torch.tensor([[2.0, 3.0]], dtype=torch.float64), P, torch.tensor([2.0], dtype=torch.float64)
    )
    expected = torch.tensor([[-1.0, 0, 2, 0], [0, -1, 3, 0]], dtype=torch.float64)
    expected = 2 * expected / torch.tensor([[5.0**0.5], [10.0**0.5]], dtype=torch.float64)
    torch.testing.assert_close(A, expected)


def test_triangulate_undistorted_removes_distortion() -> None:
    gen = np.random.default_rng(4)
    cams = ring_cameras(gen, 5, dist_scale=1.5)
    points = gen.uniform(-1, 1, (30, 3))
    uv = torch.as_tensor(np.stack([c.project(points) for c in cams], axis=1))  # N×V×2 distorted
    s = stack_cameras(cams, dtype=torch.float64)
    ours = triangulate_undistorted(uv, s["K"], s["R"], s["t"], s["dist"])
    assert (ours - torch.as_tensor(points)).norm(dim=-1).max() < 1e-6
    # ignoring the distortion is clearly wrong (centimetres), so the test has teeth
    naive = triangulate_dlt(uv, projections(cams))
    assert (naive - torch.as_tensor(points)).norm(dim=-1).max() > 1e-3
    # reprojection errors: ~0 for the truth; a (3, 4) px shift of one observation gives 5 px
    err = reprojection_error(torch.as_tensor(points), uv, s["K"], s["R"], s["t"], s["dist"])
    assert err.shape == (30, 5) and err.max() < 1e-8
    shifted = uv.clone()
    shifted[0, 1] += torch.tensor([3.0, 4.0], dtype=torch.float64)  # sqrt(3² + 4²) = 5
    err = reprojection_error(torch.as_tensor(points), shifted, s["K"], s["R"], s["t"], s["dist"])
    assert abs(err[0, 1].item() - 5.0) < 1e-8 and err[1:].max() < 1e-8


def test_gradcheck_triangulate_dlt() -> None:
    gen = np.random.default_rng(5)
    cams = ring_cameras(gen, 3)
    points = gen.uniform(-1, 1, (2, 3))
    uv = torch.as_tensor(pinhole_uv(cams, points) + gen.normal(0, 1.0, (2, 3, 2))).requires_grad_()
    w = torch.as_tensor(gen.uniform(0.5, 1.0, (2, 3))).requires_grad_()
    P = projections(cams)
    assert torch.autograd.gradcheck(lambda a, b: triangulate_dlt(a, P, b), (uv, w))


def test_input_errors() -> None:
    P = torch.zeros(3, 3, 4)
    with pytest.raises(InputError, match="number of views"):
        triangulate_dlt(torch.zeros(2, 2), P)
    with pytest.raises(InputError, match="P must have shape"):
        triangulate_dlt(torch.zeros(3, 2), torch.zeros(3, 3, 3))
    with pytest.raises(InputError, match="weights"):
        triangulate_dlt(torch.zeros(3, 2), P, torch.ones(2))


def _panoptic_hd_cameras(path: Path, names: list[str]) -> list[Camera]:
    data = json.loads(path.read_text())
    by_name = {c["name"]: c for c in data["cameras"]}
    cams = []
    for name in names:
        c = by_name[name]
        t_m = np.asarray(c["t"], dtype=np.float64).ravel() / 100.0  # Panoptic is in centimetres
        cams.append(Camera(name, c["K"], c["R"], t_m, c["distCoef"], *c["resolution"]))
    return cams


def test_real_panoptic_rig_round_trip(shared_data: Path) -> None:
    """Project real Panoptic ground-truth joints into 5 real HD cameras (with their distortion),
    triangulate them back: noise-free, the round trip must be exact to a micrometre."""
    folder = shared_data / "panoptic" / "160906_band1"
    cams = _panoptic_hd_cameras(
        folder / "calibration_160906_band1.json", ["00_00", "00_03", "00_06", "00_12", "00_23"]
    )
    scene = json.loads(sorted((folder / "hdPose3d_stage1_coco19").glob("*.json"))[0].read_text())
    joints = np.concatenate([np.asarray(b["joints19"]).reshape(-1, 4) for b in scene["bodies"]])
    points = joints[joints[:, 3] > 0, :3] / 100.0  # centimetres -> metres, seen joints only
    uv = torch.as_tensor(np.stack([c.project(points) for c in cams], axis=1))  # N×V×2
    s = stack_cameras(cams, dtype=torch.float64)
    ours = triangulate_undistorted(uv, s["K"], s["R"], s["t"], s["dist"])
    assert (ours - torch.as_tensor(points)).norm(dim=-1).max() < 1e-6
