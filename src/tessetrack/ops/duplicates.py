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

__all__ = ["DUPLICATE_GATE", "person_sizes", "same_people", "people_apart", "distinct_people"]

#: Two 2D people whose joints lie closer than this share of their size are one person found twice
#: (the built-in detector's and the detection readers' default).
DUPLICATE_GATE = 0.1


def person_sizes(people: np.ndarray, min_confidence: float) -> np.ndarray:
    """(P, J, 3) 2D people → (P,) the longer side of the box around their confident joints, in
    pixels (1 where fewer than two joints are confident)."""
    uv = people[..., :2]
    ok = (people[..., 2] >= min_confidence) & np.isfinite(uv).all(-1)  # P×J
    lo = np.where(ok[..., None], uv, np.inf).min(-2)  # P×2
    hi = np.where(ok[..., None], uv, -np.inf).max(-2)
    side = np.where(ok.sum(-1)[:, None] >= 2, hi - lo, 1.0).max(-1)
    return np.maximum(side, 1.0)


def same_people(
    a: np.ndarray,
    b: np.ndarray,
    *,
    gate: float = DUPLICATE_GATE,
    min_confidence: float = 0.3,
    min_joints: int = 5,
) -> np.ndarray:
    """(Pa, Pb) bool: which people of ``a`` and ``b`` (one image's) are one person.

    Two people are one when the median distance between their joints, over the joints both show
    with ``min_confidence`` (``min_joints`` at least), is under ``gate`` times the larger of the
    two people's sizes (:func:`person_sizes`).

    Args:
        a, b: (Pa, J, 3) and (Pb, J, 3) of (u, v, confidence) in pixels.
        gate: share of a person's size; 0: nobody is the same.
        min_confidence: joints below it (or not finite) are not compared.
        min_joints: joints two people must both show to be compared.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0 or gate <= 0 or a.shape[1] == 0:
        return np.zeros((len(a), len(b)), dtype=bool)
    apart, shown, _, _ = people_apart(a, b, min_confidence=min_confidence)
    return (shown >= min_joints) & (apart < gate)


def people_apart(
    a: np.ndarray, b: np.ndarray, *, min_confidence: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """How far apart each person of ``a`` is from each of ``b`` (one image's people).

    Args:
        a, b: (Pa, J, 3) and (Pb, J, 3) of (u, v, confidence) in pixels.
        min_confidence: joints below it (or not finite) are not compared.

    Returns:
        apart (Pa, Pb): the median distance between their joints, over the joints both show
        with ``min_confidence``, over the larger of the two people's sizes
        (:func:`person_sizes`; inf where they show no joint in common); shown (Pa, Pb): how
        many joints both show; dist (Pa, Pb, J): every joint's distance in pixels (NaN
        positions read as 0); size (Pa, Pb): the larger size of each pair, pixels.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok_a = (a[..., 2] >= min_confidence) & np.isfinite(a[..., :2]).all(-1)  # Pa×J
    ok_b = (b[..., 2] >= min_confidence) & np.isfinite(b[..., :2]).all(-1)  # Pb×J
    both = ok_a[:, None] & ok_b[None]  # Pa×Pb×J
    diff = np.nan_to_num(a[:, None, :, :2]) - np.nan_to_num(b[None, :, :, :2])
    dist = np.linalg.norm(diff, axis=-1)  # Pa×Pb×J
    with warnings.catch_warnings():  # pairs with no joint in common: NaN, made inf below
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(np.where(both, dist, np.nan), axis=-1)  # Pa×Pb
    size = np.maximum(
        person_sizes(a, min_confidence)[:, None], person_sizes(b, min_confidence)[None]
    )
    apart = np.where(np.isfinite(median), median / size, np.inf)
    return apart, both.sum(-1), dist, size


def distinct_people(
    people: np.ndarray,
    *,
    gate: float = DUPLICATE_GATE,
    min_confidence: float = 0.3,
    min_joints: int = 5,
) -> np.ndarray:
    """Which 2D people of one image to keep when some are one person found twice.

    Walking the people from the most confident (mean joint confidence) down, a person is dropped
    when they and a person already kept are one (:func:`same_people`).

    Args:
        people: (P, J, 3) of (u, v, confidence) in pixels.
        gate: share of a person's size; 0 keeps everyone.
        min_confidence: joints below it (or not finite) are not compared.
        min_joints: joints two people must both show to be compared.

    Returns:
        (P,) bool, True for the people kept.
    """
    people = np.asarray(people, dtype=np.float64)
    if people.shape[0] < 2 or gate <= 0 or people.shape[1] == 0:
        return np.ones(people.shape[0], dtype=bool)
    same = same_people(people, people, gate=gate, min_confidence=min_confidence,
                       min_joints=min_joints)  # fmt: skip
    return greedy_keep(same, np.argsort(-people[..., 2].mean(-1), kind="stable").tolist())
