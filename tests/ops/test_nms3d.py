"""3D NMS on planted Gaussian blobs: finds exactly them, sub-voxel refinement, invalid padding."""

from __future__ import annotations

import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.ops.nms3d import nms3d

D = torch.float64


def _blobs(
    shape: tuple[int, int, int],
    centres: list[tuple[float, float, float]],
    sigma: float,
    peaks: list[float],
) -> torch.Tensor:
    """Max of isotropic Gaussians exp(-|v - c|² / 2σ²)·peak, in voxel coordinates."""
    grids = torch.meshgrid(*(torch.arange(n, dtype=D) for n in shape), indexing="ij")
    v = torch.stack(grids, dim=-1)  # X×Y×Z×3
    out = torch.zeros(shape, dtype=D)
    for c, a in zip(centres, peaks, strict=True):
        d2 = ((v - torch.tensor(c, dtype=D)) ** 2).sum(-1)
        out = torch.maximum(out, a * torch.exp(-d2 / (2 * sigma**2)))
    return out


def test_finds_exactly_the_planted_blobs_with_subvoxel_accuracy() -> None:
    shape = (20, 18, 16)
    centres = [(4.3, 5.8, 7.1), (14.6, 12.2, 3.4), (9.35, 14.45, 11.9)]  # sub-voxel positions
    heights = [0.9, 0.8, 0.6]
    h = torch.stack([_blobs(shape, centres, 1.5, heights), _blobs(shape, centres[:1], 1.5, [0.7])])
    peaks = nms3d(h, kernel_size=3, max_people=5, threshold=0.3)
    assert peaks.scores.shape == (2, 5) and peaks.indices.shape == (2, 5, 3)
    assert peaks.valid.tolist() == [
        [True, True, True, False, False],
        [True, False, False, False, False],
    ]
    # sorted by score: the planted heights in order (a voxel is within 0.5 of each centre, so
    # its score is at least 0.6·exp(-0.75 / (2·1.5²)) = 0.51 > 0.3)
    for b, cs in enumerate([centres, centres[:1]]):
        for k, c in enumerate(cs):
            assert peaks.indices[b, k].tolist() == [round(x) for x in c]
            err = (peaks.refined[b, k] - torch.tensor(c, dtype=D)).abs().max().item()
            assert err < 0.05, (b, k, err)  # log-parabola fit is exact for Gaussians
    # invalid entries: score 0, index -1
    assert (peaks.scores[~peaks.valid] == 0).all()
    assert (peaks.indices[~peaks.valid] == -1).all()


def test_float32_refinement_and_border_peak() -> None:
    shape = (10, 10, 10)
    # a blob centred on the border voxel 0 along x: no neighbour outside, so no x offset
    h = _blobs(shape, [(0.0, 4.3, 5.7)], 1.2, [1.0]).float()[None]
    peaks = nms3d(h, max_people=2, threshold=0.5)
    assert peaks.valid.tolist() == [[True, False]]
    assert peaks.indices[0, 0].tolist() == [0, 4, 6]
    assert peaks.refined[0, 0].tolist() == pytest.approx([0.0, 4.3, 5.7], abs=1e-3)
    assert peaks.refined.dtype == torch.float32


def test_nearby_lower_peak_is_suppressed_by_kernel() -> None:
    h = torch.zeros(1, 8, 8, 8)
    h[0, 3, 3, 3] = 0.9
    h[0, 4, 4, 3] = 0.8  # inside the 3×3×3 neighbourhood of the higher one
    h[0, 6, 6, 6] = 0.5  # 3 voxels away: its own peak
    peaks = nms3d(h, kernel_size=3, max_people=4, threshold=0.1)
    assert peaks.valid.tolist() == [[True, True, False, False]]
    assert peaks.indices[0, :2].tolist() == [[3, 3, 3], [6, 6, 6]]
    assert peaks.scores[0, :2].tolist() == pytest.approx([0.9, 0.5])
    # a 1-voxel kernel keeps every non-zero voxel as a peak: 0.9, 0.8, 0.5
    assert nms3d(h, kernel_size=1, max_people=4, threshold=0.1).valid.sum().item() == 3


def test_empty_heatmap_and_more_people_than_voxels() -> None:
    peaks = nms3d(torch.zeros(2, 2, 1, 2), max_people=6, threshold=0.3)
    assert peaks.scores.shape == (2, 6) and peaks.refined.shape == (2, 6, 3)
    assert not peaks.valid.any() and (peaks.indices == -1).all() and (peaks.scores == 0).all()


def test_bad_arguments() -> None:
    with pytest.raises(InputError):
        nms3d(torch.zeros(4, 4, 4))
    with pytest.raises(InputError):
        nms3d(torch.zeros(1, 4, 4, 4), kernel_size=2)
