"""Camera poses from the people in a synchronized recording: their 2D joints are the
calibration target.

Pipeline (the cameras' intrinsics are known):

1. **Observations.** Confident joints (BODY25) of every person in every camera and frame,
   undistorted into pixel-equivalent units ``f0 · (x/z, y/z)`` (one ``f0`` for all cameras).
2. **Pairs.** For every camera pair, every person of one camera is a candidate match of every
   person of the other in the same frame; the essential matrix is fitted with RANSAC to all
   candidate joint pairs (wrong person pairings are outliers), then the people of each frame
   are matched by their median Sampson distance (Hungarian) and ``recoverPose`` gives the
   relative pose of the pair from the matched joints only.
3. **Chain.** The pair with the most matched joints fixes the frame (its first camera at the
   origin, the baseline of unit length); the 3D joints of that camera's people are triangulated
   and each further camera is placed by PnP with RANSAC on them (again over all candidate
   pairings), then its people are matched by reprojection error.
4. **Bundle adjustment** (:mod:`tessetrack.calibrate.bundle_adjustment`) of all poses and 3D
   joints with a robust loss, each person's bone lengths (:data:`BONES`: shoulder and hip width,
   upper arms, forearms, thighs, shins, trunk, neck to eyes; left and right alike) held constant
   over the frames; then the people are matched again with the refined cameras and the
   adjustment repeated.
5. **World frame** (:mod:`tessetrack.calibrate.world_frame`): metres from the people's height,
   z up, floor at z = 0.

A person is only reconstructed where the first camera of the chain sees them; joints seen by
fewer than two cameras are left out.

**Refining a rig** (:func:`refine_rig`): with the cameras' poses already known roughly (a marker
or board calibration that has drifted, or was made with other intrinsics), steps 2-3 are skipped:
the camera that sees the most confident joints is the origin, the others keep their poses
relative to it, the people are matched by their Sampson distance under those poses, and step 4
runs as above.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from tessetrack.calibrate.bundle_adjustment import BoneTerms, bundle_adjust, project
from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.io.detections import Detections2D

__all__ = ["BONES", "PeopleConfig", "PeopleObservations", "RigEstimate", "UnmatchedCameras",
           "people_observations", "estimate_rig", "refine_rig"]  # fmt: skip

logger = logging.getLogger(__name__)

#: BODY25 bones whose length a person keeps: name -> the joint pairs (left and right share it).
BONES: dict[str, tuple[tuple[int, int], ...]] = {
    "shoulder width": ((2, 5),),
    "hip width": ((9, 12),),
    "upper arm": ((2, 3), (5, 6)),
    "forearm": ((3, 4), (6, 7)),
    "thigh": ((9, 10), (12, 13)),
    "shin": ((10, 11), (13, 14)),
    "trunk": ((8, 1),),
    "neck to eye": ((1, 15), (1, 16)),
}


@dataclass(frozen=True)
class PeopleConfig:
    """Settings of the people-based calibration (generic; nothing here is tuned to one rig).

    Attributes:
        min_confidence: joints below this detector confidence are ignored.
        min_joints: joints two people must share to be matched.
        ransac_px: inlier threshold of RANSAC and of person matching, pixel-equivalent units.
        loss, f_scale: robust loss of the bundle adjustment and its scale in pixels.
        rounds: bundle adjustments, each after matching the people again.
        min_matches: matched joints a camera pair (or a camera placed by PnP) needs at least.
        bone_tolerance: relative change of a person's bone length between frames that the
            bundle adjustment weighs like an ``f_scale`` reprojection error; None: bone lengths
            are free.
    """

    min_confidence: float = 0.5
    min_joints: int = 6
    ransac_px: float = 16.0
    loss: str = "soft_l1"
    f_scale: float = 4.0
    rounds: int = 3
    min_matches: int = 30
    bone_tolerance: float | None = 0.05


class UnmatchedCameras(InputError):
    """Cameras none of whose people match the others' under the poses given (:func:`refine_rig`).

    Attributes:
        cameras: their names.
    """

    def __init__(self, message: str, cameras: tuple[str, ...]) -> None:
        super().__init__(message)
        self.cameras = cameras


@dataclass(frozen=True)
class PeopleObservations:
    """Confident joints of every camera, undistorted.

    Attributes:
        cameras: camera names (V).
        frames: frame indices (F).
        uv: (V, F, P, J, 2) pixel-equivalent coordinates ``f0 · (x/z, y/z)`` of each camera's
            people, indexed by their 2D track (:func:`track_people`); NaN where a joint is
            missing or not confident, or the track is not seen in that frame.
        confidence: (V, F, P, J) detector confidence (0 where ``uv`` is NaN).
        f0: the common focal length of ``uv``.
    """

    cameras: tuple[str, ...]
    frames: tuple[int, ...]
    uv: np.ndarray
    confidence: np.ndarray
    f0: float


@dataclass(frozen=True)
class RigEstimate:
    """Camera poses and 3D joints up to a similarity (before the world frame is fixed).

    Attributes:
        rvecs, tvecs: (V, 3) world-to-camera poses.
        points: (F, P, J, 3) 3D joints of the people of the chain's first camera; NaN where
            unknown.
        assign: (V, F, P) index of each of those people among camera v's detections, −1 if unseen.
        residuals: camera name -> (K, 2) reprojection residuals in that camera's pixels.
    """

    rvecs: np.ndarray
    tvecs: np.ndarray
    points: np.ndarray
    assign: np.ndarray
    residuals: dict[str, np.ndarray] = field(default_factory=dict)


def people_observations(
    detections: Detections2D,
    intrinsics: Mapping[str, Camera],
    min_confidence: float = 0.5,
) -> PeopleObservations:
    """Stack the detections of the cameras in ``intrinsics`` (BODY25), undistorted.

    Raises:
        InputError: a camera without detections, or one where nobody is ever seen confidently.
    """
    dets = detections.converted("body25")
    names = tuple(intrinsics)
    missing = [n for n in names if n not in dets.by_camera]
    if missing:
        raise InputError(f"no detections for camera(s) {', '.join(missing)}")
    frames = tuple(f for f in dets.frames if all(f in dets.by_camera[n] for n in names))
    P = max([len(dets.get(n, f)) for n in names for f in frames] + [0])
    V, F, J = len(names), len(frames), dets.num_joints
    raw = np.full((V, F, max(P, 1), J, 3), np.nan)  # V×F×P×J×(u, v, c)
    for v, n in enumerate(names):
        for i, f in enumerate(frames):
            people = dets.get(n, f)
            raw[v, i, : len(people)] = people
    ok = raw[..., 2] >= min_confidence  # V×F×P×J
    f0 = float(np.median([c.K[0, 0] for c in intrinsics.values()]))
    uv = np.full(raw.shape[:-1] + (2,), np.nan)
    for v, n in enumerate(names):
        cam = intrinsics[n]
        pts = raw[v][ok[v]][:, None, :2]  # M×1×2
        if len(pts):
            uv[v][ok[v]] = f0 * cv2.undistortPoints(pts, cam.K, cam.dist).reshape(-1, 2)
    blind = [n for v, n in enumerate(names) if ok[v].sum() < 1]
    if blind:
        raise InputError(f"camera(s) {', '.join(blind)} see nobody in the recording's frames "
                         f"(no joint with confidence ≥ {min_confidence})")  # fmt: skip
    # each camera's people indexed by 2D track: V×F×T×J×(u, v, confidence)
    stacked = np.concatenate([uv, np.where(ok, raw[..., 2], np.nan)[..., None]], axis=-1)
    tracks = [track_people(stacked[v]) for v in range(V)]
    T = max(t.shape[1] for t in tracks)
    by_track = np.full((V, F, T, J, 3), np.nan)
    for v, t in enumerate(tracks):
        by_track[v, :, : t.shape[1]] = t
    return PeopleObservations(names, frames, by_track[..., :2], np.nan_to_num(by_track[..., 2]), f0)


# --- 2D tracks and camera pairs ---------------------------------------------------------------
def track_people(uv: np.ndarray, max_gap: int = 3) -> np.ndarray:
    """Link one camera's people over time: frame-to-frame Hungarian matching on the median joint
    distance, accepted below half the person's height in the image.

    Args:
        uv: (F, P, J, C) observations, C ≥ 2 channels of which the first two are the pixel
            coordinates, NaN where missing.
        max_gap: frames a track may be unseen and still be continued.

    Returns:
        (F, T, J, C) the same observations indexed by track instead of detection order.
    """
    F, P, J, C = uv.shape
    data, uv = uv, uv[..., :2]
    seen = ~np.isnan(uv[..., 0]).all(-1)  # F×P
    last: list[tuple[int, np.ndarray]] = []  # per track: (frame last seen, joints J×2)
    track_of = np.full((F, P), -1)
    for f in range(F):
        people = np.nonzero(seen[f])[0]
        alive = [t for t, (g, _) in enumerate(last) if f - g <= max_gap]
        if alive and len(people):
            cost = np.full((len(alive), len(people)), 1e9)
            for r, t in enumerate(alive):
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
                    d = np.nanmedian(np.linalg.norm(uv[f, people] - last[t][1], axis=-1), axis=-1)
                    height = np.nanmax(last[t][1][:, 1]) - np.nanmin(last[t][1][:, 1])
                cost[r] = np.where(d < 0.5 * height, d, 1e9)
            rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e9))
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < 1e9:
                    track_of[f, people[c]] = alive[r]
        for p in people:
            if track_of[f, p] < 0:
                track_of[f, p] = len(last)
                last.append((f, uv[f, p]))
            last[track_of[f, p]] = (
                f,
                np.where(np.isnan(uv[f, p]), last[track_of[f, p]][1], uv[f, p]),
            )
    out = np.full((F, max(len(last), 1), J, C), np.nan)
    f_idx, p_idx = np.nonzero(track_of >= 0)
    out[f_idx, track_of[f_idx, p_idx]] = data[f_idx, p_idx]
    return out


def _track_pairs(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Every pair of tracks of two cameras with the (frame, joint) indices both see."""
    both = ~np.isnan(a[:, :, None, :, 0]) & ~np.isnan(b[:, None, :, :, 0])  # F×Ta×Tb×J
    out = []
    for ta, tb in zip(*np.nonzero(both.any(axis=(0, 3))), strict=True):
        out.append((int(ta), int(tb), np.argwhere(both[:, ta, tb])))  # M×2 (frame, joint)
    return out


def _match_tracks(scores: dict[tuple[int, int], int], minimum: int) -> list[tuple[int, int]]:
    """Track pairs (one to one) with the most inliers, each with at least ``minimum``."""
    if not scores:
        return []
    na = max(a for a, _ in scores) + 1
    nb = max(b for _, b in scores) + 1
    table = np.zeros((na, nb))
    for (ta, tb), n in scores.items():
        table[ta, tb] = n
    rows, cols = linear_sum_assignment(-table)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if table[r, c] >= minimum]


def _assign_from(matched: list[tuple[int, int]], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F, Ta) track of camera b matched to each track of a in each frame both see; −1 else."""
    out = np.full(a.shape[:2], -1)
    seen_a = ~np.isnan(a[..., 0]).all(-1)  # F×Ta
    seen_b = ~np.isnan(b[..., 0]).all(-1)  # F×Tb
    for ta, tb in matched:
        out[seen_a[:, ta] & seen_b[:, tb], ta] = tb
    return out


@dataclass(frozen=True)
class _Pair:
    R: np.ndarray
    t: np.ndarray
    matches: int
    assign: np.ndarray  # F×Ta


def _essential(
    xa: np.ndarray, xb: np.ndarray, f0: float, config: PeopleConfig
) -> tuple[np.ndarray, np.ndarray] | None:
    """RANSAC essential matrix of joint pairs (M, 2) -> (E, inlier mask (M,)), None if it fails."""
    if len(xa) < max(config.min_matches, 5):
        return None
    K0 = np.diag([f0, f0, 1.0])
    E, mask = cv2.findEssentialMat(xa, xb, K0, cv2.RANSAC, 0.999, config.ransac_px, 5000)
    if E is None or mask is None:
        return None
    return E[:3], mask.ravel() > 0  # several solutions may be stacked: keep the first


def _relative_pose(obs: PeopleObservations, i: int, j: int, config: PeopleConfig) -> _Pair | None:
    """Relative pose of cameras i, j: an essential matrix per pair of their tracks, the tracks
    matched by inlier count, then one essential matrix from all matched tracks' joints."""
    a, b = obs.uv[i], obs.uv[j]
    scores: dict[tuple[int, int], int] = {}
    for ta, tb, fj in _track_pairs(a, b):
        fit = _essential(a[fj[:, 0], ta, fj[:, 1]], b[fj[:, 0], tb, fj[:, 1]], obs.f0, config)
        if fit is not None:
            scores[ta, tb] = int(fit[1].sum())
    matched = _match_tracks(scores, config.min_matches)
    assign = _assign_from(matched, a, b)
    f, ta, j_ = np.nonzero((assign >= 0)[..., None] & ~np.isnan(a[..., 0]))
    tb = assign[f, ta]
    keep = ~np.isnan(b[f, tb, j_, 0])
    xa, xb = a[f, ta, j_][keep], b[f, tb, j_][keep]
    fit = _essential(xa, xb, obs.f0, config)
    if fit is None:
        return None
    K0 = np.diag([obs.f0, obs.f0, 1.0])
    inliers, R, t, _ = cv2.recoverPose(fit[0], xa[fit[1]], xb[fit[1]], K0)
    return _Pair(R, t.ravel(), int(inliers), assign)


# --- triangulation and PnP ---------------------------------------------------------------------
def _assigned_uv(obs: PeopleObservations, assign: np.ndarray) -> np.ndarray:
    """(V, F, P, J, 2) the observations of the chain's people in every camera; NaN if unseen."""
    idx = np.clip(assign, 0, None)[..., None, None]  # V×F×P×1×1
    uv = np.take_along_axis(obs.uv, np.broadcast_to(idx, assign.shape + obs.uv.shape[3:]), axis=2)
    return np.where((assign >= 0)[..., None, None], uv, np.nan)


def triangulate(
    uv: np.ndarray, rvecs: np.ndarray, tvecs: np.ndarray, f0: float, placed: np.ndarray
) -> np.ndarray:
    """Linear (DLT) triangulation of every joint seen by at least two placed cameras.

    Args:
        uv: (V, ..., 2) pixel-equivalent observations, NaN where unseen.
        rvecs, tvecs: (V, 3) poses.
        f0: focal length of ``uv``.
        placed: (V,) bool, the cameras to use.

    Returns:
        (..., 3) points; NaN where fewer than two placed cameras see the joint.
    """
    Rs = np.stack([cv2.Rodrigues(r)[0] for r in rvecs])  # V×3×3
    Pm = np.concatenate([Rs, tvecs[:, :, None]], axis=2)  # V×3×4
    xy = np.moveaxis(uv, 0, -2) / f0  # ...×V×2
    seen = ~np.isnan(xy[..., 0]) & placed  # ...×V
    xy = np.nan_to_num(xy)
    rows = xy[..., :, None] * Pm[:, 2][:, None, :] - Pm[:, :2]  # ...×V×2×4
    rows = rows * seen[..., None, None]
    A = rows.reshape(rows.shape[:-3] + (-1, 4))  # ...×2V×4
    _, _, vt = np.linalg.svd(A)
    X = vt[..., -1, :]  # ...×4
    with np.errstate(invalid="ignore", divide="ignore"):
        points = X[..., :3] / X[..., 3:4]
    return np.where((seen.sum(-1) >= 2)[..., None], points, np.nan)


def _reprojection(points: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, f0: float) -> np.ndarray:
    """(F, P, J, 2) projection of the chain's people (F, P, J, 3) into one camera; NaN stays."""
    flat = points.reshape(-1, 3)
    rv, tv = np.tile(rvec, (len(flat), 1)), np.tile(tvec, (len(flat), 1))
    proj = project(rv, tv, np.nan_to_num(flat), f0)
    return np.where(np.isnan(flat[:, :1]), np.nan, proj).reshape(points.shape[:-1] + (2,))


def _sampson_px(E: np.ndarray, xa: np.ndarray, xb: np.ndarray, f0: float) -> np.ndarray:
    """(M,) Sampson distance of joint pairs (M, 2) under ``E`` (``x_bᵀ E x_a = 0``),
    pixel-equivalent units; NaN where a point is NaN."""
    ha = np.hstack([xa / f0, np.ones((len(xa), 1))])  # M×3
    hb = np.hstack([xb / f0, np.ones((len(xb), 1))])
    Ea, Eb = ha @ E.T, hb @ E  # M×3: E x_a and Eᵀ x_b
    num = np.einsum("mi,mi->m", hb, Ea) ** 2
    den = Ea[:, 0] ** 2 + Ea[:, 1] ** 2 + Eb[:, 0] ** 2 + Eb[:, 1] ** 2
    return f0 * np.sqrt(num / np.maximum(den, 1e-18))


def _hungarian_per_frame(cost: np.ndarray) -> np.ndarray:
    """(F, P) per-frame one-to-one matching of (F, P, T) costs (inf: not allowed); −1 if none."""
    out = np.full(cost.shape[:2], -1)
    for f in np.nonzero(np.isfinite(cost).any(axis=(1, 2)))[0]:
        rows, cols = linear_sum_assignment(np.where(np.isfinite(cost[f]), cost[f], 1e9))
        good = np.isfinite(cost[f, rows, cols])
        out[f, rows[good]] = cols[good]
    return out


def _median_cost(dist: np.ndarray, limit: float) -> np.ndarray:
    """(F, P, T) median over joints of (F, P, T, J) distances; inf below 3 joints or ≥ limit."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        cost = np.nanmedian(dist, axis=-1)
    return np.where(((~np.isnan(dist)).sum(-1) >= 3) & (cost < limit), cost, np.inf)


def _match_by_reprojection(
    points: np.ndarray, uv: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, f0: float, limit: float
) -> np.ndarray:
    """(F, P) the camera's track matching each of the chain's people (F, P, J, 3), −1 where
    none: per frame, Hungarian matching on the median reprojection distance below ``limit``."""
    proj = _reprojection(points, rvec, tvec, f0)  # F×P×J×2
    dist = np.linalg.norm(proj[:, :, None] - uv[:, None], axis=-1)  # F×P×T×J
    return _hungarian_per_frame(_median_cost(dist, limit))


def _match_by_epipolar(
    uv_a: np.ndarray, uv_k: np.ndarray, R: np.ndarray, t: np.ndarray, f0: float, limit: float
) -> np.ndarray:
    """(F, P) the track of camera k matching each person (F, P, J, 2) of the chain's first camera
    (at the origin; camera k at ``R, t``), by per-frame Hungarian matching on the median Sampson
    distance below ``limit``."""
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    E = tx @ R  # x_kᵀ E x_a = 0
    F, P, J, _ = uv_a.shape
    T = uv_k.shape[1]
    xa = np.broadcast_to(uv_a[:, :, None], (F, P, T, J, 2)).reshape(-1, 2)
    xk = np.broadcast_to(uv_k[:, None], (F, P, T, J, 2)).reshape(-1, 2)
    dist = _sampson_px(E / max(np.linalg.norm(t), 1e-12), xa, xk, f0).reshape(F, P, T, J)
    return _hungarian_per_frame(_median_cost(dist, limit))


def _place_by_pnp(
    points: np.ndarray, uv: np.ndarray, f0: float, config: PeopleConfig
) -> tuple[np.ndarray, np.ndarray] | None:
    """Pose (rvec, tvec) of a camera from the chain's 3D people (F, P, J, 3) and its tracks
    (F, T, J, 2): RANSAC PnP per pair of person and track, the pairs matched by inlier count,
    then RANSAC PnP on all matched pairs; None if it fails."""
    K0 = np.diag([f0, f0, 1.0])

    def pnp(X: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if len(X) < max(config.min_matches, 6):
            return None
        found, rvec, tvec, inliers = cv2.solvePnPRansac(
            X, x, K0, None, reprojectionError=config.ransac_px, iterationsCount=2000,
            confidence=0.999, flags=cv2.SOLVEPNP_EPNP,
        )  # fmt: skip
        return (rvec, tvec, inliers.ravel()) if found and inliers is not None else None

    scores: dict[tuple[int, int], int] = {}
    for p, t, fj in _track_pairs(points, uv):
        fit = pnp(points[fj[:, 0], p, fj[:, 1]], uv[fj[:, 0], t, fj[:, 1]])
        if fit is not None:
            scores[p, t] = len(fit[2])
    assign = _assign_from(_match_tracks(scores, config.min_matches), points[..., :2], uv)
    f, p, j = np.nonzero((assign >= 0)[..., None] & ~np.isnan(points[..., 0]))
    t = assign[f, p]
    keep = ~np.isnan(uv[f, t, j, 0])
    X, x = points[f, p, j][keep], uv[f, t, j][keep]
    fit = pnp(X, x)
    if fit is None or len(fit[2]) < config.min_matches:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(X[fit[2]], x[fit[2]], K0, None, fit[0], fit[1])
    return rvec.ravel(), tvec.ravel()


def _best_pair(obs: PeopleObservations, config: PeopleConfig) -> tuple[int, int, _Pair, np.ndarray]:
    """The camera pair with the most matched joints, and every pair's match count (V, V)."""
    V = len(obs.cameras)
    counts = np.zeros((V, V), dtype=np.int64)
    best: tuple[int, int, _Pair] | None = None
    for i in range(V):
        for j in range(i + 1, V):
            pair = _relative_pose(obs, i, j, config)
            if pair is None:
                continue
            counts[i, j] = counts[j, i] = pair.matches
            if best is None or pair.matches > best[2].matches:
                best = (i, j, pair)
    if best is None:
        raise InputError(
            "no two cameras see the same people often enough to be related (fewer than "
            f"{config.min_matches} shared confident joints); use a longer recording"
        )
    return best[0], best[1], best[2], counts


def _chain(obs: PeopleObservations, config: PeopleConfig) -> RigEstimate:
    """Initial poses: the best pair, then every other camera by PnP (module docstring, 1-3)."""
    V, F, P = obs.uv.shape[:3]
    a, b, pair, counts = _best_pair(obs, config)
    rvecs, tvecs = np.zeros((V, 3)), np.zeros((V, 3))
    rvecs[b], tvecs[b] = cv2.Rodrigues(pair.R)[0].ravel(), pair.t
    assign = np.full((V, F, P), -1)
    assign[a] = np.where(np.isnan(obs.uv[a, ..., 0]).all(-1), -1, np.arange(P))
    assign[b] = pair.assign
    placed = np.zeros(V, dtype=bool)
    placed[[a, b]] = True
    while not placed.all():
        points = triangulate(_assigned_uv(obs, assign), rvecs, tvecs, obs.f0, placed)
        k = int(np.argmax(np.where(placed, -1, counts[:, placed].sum(1))))
        pose = _place_by_pnp(points, obs.uv[k], obs.f0, config)
        if pose is None:
            raise InputError(
                f"camera {obs.cameras[k]} cannot be placed: too few of the people the other "
                "cameras see are confidently detected in it"
            )
        rvecs[k], tvecs[k] = pose
        assign[k] = _match_by_reprojection(points, obs.uv[k], *pose, obs.f0, 2 * config.ransac_px)
        placed[k] = True
        logger.debug("placed %s by PnP", obs.cameras[k])
    points = triangulate(_assigned_uv(obs, assign), rvecs, tvecs, obs.f0, placed)
    return RigEstimate(rvecs, tvecs, points, assign)


def _bone_terms(index: np.ndarray, tolerance: float | None) -> BoneTerms | None:
    """Bone instances of every person (F, P, J point ``index``, −1 where unknown), one length per
    person and bone of :data:`BONES`; None when ``tolerance`` is None."""
    if tolerance is None:
        return None
    pairs = np.array([p for pairs in BONES.values() for p in pairs])  # M×2
    kind = np.repeat(np.arange(len(BONES)), [len(p) for p in BONES.values()])  # M
    a, b = index[..., pairs[:, 0]], index[..., pairs[:, 1]]  # F×P×M each
    person = np.broadcast_to(np.arange(index.shape[1])[:, None], a.shape[1:])  # P×M
    group = np.broadcast_to(person * len(BONES) + kind, a.shape)  # F×P×M
    ok = (a >= 0) & (b >= 0)
    _, group = np.unique(group[ok], return_inverse=True)
    return BoneTerms(a[ok], b[ok], group.ravel(), tolerance)


def _adjust(
    obs: PeopleObservations, rig: RigEstimate, fixed: int, config: PeopleConfig
) -> RigEstimate:
    """One bundle adjustment of all poses and the 3D joints seen by two or more cameras."""
    uv = _assigned_uv(obs, rig.assign)  # V×F×P×J×2
    conf = np.take_along_axis(obs.confidence, np.clip(rig.assign, 0, None)[..., None], axis=2)
    points = triangulate(uv, rig.rvecs, rig.tvecs, obs.f0, np.ones(len(uv), dtype=bool))
    known = ~np.isnan(points[..., 0])  # F×P×J
    index = np.full(known.shape, -1)
    index[known] = np.arange(known.sum())
    seen = ~np.isnan(uv[..., 0]) & known  # V×F×P×J
    cam_idx = np.nonzero(seen)[0]
    if len(cam_idx) == 0:
        raise InputError("no joint is seen by two cameras; use a longer recording")
    result = bundle_adjust(rig.rvecs, rig.tvecs, points[known], cam_idx,
                           index[np.nonzero(seen)[1:]], uv[seen], conf[seen], obs.f0,
                           fixed_camera=fixed, loss=config.loss, f_scale=config.f_scale,
                           bones=_bone_terms(index, config.bone_tolerance))  # fmt: skip
    out = np.full(points.shape, np.nan)
    out[known] = result.points
    residuals = {n: result.residuals[cam_idx == v] for v, n in enumerate(obs.cameras)}
    return RigEstimate(result.rvecs, result.tvecs, out, rig.assign, residuals)


def _rounds(
    obs: PeopleObservations, rig: RigEstimate, fixed: int, config: PeopleConfig, match_first: bool
) -> RigEstimate:
    """``config.rounds`` bundle adjustments, the people matched again with the refined cameras
    before each one after the first (and before the first too when ``match_first``: the poses
    given are rough, so the gate starts wide, halving each round down to ``ransac_px``)."""
    rounds = max(config.rounds, 1)
    for round_ in range(rounds):
        if round_ > 0 or match_first:
            assign = rig.assign.copy()
            wide = 2.0 ** (rounds - 1 - round_) if match_first else 1.0
            for v in range(len(obs.cameras)):
                if v != fixed:
                    R = cv2.Rodrigues(rig.rvecs[v])[0]
                    assign[v] = _match_by_epipolar(obs.uv[fixed], obs.uv[v], R, rig.tvecs[v],
                                                   obs.f0, wide * config.ransac_px)  # fmt: skip
            rig = RigEstimate(rig.rvecs, rig.tvecs, rig.points, assign)
        rig = _adjust(obs, rig, fixed, config)
    return rig


def estimate_rig(obs: PeopleObservations, config: PeopleConfig = PeopleConfig()) -> RigEstimate:
    """Camera poses and 3D joints up to a similarity (module docstring, steps 1-4).

    Returns:
        The adjusted rig; ``residuals`` are in each camera's own pixels.

    Raises:
        InputError: too few shared joints to relate two cameras, or a camera that cannot be
            placed (named).
    """
    rig = _chain(obs, config)
    fixed = int(np.argmax(np.abs(rig.rvecs).sum(1) + np.abs(rig.tvecs).sum(1) == 0))
    return _rounds(obs, rig, fixed, config, match_first=False)


def refine_rig(
    obs: PeopleObservations,
    rvecs: np.ndarray,
    tvecs: np.ndarray,
    config: PeopleConfig = PeopleConfig(),
) -> tuple[RigEstimate, int]:
    """Camera poses and 3D joints refined from a rough rig (module docstring, "Refining a rig").

    Args:
        obs: the observations of the rig's cameras.
        rvecs, tvecs: (V, 3) world-to-camera poses of ``obs.cameras``, in any length unit.

    Returns:
        The adjusted rig, its camera ``fixed`` at the origin (rotation and position as given,
        relative to it) and the others relative to it, up to scale; and ``fixed``.

    Raises:
        UnmatchedCameras: a camera none of whose people match the fixed camera's under the given
            poses (named; they are more than a few degrees off).
        InputError: nobody matches at all.
    """
    V, F, P = obs.uv.shape[:3]
    fixed = int(np.argmax((obs.confidence > 0).sum(axis=(1, 2, 3))))
    R_f = cv2.Rodrigues(np.asarray(rvecs[fixed], dtype=np.float64))[0]
    rel_r, rel_t = np.zeros((V, 3)), np.zeros((V, 3))
    for v in range(V):
        R = cv2.Rodrigues(np.asarray(rvecs[v], dtype=np.float64))[0] @ R_f.T
        rel_r[v] = cv2.Rodrigues(R)[0].ravel()
        rel_t[v] = tvecs[v] - R @ tvecs[fixed]
    rel_t[fixed] = 0.0
    rel_r[fixed] = 0.0
    assign = np.full((V, F, P), -1)
    assign[fixed] = np.where(np.isnan(obs.uv[fixed, ..., 0]).all(-1), -1, np.arange(P))
    start = RigEstimate(rel_r, rel_t, np.full(obs.uv.shape[1:4] + (3,), np.nan), assign)
    hint = "under the given poses: they may be more than a few degrees off (calibrate from scratch)"
    try:
        rig = _rounds(obs, start, fixed, config, match_first=True)
    except InputError:  # nobody matched at all
        raise InputError(f"no camera's people match {obs.cameras[fixed]}'s people {hint}") from None
    lost = tuple(n for n in obs.cameras if n != obs.cameras[fixed] and len(rig.residuals[n]) == 0)
    if lost:
        raise UnmatchedCameras(f"camera(s) {', '.join(lost)}: no person matches "
                               f"{obs.cameras[fixed]}'s people {hint}", lost)  # fmt: skip
    return rig, fixed
