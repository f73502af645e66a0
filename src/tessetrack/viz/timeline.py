"""Track timelines: one row per track ID, a bar over every run of frames where the track is seen.

Useful to see at a glance births, deaths, fragmentations and ID switches of a tracking run.
Drawn with matplotlib's object API (no pyplot, no global backend state).
"""

from __future__ import annotations

from os import PathLike

import numpy as np
from matplotlib.figure import Figure

from tessetrack.io.atomic import atomic_path
from tessetrack.structures import Tracks
from tessetrack.viz.overlay import id_color

__all__ = ["track_presence", "presence_runs", "plot_timeline"]


def track_presence(tracks: Tracks) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Which track is present at which frame.

    Returns:
        frames: (F,) the tracks' frame indices, in order.
        ids: the track IDs, ascending.
        present: (len(ids), F) bool.
    """
    frames = np.array([f.frame for f in tracks.frames], dtype=np.int64)
    ids = sorted({p.id for f in tracks.frames for p in f.people})
    row = {tid: i for i, tid in enumerate(ids)}
    present = np.zeros((len(ids), len(frames)), bool)
    for t, f in enumerate(tracks.frames):
        for p in f.people:
            present[row[p.id], t] = True
    return frames, ids, present


def presence_runs(frames: np.ndarray, present: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive present entries of one track as (first_frame, last_frame) inclusive.

    Args:
        frames: (F,) frame indices.
        present: (F,) bool.
    """
    runs = []
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))  # F+1
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        runs.append((int(frames[a]), int(frames[b - 1])))
    return runs


def plot_timeline(
    tracks: Tracks,
    path: str | PathLike[str] | None = None,
    *,
    title: str | None = "track timeline",
    width: float = 8.0,
) -> Figure:
    """Bars where each track is present (x: frame, one row per ID, colours as in the overlays).

    A run covering frames a..b is drawn from a - 0.5 to b + 0.5, so one-frame runs stay visible.

    Args:
        tracks: the tracks to summarise.
        path: write the figure there (PNG) when given.
        title: figure title.
        width: figure width in inches (height grows with the number of IDs).

    Returns:
        The figure.
    """
    frames, ids, present = track_presence(tracks)
    fig = Figure(figsize=(width, 1.2 + 0.35 * max(len(ids), 1)))
    ax = fig.add_subplot()
    for row, tid in enumerate(ids):
        runs = presence_runs(frames, present[row])
        color = np.array(id_color(tid)) / 255
        ax.broken_barh([(a - 0.5, b - a + 1) for a, b in runs], (row - 0.4, 0.8), facecolors=color)
    ax.set_yticks(range(len(ids)), [str(i) for i in ids])
    ax.set_ylim(-0.6, max(len(ids), 1) - 0.4)
    if len(frames):
        ax.set_xlim(frames.min() - 0.5, frames.max() + 0.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("track ID")
    if not ids:
        ax.text(0.5, 0.5, "no tracks", transform=ax.transAxes, ha="center", va="center")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100)
    return fig
