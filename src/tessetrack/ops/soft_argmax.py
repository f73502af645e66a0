"""3D soft-argmax: joint positions as heatmap-weighted averages of voxel centres (paper §3.4).

"The predicted joint position ``k_Pred^q`` is obtained by a soft-argmax operator, i.e. by a heatmap
scores-weighted average of the voxel centers": ``k^q = Σ_v softmax(β · T^q)_v · c_v``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tessetrack.errors import InputError

__all__ = ["soft_argmax3d"]


def soft_argmax3d(heatmaps: Tensor, centers: Tensor, beta: float = 1.0) -> tuple[Tensor, Tensor]:
    """Softmax over the voxels of each joint's heatmap, then the expected voxel centre.

    Args:
        heatmaps: (B, J, X, Y, Z) logits.
        centers: (B, X, Y, Z, 3) voxel centres in metres (per-batch grids, e.g. tesseracts); a
            shared (X, Y, Z, 3) grid is broadcast over the batch.
        beta: inverse temperature multiplying the logits (larger = closer to a hard argmax).

    Returns:
        joints: (B, J, 3) expected positions, metres.
        probs: (B, J, X, Y, Z) the softmax weights (each joint's volume sums to 1).
    """
    if heatmaps.ndim != 5:
        raise InputError(f"heatmaps must have shape (B, J, X, Y, Z), got {tuple(heatmaps.shape)}")
    b, j = heatmaps.shape[:2]
    vox = heatmaps.shape[2:]
    if centers.ndim == 4:
        centers = centers.unsqueeze(0).expand(b, *centers.shape)
    if centers.ndim != 5 or centers.shape[1:4] != vox or centers.shape[-1] != 3:
        raise InputError(
            f"centers must have shape (B, X, Y, Z, 3) matching heatmaps {tuple(heatmaps.shape)}, "
            f"got {tuple(centers.shape)}"
        )
    probs = torch.softmax(beta * heatmaps.flatten(2), dim=-1)  # B×J×(X·Y·Z)
    # k^q = Σ_v p_v c_v: B×J×N @ B×N×3 -> B×J×3
    joints = probs @ centers.reshape(b, probs.shape[-1], 3).to(probs.dtype)
    return joints, probs.reshape(b, j, *vox)
