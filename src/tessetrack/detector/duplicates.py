"""One person found twice in one image: pose-level non-maximum suppression of 2D people.

A top-down detector such as BlazePose finds a person, then places their joints in a crop around
them; two overlapping person boxes give the same person twice, with joints a few pixels apart (on
the real 4-camera recording of the test data, 26 of the 630 people found). Downstream, the copy is
a second person: tracks pair with it, and views disagree.
"""

from __future__ import annotations

import warnings

import numpy as np

from tessetrack.ops.suppress import greedy_keep

__all__ = ["person_sizes", "distinct_people"]


def person_sizes(people: np.ndarray, min_confidence: float) -> np.ndarray:
    """(P, J, 3) 2D people → (P,) the longer side of the box around their confident joints, in
    pixels (1 where fewer than two joints are confident)."""
    uv = people[..., :2]
    ok = (people[..., 2] >= min_confidence) & np.isfinite(uv).all(-1)  # P×J
    lo = np.where(ok[..., None], uv, np.inf).min(-2)  # P×2
    hi = np.where(ok[..., None], uv, -np.inf).max(-2)
    side = np.where(ok.sum(-1)[:, None] >= 2, hi - lo, 1.0).max(-1)
    return np.maximum(side, 1.0)


def distinct_people(
    people: np.ndarray, *, gate: float = 0.1, min_confidence: float = 0.3, min_joints: int = 5
) -> np.ndarray:
    """Which 2D people of one image to keep when some are one person found twice.

    Walking the people from the most confident (mean joint confidence) down, a person is dropped
    when the median distance between their joints and those of a person already kept, over the
    joints both show with ``min_confidence`` (``min_joints`` at least), is under ``gate`` times
    the larger of the two people's sizes (:func:`person_sizes`).

    Args:
        people: (P, J, 3) of (u, v, confidence) in pixels.
        gate: share of a person's size; 0 keeps everyone.
        min_confidence: joints below it (or not finite) are not compared.
        min_joints: joints two people must both show to be compared.

    Returns:
        (P,) bool, True for the people kept.
    """
    people = np.asarray(people, dtype=np.float64)
    n = people.shape[0]
    keep = np.ones(n, dtype=bool)
    if n < 2 or gate <= 0 or people.shape[1] == 0:
        return keep
    ok = (people[..., 2] >= min_confidence) & np.isfinite(people[..., :2]).all(-1)  # P×J
    both = ok[:, None] & ok[None]  # P×P×J
    dist = np.linalg.norm(people[:, None, :, :2] - people[None, :, :, :2], axis=-1)  # P×P×J
    with warnings.catch_warnings():  # pairs with no joint in common: NaN, never "same" below
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(np.where(both, dist, np.nan), axis=-1)  # P×P
    size = person_sizes(people, min_confidence)
    same = (both.sum(-1) >= min_joints) & (median < gate * np.maximum(size[:, None], size[None]))
    return greedy_keep(same, np.argsort(-people[..., 2].mean(-1), kind="stable").tolist())
