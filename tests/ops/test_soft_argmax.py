"""3D soft-argmax: peaked and symmetric heatmaps, shared grids, gradients."""

from __future__ import annotations

import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.geometry.voxel_grid import VoxelGrid, grid_centers
from tessetrack.ops.soft_argmax import soft_argmax3d

D = torch.float64


def test_peaked_heatmap_returns_its_voxel_centre() -> None:
    centers = grid_centers(
        torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype=D), (2.5, 2.5, 2.5), (5, 6, 7)
    )  # B×X×Y×Z×3
    logits = torch.zeros(2, 3, 5, 6, 7, dtype=D)
    peaks = [[(0, 0, 0), (4, 5, 6), (2, 3, 1)], [(1, 1, 1), (3, 0, 6), (4, 5, 0)]]
    for b, per_joint in enumerate(peaks):
        for j, (x, y, z) in enumerate(per_joint):
            logits[b, j, x, y, z] = 100.0  # e^-100 elsewhere: a one-hot softmax
    joints, probs = soft_argmax3d(logits, centers)
    assert joints.shape == (2, 3, 3) and probs.shape == (2, 3, 5, 6, 7)
    for b, per_joint in enumerate(peaks):
        for j, (x, y, z) in enumerate(per_joint):
            torch.testing.assert_close(joints[b, j], centers[b, x, y, z], atol=1e-9, rtol=0)
    torch.testing.assert_close(probs.sum((2, 3, 4)), torch.ones(2, 3, dtype=D))


def test_symmetric_blob_returns_its_centre_and_beta_sharpens() -> None:
    grid = VoxelGrid((0.5, -0.5, 1.0), (2.0, 2.0, 2.0), (9, 9, 9))
    xyz = grid.centers(dtype=D)  # X×Y×Z×3
    mid = xyz[4, 4, 4]  # the central voxel of an odd grid is the grid centre (0.5, -0.5, 1.0)
    torch.testing.assert_close(mid, torch.tensor([0.5, -0.5, 1.0], dtype=D))
    logits = -((xyz - mid) ** 2).sum(-1) / (2 * 0.3**2)  # Gaussian log-blob, symmetric about mid
    joints, probs = soft_argmax3d(logits[None, None], xyz[None])
    torch.testing.assert_close(joints[0, 0], mid, atol=1e-12, rtol=0)
    _, sharp = soft_argmax3d(logits[None, None], xyz, beta=4.0)  # shared (X, Y, Z, 3) grid
    assert sharp[0, 0, 4, 4, 4] > probs[0, 0, 4, 4, 4]


def test_uniform_heatmap_gives_grid_centre() -> None:
    grid = VoxelGrid((1.0, 2.0, 3.0), (1.0, 2.0, 4.0), (4, 3, 2))
    joints, probs = soft_argmax3d(torch.zeros(1, 2, 4, 3, 2), grid.centers())
    # uniform weights 1/24 -> the mean of all centres = the grid centre
    torch.testing.assert_close(joints, torch.tensor([1.0, 2.0, 3.0]).expand(1, 2, 3))
    torch.testing.assert_close(probs, torch.full((1, 2, 4, 3, 2), 1 / 24))


def test_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 2, 3, 2, 3, generator=g, dtype=D, requires_grad=True)
    centers = torch.randn(2, 3, 2, 3, 3, generator=g, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h, c: soft_argmax3d(h, c, beta=2.0), (logits, centers))


def test_shape_mismatch_raises() -> None:
    with pytest.raises(InputError):
        soft_argmax3d(torch.zeros(1, 2, 3, 3, 3), torch.zeros(1, 3, 3, 4, 3))
    with pytest.raises(InputError):
        soft_argmax3d(torch.zeros(2, 3, 3, 3), torch.zeros(3, 3, 3, 3))
