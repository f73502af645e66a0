"""Compare two calibrations of the same cameras: the similarity (Umeyama) that best maps one
rig's camera centres onto the other's, then each camera's rotation and centre error after it.

Umeyama (1991): for centres ``a_i`` (ours) and ``b_i`` (reference), the scale ``s``, rotation
``Q`` and shift ``d`` minimising ``Σ |b_i − (s Q a_i + d)|²`` come from the SVD of the
cross-covariance ``Σ_ab = (1/n) Σ (b_i − b̄)(a_i − ā)ᵀ = U S Vᵀ``: ``Q = U D Vᵀ`` with
``D = diag(1, 1, det(U Vᵀ))``, ``s = tr(S D) / σ_a²``, ``d = b̄ − s Q ā``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera

__all__ = ["Similarity", "RigComparison", "umeyama", "rotation_deg", "pair_distances",
           "compare_rigs"]  # fmt: skip


@dataclass(frozen=True)
class Similarity:
    """``x ↦ scale · R @ x + shift``."""

    scale: float
    R: np.ndarray
    shift: np.ndarray


def umeyama(source: np.ndarray, target: np.ndarray) -> Similarity:
    """Least-squares similarity mapping ``source`` (N, 3) onto ``target`` (N, 3); N ≥ 3."""
    if source.shape != target.shape or source.ndim != 2 or len(source) < 3:
        raise InputError("umeyama needs two (N, 3) point sets with N >= 3")
    mu_a, mu_b = source.mean(0), target.mean(0)
    a, b = source - mu_a, target - mu_b
    cov = b.T @ a / len(a)  # 3×3 Σ_ab
    U, S, Vt = np.linalg.svd(cov)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ D @ Vt
    scale = float(np.trace(np.diag(S) @ D) / (a**2).sum(1).mean())
    return Similarity(scale, R, mu_b - scale * R @ mu_a)


def rotation_deg(R: np.ndarray) -> float:
    """The angle (°) of the rotation ``R`` (3, 3), e.g. ``R_a @ R_bᵀ`` between two orientations.

    ``atan2(sin, cos)`` of the angle, not ``arccos`` of its cosine alone: near 0° the cosine's
    rounding (a rotation stored to 7 digits) would read as a few hundredths of a degree."""
    sine = 0.5 * np.linalg.norm([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    return float(np.degrees(np.arctan2(sine, (np.trace(R) - 1) / 2)))


def pair_distances(points: np.ndarray) -> np.ndarray:
    """(N (N − 1) / 2,) the distances between every two of ``points`` (N, 3), pair (i, j) with
    i < j in row-major order."""
    iu = np.triu_indices(len(points), 1)
    return np.linalg.norm(points[:, None] - points[None], axis=-1)[iu]


@dataclass(frozen=True)
class RigComparison:
    """Per-camera errors of a rig against a reference after the best similarity.

    Attributes:
        similarity: maps our world onto the reference's.
        rotation_deg: camera name -> angle between the aligned and the reference orientation.
        centre_m: camera name -> distance between the aligned and the reference centre.
        distance_ratio: median over camera pairs of our distance / the reference's (1 = the
            right metric scale, without any alignment).
    """

    similarity: Similarity
    rotation_deg: dict[str, float]
    centre_m: dict[str, float]
    distance_ratio: float


def compare_rigs(ours: Mapping[str, Camera], reference: Mapping[str, Camera]) -> RigComparison:
    """Align ``ours`` to ``reference`` by their shared cameras' centres and measure the errors."""
    names = [n for n in ours if n in reference]
    if len(names) < 3:
        raise InputError("comparing two rigs needs at least 3 cameras in both")
    a = np.stack([ours[n].center for n in names])  # V×3
    b = np.stack([reference[n].center for n in names])
    sim = umeyama(a, b)
    aligned = (sim.scale * (sim.R @ a.T)).T + sim.shift  # V×3
    rotation, centre = {}, {}
    for i, n in enumerate(names):
        # ours maps x_world_ours -> cam; in reference coordinates: R_ours @ simᵀ
        rotation[n] = rotation_deg(ours[n].R @ sim.R.T @ reference[n].R.T)
        centre[n] = float(np.linalg.norm(aligned[i] - b[i]))
    return RigComparison(
        sim, rotation, centre, float(np.median(pair_distances(a) / pair_distances(b)))
    )
