"""Metric, z-up world frame from the people's 3D joints (BODY25).

* **Scale.** A person's ankle-to-eye chain, summed bone by bone (shank + thigh, the mean of both
  sides; mid-hip to neck; neck to the middle of the eyes) does not depend on the posture. By
  common anthropometric proportions of the stature H (shank 0.246 H, thigh 0.245 H, hip joint to
  shoulder line 0.288 H, shoulder line to eyes 0.118 H) it is 0.897 H. Each person's chain is the
  median over the frames where it is complete (:func:`people_chains`), and the scale is
  ``person_height · 0.897 / mean of the people's chains``: every person counts once, however long
  they are seen, so the scale does not drift with the frames used when people differ in height.
  Given one height per person instead, they are matched to the people tallest to tallest and the
  scale is the least-squares fit ``Σ hᵢ cᵢ' / Σ cᵢ'²`` (``cᵢ' = chainᵢ / 0.897``); with people
  of different heights this differs slightly from one mean height (``1.7,1.7`` is not ``1.7``).
* **People.** The skeletons of the reference camera's 2D tracks; one person may have several
  tracks (lost and found again, or detected twice). Tracks are merged, longest first, when their
  chains agree within ``merge_tolerance`` and, in every frame both are seen, their skeletons
  coincide (median joint distance under a quarter of the chain). People seen in fewer than
  ``min_share`` × the frames of the most-seen person (passers-by, mismatched fragments) are not
  counted.
* **Up.** The median direction from the ankles to the neck; when the people's ankles spread
  over a plane (the floor) close to perpendicular to it, that plane's normal instead.
* **Floor.** z = 0 at the median over skeletons of their lowest foot joint (ankles, heels, toes).
* **Origin and x.** The origin is the median foot position on the floor; x is the horizontal
  part of the first camera's viewing direction.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tessetrack.errors import InputError

__all__ = ["CHAIN_FRACTION_OF_HEIGHT", "PLAUSIBLE_HEIGHT_M", "WorldFrame", "person_chain_length",
           "people_chains", "check_heights", "metric_scale", "world_frame"]  # fmt: skip

#: ankle-to-eye chain length / stature (module docstring)
CHAIN_FRACTION_OF_HEIGHT = 0.897

# BODY25 indices
_NOSE, _NECK, _MID_HIP = 0, 1, 8
_R_HIP, _R_KNEE, _R_ANKLE, _L_HIP, _L_KNEE, _L_ANKLE = 9, 10, 11, 12, 13, 14
_R_EYE, _L_EYE = 15, 16
_FEET = (11, 14, 19, 20, 21, 22, 23, 24)


@dataclass(frozen=True)
class WorldFrame:
    """``x_world = scale · R @ x_rig + shift``.

    Attributes:
        scale: metres per unit of the rig estimate.
        R: (3, 3) rotation.
        shift: (3,) metres.
        chain: the people's mean ankle-to-eye chain length, rig units.
        people: each counted person's chain length, rig units (their heights in metres are
            ``scale · chain / 0.897``).
    """

    scale: float
    R: np.ndarray
    shift: np.ndarray
    chain: float
    people: tuple[float, ...] = ()

    @property
    def heights(self) -> tuple[float, ...]:
        """The counted people's heights in metres implied by the scale."""
        return tuple(self.scale * c / CHAIN_FRACTION_OF_HEIGHT for c in self.people)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) rig points -> world metres."""
        return self.scale * points @ self.R.T + self.shift


def _bone(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[..., a, :] - points[..., b, :], axis=-1)


def person_chain_length(points: np.ndarray) -> np.ndarray:
    """(...,) ankle-to-eye chain length of (..., 25, 3) BODY25 skeletons; NaN where a joint is."""
    shank = (_bone(points, _R_KNEE, _R_ANKLE) + _bone(points, _L_KNEE, _L_ANKLE)) / 2
    thigh = (_bone(points, _R_HIP, _R_KNEE) + _bone(points, _L_HIP, _L_KNEE)) / 2
    eyes = (points[..., _R_EYE, :] + points[..., _L_EYE, :]) / 2  # ...×3
    head = np.linalg.norm(eyes - points[..., _NECK, :], axis=-1)
    return shank + thigh + _bone(points, _MID_HIP, _NECK) + head


def _up_direction(points: np.ndarray) -> np.ndarray:
    """(3,) unit up vector from (N, 25, 3) skeletons (module docstring)."""
    ankles = (points[:, _R_ANKLE] + points[:, _L_ANKLE]) / 2  # N×3
    up = points[:, _NECK] - ankles
    up = up[~np.isnan(up).any(1)]
    if len(up) == 0:
        raise InputError("no person is seen whole enough (neck and ankles) to find which way is up")
    up = np.median(up / np.linalg.norm(up, axis=1, keepdims=True), axis=0)
    up /= np.linalg.norm(up)
    feet = points[:, [_R_ANKLE, _L_ANKLE]].reshape(-1, 3)  # ankles: all about one height
    feet = feet[~np.isnan(feet).any(1)]
    if len(feet) >= 10:
        _, s, vt = np.linalg.svd(feet - feet.mean(0), full_matrices=False)
        normal = vt[2] * np.sign(vt[2] @ up)
        if s[2] < 0.2 * s[1] and normal @ up > np.cos(np.radians(20)):
            return normal
    return up


def _nanmedian(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        return np.nanmedian(x, axis=axis)


def _same_person(points: np.ndarray, a: list[int], t: int, chain: float) -> bool:
    """Whether track ``t`` never stands apart from the tracks ``a`` in a frame both are seen
    (F, T, 25, 3 skeletons): a median joint distance under a quarter of ``chain``."""
    seen = ~np.isnan(points[..., 0]).all(-1)  # F×T
    for u in a:
        both = seen[:, u] & seen[:, t]
        if both.any():
            gap = _nanmedian(np.linalg.norm(points[both, u] - points[both, t], axis=-1), axis=-1)
            if np.any(gap > 0.25 * chain):  # NaN (no shared joint) compares False
                return False
    return True


def people_chains(
    points: np.ndarray, merge_tolerance: float = 0.05, min_share: float = 0.2
) -> list[float]:
    """The chain length of each person among the tracks of (F, T, 25, 3) skeletons (module
    docstring, *People*): the median of the per-frame chains of their merged tracks."""
    chains = person_chain_length(points)  # F×T
    order = np.argsort(-np.isfinite(chains).sum(0), kind="stable")
    groups: list[list[int]] = []
    for t in order:
        if not np.isfinite(chains[:, t]).any():
            break
        own = float(_nanmedian(chains[:, t], axis=0))
        for g in groups:
            pooled = float(_nanmedian(chains[:, g].ravel(), axis=0))
            if abs(own - pooled) <= merge_tolerance * pooled and _same_person(points, g, t, pooled):
                g.append(int(t))
                break
        else:
            groups.append([int(t)])
    counts = [int(np.isfinite(chains[:, g]).sum()) for g in groups]
    return [float(_nanmedian(chains[:, g].ravel(), axis=0))
            for g, n in zip(groups, counts, strict=True) if n >= min_share * max(counts)]  # fmt: skip


#: heights in metres a person can have; a value outside is refused (centimetres, a typo)
PLAUSIBLE_HEIGHT_M = (0.5, 2.5)


def check_heights(person_height: float | Sequence[float]) -> np.ndarray:
    """(K,) the heights in metres; refuses none, a non-finite value or one outside
    :data:`PLAUSIBLE_HEIGHT_M` (naming centimetres when the value looks like them).

    Raises:
        InputError: as above.
    """
    heights = np.atleast_1d(np.asarray(person_height, dtype=float)).ravel()
    text = ", ".join(f"{h:g}" for h in heights)
    lo, hi = PLAUSIBLE_HEIGHT_M
    if heights.size == 0:
        raise InputError("no person height given")
    if not (np.isfinite(heights) & (heights >= lo) & (heights <= hi)).all():
        unit = " (centimetres? give metres)" if ((heights > 50) & (heights < 250)).any() else ""
        raise InputError(f"person heights must lie between {lo:g} and {hi:g} m, got {text}{unit}")
    return heights


def metric_scale(people: Sequence[float], person_height: float | Sequence[float]) -> float:
    """Metres per rig unit from the people's chain lengths (rig units) and either their mean
    height or one height per person (matched tallest to tallest; module docstring, *Scale*).

    Raises:
        InputError: a height that is not plausible (:func:`check_heights`), or a count of heights
            that matches neither one nor the number of people.
    """
    heights = check_heights(person_height)
    statures = np.sort(np.asarray(people, dtype=float))[::-1] / CHAIN_FRACTION_OF_HEIGHT
    if heights.size == 1:
        return float(heights[0] / statures.mean())
    if heights.size != statures.size:
        raise InputError(
            f"{statures.size} people set the scale but {heights.size} heights were given: give "
            "one (their mean) or one per person"
        )
    heights = np.sort(heights)[::-1]
    return float(heights @ statures / (statures @ statures))


def world_frame(
    points: np.ndarray, camera_axis: np.ndarray, person_height: float | Sequence[float]
) -> WorldFrame:
    """The similarity to metres, z up, floor at z = 0.

    Args:
        points: (F, T, 25, 3) BODY25 skeletons in rig units (frames × tracks), NaN where unknown;
            (N, 25, 3): one track.
        camera_axis: (3,) viewing direction of the first camera, rig frame.
        person_height: the people's mean height in metres, or one height per person
            (:func:`metric_scale`).

    Raises:
        InputError: no skeleton complete enough to measure a person or find the floor; heights
            that do not fit the people found.
    """
    tracks = points.reshape((-1,) + points.shape[-3:]) if points.ndim >= 4 else points[:, None]
    skel = tracks.reshape(-1, 25, 3)
    people = people_chains(tracks)
    if not people:
        raise InputError("no person is seen whole enough (legs, trunk, eyes) to set the scale")
    chain = float(np.mean(people))
    scale = metric_scale(people, person_height)
    z = _up_direction(skel)
    x = camera_axis - (camera_axis @ z) * z
    if np.linalg.norm(x) < 1e-6:  # the first camera looks straight down
        x = np.eye(3)[np.argmin(np.abs(z))] - z * z[np.argmin(np.abs(z))]
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])  # rows: the world axes in rig coordinates
    feet = scale * skel[:, _FEET] @ R.T  # N×8×3
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        lowest = np.nanmin(feet[..., 2], axis=1)  # N
    lowest_ok = np.isfinite(lowest)
    if not lowest_ok.any():
        raise InputError("no foot joint is seen by two cameras: the floor cannot be placed")
    floor = float(np.median(lowest[lowest_ok]))
    centre = np.nanmedian(feet.reshape(-1, 3), axis=0)
    shift = -np.array([centre[0], centre[1], floor])  # the lowest foot joints at z = 0
    return WorldFrame(scale, R, shift, chain, tuple(people))
