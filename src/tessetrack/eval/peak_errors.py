"""A 2D network's heatmap peaks scored in the detection simulator's terms.

Per image: how often the peaks miss a joint, how far off the found ones are (as a share of the
person's height, the simulator's ``jitter``), how often a joint's peak sits on its left/right twin,
and how many stray peaks there are — the quantities
:class:`tessetrack.synth.detections_sim.DetectionNoise` draws. A peak is matched one-to-one to the
GT joints of its channel within a radius (scipy's Hungarian on distance); an unmatched GT joint is a
miss; an unmatched peak within the radius of the twin joint of a GT person is a left/right
confusion, any other unmatched peak is stray.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from tessetrack.skeletons import PANOPTIC19

__all__ = ["flip_twins", "image_errors"]


def flip_twins() -> np.ndarray:
    """(19,) index of each Panoptic-19 joint's left/right twin (itself when it has none)."""
    twin = np.arange(PANOPTIC19.num_joints)
    for a, b in PANOPTIC19.flip_pairs:
        twin[a], twin[b] = b, a
    return twin


def image_errors(
    peaks: np.ndarray, gt: np.ndarray, mask: np.ndarray, radius: float, twin: np.ndarray
) -> dict[str, list[float] | int]:
    """Errors of one image.

    Args:
        peaks: (K, J, 3) heatmap peaks (u, v, confidence) in heatmap pixels; confidence 0 = none.
        gt: (P, J, 2) GT joints in heatmap pixels; mask (P, J) usable.
        radius: match radius in heatmap pixels.
        twin: (J,) left/right twin of each joint.

    Returns:
        ``found`` (count), ``missed`` (count), ``errors`` (per found joint: error / person height,
        per axis, as a flat list), ``swapped`` and ``stray`` (unmatched peak counts).
    """
    num_j = gt.shape[1]
    height = np.array(
        [np.ptp(g[m, 1]) if m.sum() > 1 else np.nan for g, m in zip(gt, mask, strict=True)]
    )
    out: dict[str, list[float] | int] = {
        "found": 0,
        "missed": 0,
        "errors": [],
        "swapped": 0,
        "stray": 0,
    }
    for j in range(num_j):
        pk = peaks[peaks[:, j, 2] > 0, j, :2]  # k×2
        people = np.nonzero(mask[:, j])[0]
        g = gt[people, j]  # p×2
        matched_peaks: set[int] = set()
        if len(pk) and len(g):
            d = np.linalg.norm(g[:, None] - pk[None], axis=-1)  # p×k
            rows, cols = linear_sum_assignment(np.where(d <= radius, d, 1e6))
            for r, c in zip(rows, cols, strict=True):
                if d[r, c] <= radius:
                    matched_peaks.add(int(c))
                    out["found"] += 1  # type: ignore[operator]
                    h = (
                        max(float(height[people[r]]), 10.0)
                        if np.isfinite(height[people[r]])
                        else 10.0
                    )
                    out["errors"].extend(((pk[c] - g[r]) / h).tolist())  # type: ignore[union-attr]
        out["missed"] += len(g) - (len(matched_peaks))  # type: ignore[operator]
        twins = gt[mask[:, twin[j]], twin[j]] if twin[j] != j else np.zeros((0, 2))
        for c in range(len(pk)):
            if c in matched_peaks:
                continue
            if len(twins) and np.linalg.norm(twins - pk[c], axis=-1).min() <= radius:
                out["swapped"] += 1  # type: ignore[operator]
            else:
                out["stray"] += 1  # type: ignore[operator]
    return out
