"""Greedy suppression: of several things that are one thing found twice, the preferred one kept.

Walking the candidates in order of preference, each is kept unless it is close to one already
kept. Used for people a detector or a tracker found twice (2D and 3D); what "close" means is
the caller's. Written by hand: a few lines over a boolean matrix, the same loop as NMS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["greedy_keep"]


def greedy_keep(close: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """(N,) bool: which candidates to keep.

    Args:
        close: (N, N) bool, ``close[i, k]`` when candidates i and k are one thing (need not be
            symmetric: read as "i is close to the kept k").
        order: the candidates' indices, most preferred first (each once; the others are kept).
    """
    close = np.asarray(close, dtype=bool)
    keep = np.ones(close.shape[0], dtype=bool)
    kept: list[int] = []
    for i in order:
        if close[i, kept].any():
            keep[i] = False
        else:
            kept.append(i)
    return keep
