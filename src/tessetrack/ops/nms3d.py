"""3D non-maximum suppression of person-centre heatmaps (paper §3.1).

"We apply non-maximum suppression (NMS) on the 3D heatmaps and only retain the detections with
large score." A voxel is a peak when it equals the maximum of its ``k×k×k`` neighbourhood
(max-pool NMS, as CenterNet in 2D); the ``max_people`` highest peaks are kept and those below the
threshold flagged invalid. NMS is the one non-differentiable step of the network.

Sub-voxel refinement: along each axis a parabola is fitted through the log scores of the peak
and its two neighbours; its vertex is the refined position. For a Gaussian blob — the shape of
the target heatmaps — the log is exactly a parabola, so the refinement is exact up to sampling.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from tessetrack.errors import InputError

__all__ = ["Peaks", "nms3d", "refine_peaks"]


class Peaks(NamedTuple):
    """Top-K heatmap peaks, sorted by decreasing score.

    Attributes:
        scores: (B, K) heatmap values at the peaks; 0 where invalid.
        indices: (B, K, 3) long voxel indices (i, j, k) into (X, Y, Z); -1 where invalid.
        refined: (B, K, 3) float voxel coordinates with sub-voxel offsets in [-0.5, 0.5];
            -1 where invalid. Convert to metres with ``voxel_grid.index_to_world``.
        valid: (B, K) bool, score >= threshold.
    """

    scores: Tensor
    indices: Tensor
    refined: Tensor
    valid: Tensor


def refine_peaks(heatmap: Tensor, indices: Tensor, eps: float = 1e-12) -> Tensor:
    """Sub-voxel peak positions by a per-axis parabola through the log scores.

    With ``l₋, l₀, l₊`` the log values at ``i-1, i, i+1``, the vertex is at
    ``i + (l₋ - l₊) / (2 (l₋ - 2 l₀ + l₊))``; the offset is 0 where the curvature is not negative
    or a neighbour lies outside the grid, and is clamped to [-0.5, 0.5].

    Args:
        heatmap: (B, X, Y, Z) non-negative scores (values are clamped to ``eps`` before the log).
        indices: (B, K, 3) long voxel indices inside the grid.

    Returns:
        (B, K, 3) float voxel coordinates.
    """
    b, nx, ny, nz = heatmap.shape
    log_h = heatmap.clamp_min(eps).log()
    padded = F.pad(log_h[:, None], (1, 1, 1, 1, 1, 1), mode="replicate")[
        :, 0
    ]  # B×(X+2)×(Y+2)×(Z+2)
    flat = padded.reshape(b, -1)  # B×((X+2)(Y+2)(Z+2))
    strides = torch.tensor([(ny + 2) * (nz + 2), nz + 2, 1], device=heatmap.device)
    base = ((indices + 1) * strides).sum(-1)  # B×K flat index of each peak in the padded volume
    l0 = flat.gather(1, base)  # B×K
    sizes = torch.tensor([nx, ny, nz], device=heatmap.device)
    offsets = []
    for axis in range(3):
        lm = flat.gather(1, base - strides[axis])  # B×K, value at index - 1 along the axis
        lp = flat.gather(1, base + strides[axis])  # B×K, value at index + 1
        curv = lm - 2 * l0 + lp
        inside = (indices[..., axis] > 0) & (indices[..., axis] < sizes[axis] - 1)
        ok = inside & (curv < 0)
        off = (lm - lp) / (2 * torch.where(ok, curv, torch.full_like(curv, -1.0)))
        offsets.append(torch.where(ok, off.clamp(-0.5, 0.5), torch.zeros_like(off)))
    return indices.to(heatmap.dtype) + torch.stack(offsets, dim=-1)  # B×K×3


def nms3d(
    heatmap: Tensor,
    kernel_size: int = 3,
    max_people: int = 10,
    threshold: float = 0.3,
) -> Peaks:
    """Local maxima of a 3D heatmap by max pooling, top ``max_people`` by score.

    Args:
        heatmap: (B, X, Y, Z) scores (e.g. sigmoid outputs in [0, 1]).
        kernel_size: odd neighbourhood edge in voxels; peaks closer than ``kernel_size // 2``
            voxels to a higher one are suppressed.
        max_people: K, the number of peaks returned per batch element.
        threshold: peaks scoring below it are invalid.

    A flat plateau (several neighbouring voxels with exactly the same maximal value) yields one
    peak per plateau voxel; learned heatmaps practically never tie exactly.

    Returns:
        :class:`Peaks` with K = ``max_people`` (padded with invalid entries when the grid has
        fewer voxels).
    """
    if heatmap.ndim != 4:
        raise InputError(f"heatmap must have shape (B, X, Y, Z), got {tuple(heatmap.shape)}")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise InputError(f"NMS kernel_size must be a positive odd number, got {kernel_size}")
    if max_people < 0:
        raise InputError(f"max_people must be >= 0, got {max_people}")
    heatmap = heatmap.detach()
    b, nx, ny, nz = heatmap.shape
    pooled = F.max_pool3d(heatmap[:, None], kernel_size, stride=1, padding=kernel_size // 2)[:, 0]
    is_peak = heatmap == pooled  # B×X×Y×Z
    peak_scores = torch.where(is_peak, heatmap, torch.full_like(heatmap, -torch.inf))
    k = min(max_people, nx * ny * nz)
    scores, flat_idx = peak_scores.reshape(b, -1).topk(k, dim=1)  # B×K
    # flat index -> (i, j, k) in X×Y×Z
    indices = torch.stack(
        [flat_idx // (ny * nz), (flat_idx // nz) % ny, flat_idx % nz], dim=-1
    )  # B×K×3
    refined = refine_peaks(heatmap, indices)
    valid = torch.isfinite(scores) & (scores >= threshold)
    if k < max_people:  # pad to the promised K with invalid entries
        pad = max_people - k
        scores = F.pad(scores, (0, pad))
        indices = F.pad(indices, (0, 0, 0, pad))
        refined = F.pad(refined, (0, 0, 0, pad))
        valid = F.pad(valid, (0, pad))
    scores = torch.where(valid, scores, torch.zeros_like(scores))
    indices = torch.where(valid[..., None], indices, torch.full_like(indices, -1))
    refined = torch.where(valid[..., None], refined, torch.full_like(refined, -1.0))
    return Peaks(scores, indices, refined, valid)
