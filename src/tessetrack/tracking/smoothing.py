"""Temporal smoothing of tracked joints: the One-Euro filter, online and per track.

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) is an exponential smoother whose cut-off
frequency rises with the signal's speed: still joints are smoothed hard (jitter goes), moving ones
lightly (little lag). It runs causally, frame by frame, like the tracker, so smoothed tracks can be
written as they come. Each track keeps its own state per joint; a track unseen for more than
``reset_after`` frames starts afresh, and unknown joints (NaN) pass through without touching the
state. Written by hand: it is a dozen lines of arithmetic, batched over joints with numpy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from tessetrack.errors import InputError
from tessetrack.structures import FramePoses, Tracks

__all__ = ["OneEuroConfig", "SMOOTH_MODES", "smooth_tracks"]

#: Values of ``--smooth``.
SMOOTH_MODES = ("none", "one-euro")


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
