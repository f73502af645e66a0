"""Temporal smoothing of tracked joints, per track: the One-Euro filter (online) and a local
quadratic fit over a window on both sides of each frame (LOESS; offline).

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is an exponential smoother whose cut-off
frequency rises with the signal's speed: still joints are smoothed hard (jitter goes), moving ones
lightly (little lag). It runs causally, frame by frame, like the tracker, so smoothed tracks can be
written as they come. Each track keeps its own state per joint; a track unseen for more than
``reset_after`` frames starts afresh, and unknown joints (NaN) pass through without touching the
state. Written by hand: it is a dozen lines of arithmetic, batched over joints with numpy.

LOESS (Cleveland 1979) fits, around every frame, a quadratic in time to the joint's positions in
the frames within ``span`` seconds on both sides, weighted by how near in time they are (tricube)
and by the joint's score there (a joint the views triangulated counts more than one placed from a
single view or kept from the network), then reweights the samples by their residuals (bisquare)
so that one wrong frame does not pull its neighbours. A quadratic follows a walking or swinging
joint without lag; only the frame-to-frame scatter goes. A track whose body moves faster than
``max_speed`` between two frames has jumped to somebody else: no window reaches across the jump.
It needs the frames after the current one, so it runs on whole tracks. Written by hand with numpy:
SciPy's Savitzky-Golay filter has no weights, gaps or cuts, and statsmodels' lowess neither
weights its samples nor is batched over joints.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np

from tessetrack.errors import InputError
from tessetrack.structures import FramePoses, PersonPose, Tracks

__all__ = ["LoessConfig", "OneEuroConfig", "SMOOTH_MODES", "check_smooth_mode", "loess_fit",
           "loess_tracks", "smooth", "smooth_tracks"]  # fmt: skip

#: Values of ``--smooth``.
SMOOTH_MODES = ("none", "one-euro", "loess")


@dataclass(frozen=True)
class OneEuroConfig:
    """Settings of the One-Euro filter.

    Attributes:
        min_cutoff: cut-off frequency of a still joint, Hz (lower: smoother, more lag).
        beta: how fast the cut-off rises with speed, Hz per (m/s).
        d_cutoff: cut-off frequency of the speed estimate, Hz.
        reset_after: a track unseen for more frames than this restarts its filter.
    """

    min_cutoff: float = 1.0
    beta: float = 3.0
    d_cutoff: float = 1.0
    reset_after: int = 5

    def __post_init__(self) -> None:
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0 or self.reset_after < 0:
            raise InputError("one-euro: cut-offs must be > 0, beta and reset_after >= 0")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, float))
    return 1.0 / (1.0 + tau / dt)


def smooth_tracks(tracks: Tracks, config: OneEuroConfig | None = None) -> Tracks:
    """``tracks`` with every track's joints One-Euro filtered in frame order (scores unchanged).

    Args:
        tracks: frames sorted by frame index; ``fps`` sets the time step (30 when unknown).
        config: filter settings.
    """
    config = config or OneEuroConfig()
    fps = tracks.fps or 30.0
    state: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}  # id → (frame, x̂ (J,3), dx̂ (J,3))
    out = []
    for fp in tracks.frames:
        people = []
        for p in fp.people:
            x = np.asarray(p.joints, float)
            prev = state.get(p.id)
            if prev is None or fp.frame - prev[0] > config.reset_after + 1:
                state[p.id] = (fp.frame, x.copy(), np.zeros_like(x))
                people.append(p)
                continue
            last, xh, dxh = prev
            dt = (fp.frame - last) / fps
            ok = np.isfinite(x).all(-1) & np.isfinite(xh).all(-1)  # J
            dx = np.where(ok[:, None], (x - xh) / dt, 0.0)
            a_d = _alpha(config.d_cutoff, dt)
            dxh = np.where(ok[:, None], a_d * dx + (1 - a_d) * dxh, dxh)
            speed = np.linalg.norm(dxh, axis=-1, keepdims=True)  # J×1, m/s
            a = _alpha(config.min_cutoff + config.beta * speed, dt)
            new = np.where(ok[:, None], a * x + (1 - a) * xh, x)  # unknown joints pass through
            keep = np.where(np.isfinite(new).all(-1)[:, None], new, xh)
            state[p.id] = (fp.frame, keep, dxh)
            people.append(dataclasses.replace(p, joints=new))
        out.append(FramePoses(fp.frame, tuple(people)))
    return dataclasses.replace(tracks, frames=tuple(out))


@dataclass(frozen=True)
class LoessConfig:
    """Settings of the local quadratic fit (:func:`loess_fit`).

    Attributes:
        span: half-width of the window, seconds (the tricube weight falls to 0 there); at
            least ``degree`` + 1.5 of the track's frame steps (:func:`loess_fit`).
        degree: the local polynomial's degree (0, 1 or 2).
        max_speed: m/s; a track whose joints move faster than this from one frame to the next
            (the median over them of each one's speed since it was last known) has jumped to
            another person, and is cut there.
        min_weight: the least weight of a sample (a joint's score weighs its sample; one scored
            0 still counts this much).
        robust: rounds of bisquare reweighting by the residuals (0: none): a sample further
            from the fit than 6 × the track's median residual, and than ``outlier`` metres, gets
            no weight (a wrong frame, not jitter).
        outlier: metres; see ``robust``.
    """

    span: float = 0.2
    degree: int = 2
    max_speed: float = 10.0
    min_weight: float = 0.05
    robust: int = 2
    outlier: float = 0.3

    def __post_init__(self) -> None:
        if not (self.span > 0 and self.max_speed > 0 and 0 < self.min_weight <= 1):
            raise InputError("loess: span, max_speed must be > 0 and min_weight in (0, 1]")
        if self.outlier < 0:
            raise InputError("loess: outlier must be >= 0")
        if self.degree not in (0, 1, 2) or self.robust < 0:
            raise InputError("loess: degree must be 0, 1 or 2 and robust >= 0")


def _cuts(frames: np.ndarray, joints: np.ndarray, fps: float, max_speed: float) -> np.ndarray:
    """(F,) segment label of each of a track's frames (frames (F,), joints (F, J, 3), NaN where
    unknown): a new segment where the body moved faster than ``max_speed`` (m/s) since the frame
    before — the median over the frame's known joints of each one's speed since that joint was
    last known (a change in which joints are known is no jump; a jump behind a frame that knows
    no joint is still one)."""
    known = np.isfinite(joints).all(-1)  # F×J
    at = np.where(known, np.arange(len(frames))[:, None], -1)
    last = np.maximum.accumulate(at, axis=0)  # the latest frame at or before each that knows it
    prev = np.vstack([np.full((1, known.shape[1]), -1), last[:-1]])  # strictly before
    ok = known & (prev >= 0)
    src = np.maximum(prev, 0)
    step = np.linalg.norm(joints - np.take_along_axis(joints, src[..., None], 0), axis=-1)
    dt = (frames[:, None] - frames[src]) / fps  # F×J seconds
    speed = np.where(ok, step / np.where(ok, dt, 1.0), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames with no speed: no cut
        jump = np.nanmedian(speed, axis=1) > max_speed  # F (NaN > x is False)
    return np.cumsum(jump)


def _fit_window(
    frames: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    seg: np.ndarray,
    reach: float,
    degree: int,
    chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted local polynomial fit at every frame of a track.

    Args:
        frames: (F,) distinct increasing frame indices; x: (F, J, 3) positions (0 where unknown);
        w: (F, J) sample weights (0: no sample); seg: (F,) segment of each frame (no window
        reaches across segments); reach: the window's half-width, frames; degree: of the
        polynomial; chunk: frames fitted at once (bounds the memory).

    Returns:
        (F, J, 3) the fitted positions and (F, J) the summed weights behind them.
    """
    f, j = w.shape
    d = degree + 1
    r = int(np.ceil(reach)) - 1  # frames nearer than ``reach``: at most r samples a side
    ridge = np.zeros((d, d))
    ridge[np.arange(1, d), np.arange(1, d)] = 1e-6  # slope and curve where samples cannot tell
    fit, total = np.zeros((f, j, 3)), np.zeros((f, j))
    for lo in range(0, f, chunk):
        i = np.arange(lo, min(f, lo + chunk))  # C
        m = np.zeros((len(i), j, d, d))
        b = np.zeros((len(i), j, d, 3))
        for o in range(-r, r + 1):
            src = i + o
            valid = (src >= 0) & (src < f)
            src = np.clip(src, 0, f - 1)
            u = (frames[src] - frames[i]) / reach  # C
            kern = np.where(valid & (np.abs(u) < 1) & (seg[src] == seg[i]),
                            (1 - np.abs(u) ** 3) ** 3, 0.0)  # fmt: skip
            kw = kern[:, None] * w[src]  # C×J
            a = u[:, None] ** np.arange(d)  # C×D
            m += kw[..., None, None] * (a[:, :, None] * a[:, None, :])[:, None]
            b += kw[..., None, None] * a[:, None, :, None] * x[src][:, :, None, :]
        s0 = m[..., 0, 0]  # C×J
        m = m + (s0 + 1e-12)[..., None, None] * ridge + 1e-12 * np.eye(d)
        fit[i] = np.linalg.solve(m, b)[..., 0, :]
        total[i] = s0
    return fit, total


def loess_fit(
    frames: np.ndarray,
    joints: np.ndarray,
    scores: np.ndarray,
    fps: float,
    config: LoessConfig | None = None,
) -> np.ndarray:
    """One track's joints fitted locally over time (see the module docstring).

    The window spans ``config.span`` seconds each side, and at least ``degree`` + 1.5 of the
    track's median frame steps (``--stride`` or a low frame rate: a quadratic's window then still
    holds 7 samples).

    Args:
        frames: (F,) the track's frame indices, distinct and increasing; fps: frames per second.
        joints: (F, J, 3) metres, NaN where unknown; scores: (F, J) in [0, 1] (NaN: 0).
        config: settings.

    Returns:
        (F, J, 3) the fitted joints; unknown joints stay NaN, and a track of one frame is
        returned as it is.

    Raises:
        InputError: frames not increasing, or fps not above 0.
    """
    config = config or LoessConfig()
    frames = np.asarray(frames, dtype=np.int64)
    joints = np.asarray(joints, dtype=float)
    if not fps > 0:
        raise InputError(f"loess: fps must be > 0, got {fps}")
    if np.any(np.diff(frames) <= 0):
        raise InputError("loess: a track's frames must be distinct and increasing")
    if len(frames) < 2:
        return joints.copy()
    known = np.isfinite(joints).all(-1)  # F×J
    x = np.where(known[..., None], joints, 0.0)
    base = np.where(known, np.clip(np.nan_to_num(np.asarray(scores, float)),
                                   config.min_weight, None), 0.0)  # fmt: skip
    seg = _cuts(frames, joints, fps, config.max_speed)
    reach = max(config.span * fps, (config.degree + 1.5) * float(np.median(np.diff(frames))))
    weights = base
    for round_ in range(config.robust + 1):
        fit, total = _fit_window(frames, x, weights, seg, reach, config.degree)
        if round_ == config.robust:
            break
        res = np.linalg.norm(joints - fit, axis=-1)  # F×J, NaN where unknown
        scale = float(np.median(res[known])) if known.any() else 0.0
        cut = max(6 * scale, config.outlier)
        if not cut > 0:
            break
        weights = base * np.clip(1 - (np.nan_to_num(res) / cut) ** 2, 0, None) ** 2
    return np.where((known & (total > 0))[..., None], fit, joints)


def loess_tracks(tracks: Tracks, config: LoessConfig | None = None) -> Tracks:
    """``tracks`` with every track's joints fitted locally over time (:func:`loess_fit`;
    scores unchanged). ``fps`` sets the window in frames (30 when unknown)."""
    fps = tracks.fps or 30.0
    by: dict[int, list[tuple[int, PersonPose]]] = {}
    for fp in tracks.frames:
        for p in fp.people:
            by.setdefault(p.id, []).append((fp.frame, p))
    fitted: dict[tuple[int, int], np.ndarray] = {}
    for tid, items in by.items():
        items.sort(key=lambda it: it[0])
        frames = np.array([f for f, _ in items])
        joints = np.stack([np.asarray(p.joints, float) for _, p in items])
        scores = np.stack([np.ones(len(p.joints)) if p.scores is None else
                           np.asarray(p.scores, float) for _, p in items])  # fmt: skip
        for (f, _), j in zip(items, loess_fit(frames, joints, scores, fps, config), strict=True):
            fitted[(f, tid)] = j
    out = tuple(
        FramePoses(
            fp.frame,
            tuple(dataclasses.replace(p, joints=fitted[(fp.frame, p.id)]) for p in fp.people),
        )  # fmt: skip
        for fp in tracks.frames
    )
    return dataclasses.replace(tracks, frames=out)


def check_smooth_mode(mode: str) -> None:
    """Refuse a ``mode`` that is not one of :data:`SMOOTH_MODES`."""
    if mode not in SMOOTH_MODES:
        raise InputError(f"unknown smoothing {mode!r}; use {' or '.join(SMOOTH_MODES)}")


def smooth(tracks: Tracks, mode: str) -> Tracks:
    """``tracks`` smoothed the way ``mode`` (one of :data:`SMOOTH_MODES`) says."""
    check_smooth_mode(mode)
    if mode == "one-euro":
        return smooth_tracks(tracks)
    if mode == "loess":
        return loess_tracks(tracks)
    return tracks
