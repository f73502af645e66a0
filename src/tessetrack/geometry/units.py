"""Length units: tessetrack works in metres; readers convert centimetres (Panoptic) and millimetres
(Shelf/Campus, Human3.6M) on the way in, and writers can convert back on the way out.

:func:`guess_unit` catches the most common silent error, millimetres or centimetres passed where
metres are expected, from the size of human skeletons: a typical human limb (upper arm, thigh,
shin, ...) is about 0.3 m long, so a median limb of 300 means millimetres.
"""

from __future__ import annotations

import math
from typing import Literal, TypeVar, get_args

import numpy as np
import torch

from tessetrack.errors import InputError

__all__ = ["LengthUnit", "UNIT_SCALE", "to_metres", "from_metres", "guess_unit"]

LengthUnit = Literal["m", "cm", "mm"]
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

#: metres per unit
UNIT_SCALE: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001}

#: typical human scale in metres of the statistic :func:`guess_unit` measures
_TYPICAL_LIMB_M = 0.3


def _scale(unit: str) -> float:
    if unit not in UNIT_SCALE:
        raise InputError(f"unknown length unit {unit!r}; expected one of {get_args(LengthUnit)}")
    return UNIT_SCALE[unit]


def to_metres(array: ArrayT, unit: LengthUnit) -> ArrayT:
    """Convert lengths given in ``unit`` to metres (same type and shape; ints become floats)."""
    scale = _scale(unit)
    if isinstance(array, torch.Tensor):
        return (array if array.is_floating_point() else array.double()) * scale
    return np.asarray(array, dtype=np.result_type(np.asarray(array).dtype, np.float32)) * scale


def from_metres(array: ArrayT, unit: LengthUnit) -> ArrayT:
    """Convert lengths in metres to ``unit`` (same type and shape)."""
    scale = _scale(unit)
    if isinstance(array, torch.Tensor):
        return (array if array.is_floating_point() else array.double()) / scale
    return np.asarray(array, dtype=np.result_type(np.asarray(array).dtype, np.float32)) / scale


def guess_unit(
    points: np.ndarray | torch.Tensor,
    limbs: tuple[tuple[int, int], ...] | None = None,
) -> LengthUnit:
    """Guess the length unit of human skeletons from their size.

    The statistic is the median limb length over all skeletons and limbs when ``limbs`` (joint
    index pairs, e.g. ``JointSet.limb_indices``) is given; otherwise, half the median over
    skeletons of the median distance of the joints from their skeleton's centroid (which is also
    ≈ 0.3 m for a standing adult). The unit whose typical value (0.3 m, 30 cm, 300 mm) is closest
    on a log scale wins: boundaries at 3 (m | cm) and ≈ 95 (cm | mm), in the data's own numbers.

    Args:
        points: (..., J, 3) joint positions of one or more skeletons; NaN joints are ignored.
        limbs: optional joint index pairs into the J axis.

    Returns:
        ``"m"``, ``"cm"`` or ``"mm"``.

    Raises:
        InputError: when there are no finite joints (or limbs) to measure.
    """
    pts = points.detach().cpu().double().numpy() if isinstance(points, torch.Tensor) else points
    pts = np.asarray(pts, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-1] != 3:
        raise InputError(f"guess_unit: expected points of shape (..., J, 3), got {pts.shape}")
    pts = pts.reshape(-1, *pts.shape[-2:])  # S×J×3 (S skeletons)
    if limbs:
        a, b = np.asarray(limbs, dtype=np.int64).T
        lengths = np.linalg.norm(pts[:, a] - pts[:, b], axis=-1)  # S×L
        stat = np.nanmedian(lengths) if np.isfinite(lengths).any() else math.nan
    else:
        with np.errstate(invalid="ignore"):
            finite = np.isfinite(pts).all(-1)  # S×J
            pts = np.where(finite[..., None], pts, np.nan)
            counts = finite.sum(-1)
            keep = counts >= 2
            if keep.any():
                centroid = np.nanmean(pts[keep], axis=1, keepdims=True)  # S'×1×3
                spread = np.nanmedian(np.linalg.norm(pts[keep] - centroid, axis=-1), axis=1)
                stat = 0.5 * float(np.median(spread))
            else:
                stat = math.nan
    if not math.isfinite(stat) or stat <= 0:
        raise InputError("guess_unit: no finite, distinct joints to measure the skeleton size")
    return min(
        get_args(LengthUnit),
        key=lambda u: abs(math.log(stat * UNIT_SCALE[u] / _TYPICAL_LIMB_M)),
    )
