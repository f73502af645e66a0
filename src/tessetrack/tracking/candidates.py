"""People the person detector scores below its threshold, kept where the 2D detections show them.

The network's person detector scores a person seen by few cameras, or seen poorly, lower than
one seen well, and its threshold drops them. Lowering the threshold for everyone finds them, but
also lets in ghosts (rays of different people crossing) and doubles of people already found,
which then take part in the tracking and cost identity switches. Here a peak scoring between
``threshold`` and the detector's own threshold (a *candidate*) is kept only where the frame's 2D
detections show it: its centre, projected into a view, must fall on a 2D person that none of the
people already kept explains, in at least ``min_views`` views. The people above the detector's
threshold claim their 2D people first (Hungarian over each view, gated); candidates then claim
theirs, best score first, so two candidates never claim the same 2D person, and a double of
someone found passes only where that person's own centre lies off its 2D person by more than the
gate. With a single view nothing is vouched for: a candidate needs two.

One person can hide another: in a view where both stand on one ray, the 2D detector shows one
2D person, which the kept person claims. Where a candidate has fewer free views than
``min_views``, a view whose 2D person there is claimed by a kept person at a depth at least
``hidden_depth`` different counts too (a *shared* view), but only for a candidate at least
``min_separation`` from everyone kept (nearer, a double), confirmed by a further view that sees
its place and shows there a free 2D person or a kept person nearer that camera who can hide it,
and contradicted by no view that sees its place with nobody there. A free view and a shared
one alone are what a ghost on a kept person's ray shows too. A kept candidate is moved to the
triangulation of the 2D centres it fell on: the detector placed it from weak evidence, and two
views that agree on a person's centre place it better (a centre half a metre off along the rays of
two nearby cameras still projects onto the person in both).

The centre of a person is the midpoint of the neck and the mid-hip (what the detector places); a
2D person's is the same midpoint of its detected joints (the shoulders' midpoint standing in for
the neck, the hips' for the mid-hip), or of its confident joints' box where those are missing.

Written by hand: the rule joins our own detector's output with the 2D evidence before tracking.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera, stack_cameras
from tessetrack.geometry.triangulation import triangulate_undistorted
from tessetrack.ops.assignment import gated_assignment
from tessetrack.skeletons import get_joint_set
from tessetrack.tracking.refine import MIN_DEPTH, person_heights

__all__ = ["CandidateConfig", "centres_2d", "centre_costs", "supported_candidates"]


@dataclass(frozen=True)
class CandidateConfig:
    """Settings of :func:`supported_candidates`.

    Attributes:
        threshold: the lowest detector score a candidate may have (the detector's own threshold
            is the highest).
        min_views: views whose unexplained 2D person a candidate's centre must fall on (2 at
            least: one view cannot tell a person from a ghost).
        gate: the largest distance between the projected centre and a 2D person's centre, as a
            share of that person's 2D height.
        min_confidence: 2D joints below this confidence are not used.
        max_move: metres a kept candidate may move to its triangulated centre; further (rays
            of two views that nearly meet far away), it stays where the detector put it.
        hidden_depth: where a candidate has fewer free views than ``min_views``, a view where
            its centre falls only on a 2D person that a kept person at least this many metres
            nearer or further from the camera claims counts towards ``min_views`` (one hides the
            other there); one free view is still needed. 0: such views do not count.
        min_separation: metres a candidate vouched for by a shared view must keep from every kept
            person's centre (nearer, it is a double of that person).
        occlusion: such a candidate needs a further view that sees its centre with a free 2D
            person, or one a kept person nearer that camera claims, within this share of that
            2D person's height of the projected centre; a view that sees it with no 2D person
            that near refuses it.
    """

    threshold: float = 0.1
    min_views: int = 2
    gate: float = 0.25
    min_confidence: float = 0.3
    max_move: float = 1.0
    hidden_depth: float = 0.3
    min_separation: float = 0.5
    occlusion: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise InputError(f"candidate threshold must lie in (0, 1), got {self.threshold}")
        if self.min_views < 2:
            raise InputError(f"min_views must be >= 2 (one view cannot tell a ghost), "
                             f"got {self.min_views}")  # fmt: skip
        if self.gate <= 0:
            raise InputError(f"gate must be positive, got {self.gate}")
        if not 0.0 <= self.min_confidence < 1.0:
            raise InputError(f"min_confidence must lie in [0, 1), got {self.min_confidence}")
        if self.max_move <= 0:
            raise InputError(f"max_move must be positive, got {self.max_move}")
        if min(self.hidden_depth, self.min_separation, self.occlusion) < 0:
            raise InputError(f"hidden_depth, min_separation and occlusion must be >= 0, got "
                             f"{self.hidden_depth}, {self.min_separation} and {self.occlusion}")  # fmt: skip


def centres_2d(
    dets: np.ndarray, joint_set: str, min_confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """2D people of one view → their centres and heights.

    Args:
        dets: (P, J, 3) 2D people (u, v, confidence) in ``joint_set``.
        joint_set: the people's joint set.
        min_confidence: joints below it are not used.

    Returns:
        centres (P, 2) pixels: the midpoint of the neck (or of the shoulders) and the mid-hip (or
        the hips) where both are confident, else of the confident joints' box (NaN with fewer
        than two confident joints); heights (P,) pixels: the confident joints' vertical extent
        (at least 1).
    """
    dets = np.asarray(dets, dtype=np.float64).reshape(-1, get_joint_set(joint_set).num_joints, 3)
    ok = dets[..., 2] >= min_confidence  # P×J
    uv = np.where(ok[..., None], dets[..., :2], np.nan)  # P×J×2
    with warnings.catch_warnings():  # people with no confident joint: all-NaN rows
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(uv, axis=1), np.nanmax(uv, axis=1)  # P×2
    box = np.where(ok.sum(-1, keepdims=True) >= 2, (lo + hi) / 2, np.nan)
    heights = person_heights(torch.from_numpy(dets), min_confidence).numpy()  # P
    names = list(get_joint_set(joint_set).joints)
    top = _joint_or_pair(uv, names, "neck", ("l_shoulder", "r_shoulder"))  # P×2
    bottom = _joint_or_pair(uv, names, "mid_hip", ("l_hip", "r_hip"))  # P×2
    mid = (top + bottom) / 2
    return np.where(np.isfinite(mid).all(-1, keepdims=True), mid, box), heights


def _joint_or_pair(
    uv: np.ndarray, names: list[str], joint: str, pair: tuple[str, str]
) -> np.ndarray:
    """(P, J, 2) confident joints (NaN elsewhere) → (P, 2) ``joint``, else the midpoint of
    ``pair``; NaN where neither is known (or the joint set has neither)."""
    out = np.full((uv.shape[0], 2), np.nan)
    if all(n in names for n in pair):
        out = (uv[:, names.index(pair[0])] + uv[:, names.index(pair[1])]) / 2
    if joint in names:
        own = uv[:, names.index(joint)]
        out = np.where(np.isfinite(own).all(-1, keepdims=True), own, out)
    return out


def centre_costs(
    centres: np.ndarray, camera: Camera, people: np.ndarray, heights: np.ndarray
) -> np.ndarray:
    """(N, 3) world centres, one view's (P, 2) 2D centres and (P,) heights → (N, P) the projected
    centre's distance to each 2D centre over that 2D height (inf behind the camera or for a 2D
    person without a centre)."""
    n, p = len(centres), len(people)
    if n == 0 or p == 0:
        return np.full((n, p), np.inf)
    uv = np.asarray(camera.project(np.asarray(centres, np.float64)))  # N×2
    front = np.asarray(camera.depth(np.asarray(centres, np.float64))) > MIN_DEPTH  # N
    cost = np.linalg.norm(uv[:, None] - people[None], axis=-1) / heights[None]  # N×P
    return np.where(front[:, None] & np.isfinite(cost), cost, np.inf)


def supported_candidates(
    centres: Tensor | np.ndarray,
    strong: Tensor | np.ndarray,
    views: Sequence[tuple[Camera, np.ndarray]],
    joint_set: str,
    config: CandidateConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Which detected people to keep: every strong one, and the candidates the 2D people vouch for,
    moved to where those 2D people's centres triangulate (module docstring).

    Args:
        centres: (N, 3) detected centres, world metres, in descending score order.
        strong: (N,) bool, scored at or above the detector's threshold.
        views: per view, its camera and (P, J, 3) 2D people in ``joint_set``.
        joint_set: the 2D people's joint set.
        config: the rule's settings.

    Returns:
        keep (N,) bool, the people kept; centres (N, 3) float64, the kept candidates' triangulated
        (those whose triangulation falls behind a camera or more than ``max_move`` away stay
        where they were), the others' unchanged.
    """
    centres = np.asarray(torch.as_tensor(centres).detach().cpu().double())
    strong = np.asarray(torch.as_tensor(strong).cpu(), dtype=bool)
    keep = strong.copy()
    out = centres.copy()
    weak = np.flatnonzero(~strong)
    if weak.size == 0:
        return keep, out
    owners: list[np.ndarray] = []  # per view: (P,) the kept person claiming each 2D person, -1
    costs: list[np.ndarray] = []  # per view: (N, P)
    people: list[tuple[np.ndarray, np.ndarray]] = []  # per view: (P, 2) 2D centres, (P,) heights
    cams = [cam for cam, _ in views]
    rows = np.flatnonzero(strong)
    for camera, dets in views:
        people.append(centres_2d(dets, joint_set, config.min_confidence))
        cost = centre_costs(centres, camera, *people[-1])  # N×P
        owner = np.full(cost.shape[1], -1)
        r, c = gated_assignment(cost[rows], cost[rows] < config.gate, config.gate)
        owner[c] = rows[r]
        owners.append(owner)
        costs.append(cost)
    for i in weak:  # best score first
        free, shared = _view_hits(i, out, costs, owners, cams, config)
        shared = shared if len(free) < config.min_views else []  # only where needed
        hits = free + shared
        if len(free) < 1 or len(hits) < config.min_views:
            continue
        uv = np.stack([people[k][0][col] for k, col in hits])
        moved = _triangulated(uv, [cams[k] for k, _ in hits], out[i])
        moved = moved if np.linalg.norm(moved - out[i]) <= config.max_move else out[i]
        if shared and not _shared_is_plausible(moved, out, keep, hits, cams, people, owners,
                                               config):  # fmt: skip
            continue
        keep[i] = True
        out[i] = moved
        for k, col in free:
            owners[k][col] = i
    return keep, out


def _shared_is_plausible(
    centre: np.ndarray,
    centres: np.ndarray,
    keep: np.ndarray,
    hits: list[tuple[int, int]],
    cameras: list[Camera],
    people: list[tuple[np.ndarray, np.ndarray]],
    owners: list[np.ndarray],
    config: CandidateConfig,
) -> bool:
    """A candidate (moved to ``centre``) that shares a 2D person with a kept one: kept only
    ``config.min_separation`` from every kept centre (``centres[keep]``), where no other view that
    sees its centre (in front, inside a known image) has nobody within ``config.occlusion`` 2D
    heights of it, and where one such view confirms it: a free 2D person there (the candidate
    itself, detected off its place), or one a kept person nearer that camera claims (who can
    hide it)."""
    if keep.any() and np.linalg.norm(centres[keep] - centre, axis=-1).min() < config.min_separation:
        return False
    used = {k for k, _ in hits}
    confirmed = 0
    for k, camera in enumerate(cameras):
        depth = float(camera.depth(centre))
        if k in used or depth <= MIN_DEPTH or not _inside(camera, centre):
            continue
        near = centre_costs(centre[None], camera, *people[k])[0] < config.occlusion  # P
        if not near.any():
            return False
        front = [o < 0 or float(camera.depth(centres[o])) < depth for o in owners[k][near]]
        confirmed += any(front)
    return confirmed > 0


def _inside(camera: Camera, point: np.ndarray) -> bool:
    """Whether ``point`` (3,) projects inside ``camera``'s image (False where its size is unknown:
    no judgement)."""
    if camera.width <= 0 or camera.height <= 0:
        return False
    u, v = np.asarray(camera.project(point[None]))[0]
    return bool(0 <= u < camera.width and 0 <= v < camera.height)


def _view_hits(
    i: int,
    centres: np.ndarray,
    costs: list[np.ndarray],
    owners: list[np.ndarray],
    cameras: list[Camera],
    config: CandidateConfig,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Candidate ``i``'s views → (view, 2D person) where its centre falls on an unclaimed 2D
    person (free), and where it falls only on one claimed by a kept person at least
    ``config.hidden_depth`` nearer or further from that camera (shared: one hides the other)."""
    free, shared = [], []
    for k, (cost, owner) in enumerate(zip(costs, owners, strict=True)):
        row = cost[i]
        open_ = np.where(owner >= 0, np.inf, row)
        if open_.size and open_.min() < config.gate:
            free.append((k, int(open_.argmin())))
            continue
        if config.hidden_depth <= 0 or not row.size or row.min() >= config.gate:
            continue
        col = int(row.argmin())
        depth = np.asarray(cameras[k].depth(centres[[i, owner[col]]]))
        if abs(depth[1] - depth[0]) >= config.hidden_depth:
            shared.append((k, col))
    return free, shared


def _triangulated(uv: np.ndarray, cameras: Sequence[Camera], fallback: np.ndarray) -> np.ndarray:
    """(V, 2) pixels of one point in V cameras → (3,) its triangulation (DLT on undistorted
    points); ``fallback`` where it lands behind a camera or is not finite."""
    st = stack_cameras(list(cameras), dtype=torch.float64)
    x = triangulate_undistorted(torch.tensor(uv), st["K"], st["R"], st["t"], st["dist"]).numpy()
    front = all(float(c.depth(x)) > MIN_DEPTH for c in cameras)
    return x if front and np.isfinite(x).all() else fallback
