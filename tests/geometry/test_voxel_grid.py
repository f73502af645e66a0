"""Voxel grid convention: centres, grid_sample mapping, fractional indices."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tessetrack.errors import InputError
from tessetrack.geometry.voxel_grid import (
    VoxelGrid,
    grid_centers,
    index_to_world,
    world_to_grid_sample,
    world_to_index,
)


def test_voxel_centres_hand_computed() -> None:
    grid = VoxelGrid(center=(1.0, 0.0, -2.0), size=(4.0, 2.0, 1.0), shape=(4, 2, 5))
    assert grid.voxel_size == pytest.approx((1.0, 1.0, 0.2))
    c = grid.centers(dtype=torch.float64)
    assert c.shape == (4, 2, 5, 3)
    # x: 1 - 4/2 + (0 + 0.5)·1 = -0.5 ; y: 0 - 1 + 0.5 = -0.5 ; z: -2 - 0.5 + 0.5·0.2 = -2.4
    assert c[0, 0, 0].tolist() == pytest.approx([-0.5, -0.5, -2.4])
    # last voxel: x: -1 + 3.5 = 2.5 ; y: -1 + 1.5 = 0.5 ; z: -2.5 + 4.5·0.2 = -1.6
    assert c[3, 1, 4].tolist() == pytest.approx([2.5, 0.5, -1.6])
    # the mean of all centres is the grid centre
    assert c.reshape(-1, 3).mean(0).tolist() == pytest.approx([1.0, 0.0, -2.0])


def test_grid_centers_batched_matches_dataclass() -> None:
    centers = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], dtype=torch.float64)
    size = torch.tensor([2.5, 2.5, 2.5], dtype=torch.float64)
    out = grid_centers(centers, size, (3, 4, 5))
    assert out.shape == (2, 3, 4, 5, 3)
    for b in range(2):
        ref = VoxelGrid(tuple(centers[b].tolist()), (2.5, 2.5, 2.5), (3, 4, 5)).centers(
            dtype=torch.float64
        )
        torch.testing.assert_close(out[b], ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_grid_sample_at_voxel_centres_returns_voxel_values(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.3, -1.0, 2.0], [5.0, 0.0, 0.0]], dtype=dtype)
    size = torch.tensor([2.0, 3.0, 1.5], dtype=dtype)
    shape = (4, 5, 6)  # all different, so any axis mix-up fails
    vol = torch.randn(2, 3, *shape, generator=gen, dtype=dtype)  # B×C×X×Y×Z
    pts = grid_centers(centers, size, shape)  # B×X×Y×Z×3
    g = world_to_grid_sample(pts, centers, size)  # B×X×Y×Z×3 as (z, y, x)
    out = F.grid_sample(vol, g, mode="bilinear", align_corners=False)  # B×C×X×Y×Z
    torch.testing.assert_close(out, vol, atol=1e-5, rtol=1e-5)


def test_grid_sample_between_voxels_interpolates_along_x() -> None:
    vol = torch.zeros(1, 1, 2, 1, 1, dtype=torch.float64)
    vol[0, 0, 1] = 1.0  # value 0 at voxel x=0, 1 at voxel x=1
    grid = VoxelGrid((0.0, 0.0, 0.0), (2.0, 1.0, 1.0), (2, 1, 1))
    # voxel centres are x = -0.5 and +0.5; x = 0.25 is 3/4 of the way -> 0.75
    pt = torch.tensor([[[[[0.25, 0.0, 0.0]]]]], dtype=torch.float64)
    out = F.grid_sample(vol, grid.world_to_grid_sample(pt), align_corners=False)
    assert out.item() == pytest.approx(0.75)


def test_world_to_grid_sample_faces_are_plus_minus_one() -> None:
    center = torch.tensor([1.0, 2.0, 3.0])
    size = torch.tensor([2.0, 4.0, 6.0])
    lo_hi = torch.tensor([[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]])  # the cuboid's two corners
    g = world_to_grid_sample(lo_hi, center, size)
    torch.testing.assert_close(g, torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]))
    # order is (z, y, x): a point moved only in x changes only the last coordinate
    g2 = world_to_grid_sample(torch.tensor([1.5, 2.0, 3.0]), center, size)
    # x: 2 · (1.5 - 1) / 2 = 0.5
    torch.testing.assert_close(g2, torch.tensor([0.0, 0.0, 0.5]))


def test_index_to_world_round_trip_and_fractions() -> None:
    grid = VoxelGrid((0.0, 0.0, 1.0), (8.0, 8.0, 2.0), (16, 16, 4))
    idx = torch.tensor([[0.0, 0.0, 0.0], [2.25, 7.5, 3.0]], dtype=torch.float64)
    w = index_to_world(idx, grid)
    # (0,0,0): -4 + 0.5·0.5 = -3.75 ; z: 0 + 0.5·0.5 = 0.25
    # (2.25, 7.5, 3): -4 + 2.75·0.5 = -2.625 ; -4 + 8·0.5 = 0.0 ; 0 + 3.5·0.5 = 1.75
    torch.testing.assert_close(
        w, torch.tensor([[-3.75, -3.75, 0.25], [-2.625, 0.0, 1.75]], dtype=torch.float64)
    )
    torch.testing.assert_close(world_to_index(w, grid), idx)
    centres = grid.centers(dtype=torch.float64)
    torch.testing.assert_close(
        index_to_world(torch.tensor([3.0, 5.0, 1.0]), grid), centres[3, 5, 1].float()
    )


def test_invalid_grids_raise_input_error() -> None:
    with pytest.raises(InputError):
        VoxelGrid((0.0, 0.0, 0.0), (1.0, 0.0, 1.0), (2, 2, 2))
    with pytest.raises(InputError):
        VoxelGrid((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (2, 0, 2))
    with pytest.raises(InputError):
        VoxelGrid((0.0, 0.0), (1.0, 1.0, 1.0), (2, 2, 2))  # type: ignore[arg-type]
    with pytest.raises(InputError):
        grid_centers(torch.zeros(3), (1.0, 1.0, 1.0), (2, 2, 2))
