"""Hungarian assignment under a gate: which pairs may be kept is the caller's rule, how refused
pairs weigh in the assignment is this module's.

Applying a gate after the assignment is not enough: a pair the gate refuses still takes part with
its own cost, and it can push an accepted pair aside (then be dropped itself, leaving both
unpaired). Here a refused pair costs the gate, as staying unpaired does, so the assignment keeps
the accepted pairs of least total cost: it maximises their summed slack under the gate. Written
with SciPy's ``linear_sum_assignment``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["gated_assignment"]


def gated_assignment(
    cost: np.ndarray, ok: np.ndarray, gate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows and columns, only among those ``ok`` allows.

    Args:
        cost: (N, M) the pairs' costs (any value, NaN included, where ``ok`` is False).
        ok: (N, M) bool, the pairs the gate accepts (their costs finite and at most ``gate``).
        gate: what a refused pair costs (a large finite stand-in where it is infinite).

    Returns:
        (rows, cols) of the accepted pairs of the assignment, each (K,).
    """
    ok = np.asarray(ok, dtype=bool)
    fill = min(float(gate), 1e6)
    rows, cols = linear_sum_assignment(np.where(ok, cost, fill))
    keep = ok[rows, cols]
    return rows[keep], cols[keep]
