"""Which cameras see a person, and ground truth restricted to the people enough cameras see.

A person counts as seen by a camera when most of its joints lie in front of the camera and inside
its image; scoring only such people separates "the rig cannot see them" from "the tracker misses
them" on real recordings (``benchmarks/real_rigs.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tessetrack.geometry.camera import Camera
from tessetrack.structures import FramePoses, Tracks

__all__ = ["restrict_to_views", "views_seeing"]


def views_seeing(joints: np.ndarray, cameras: Sequence[Camera], *, inside: float = 0.9) -> int:
    """How many cameras see a person: ≥ ``inside`` of its joints (J, 3) in front of the camera and
    within the image (NaN joints count as not seen)."""
    n = 0
    finite = np.isfinite(joints).all(-1)  # J
    for cam in cameras:
        depth = cam.depth(joints)  # J (NaN rows stay NaN and fail the test below)
        uv = cam.project(np.where(finite[:, None], joints, 0.0))  # J×2
        ok = finite & (depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width)
        ok &= (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
        n += int(ok.mean() >= inside)
    return n


def restrict_to_views(
    gt: Tracks, cameras: Sequence[Camera], min_views: int
) -> tuple[Tracks, int, int]:
    """The GT person-frames seen by at least ``min_views`` cameras (:func:`views_seeing`).

    Returns the restricted tracks, the person-frames kept and the person-frames in all.
    """
    frames, kept, total = [], 0, 0
    for f in gt.frames:
        people = tuple(
            p for p in f.people if views_seeing(np.asarray(p.joints, float), cameras) >= min_views
        )
        kept += len(people)
        total += len(f.people)
        frames.append(FramePoses(f.frame, people))
    return Tracks(gt.joint_names, tuple(frames), gt.fps, gt.units), kept, total
