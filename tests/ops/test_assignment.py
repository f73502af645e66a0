"""Hungarian assignment under a gate, against hand-made cases."""

from __future__ import annotations

import numpy as np

from tessetrack.ops.assignment import gated_assignment


def test_a_refused_pair_cannot_push_an_accepted_one_aside():
    # gate 0.5: only (0, 0) passes. At their own costs the refused pairs (0, 1) + (1, 0) would
    # win (0.6 + 0.55 < 0.45 + 1.6) and nothing would be kept.
    cost = np.array([[0.45, 0.6], [0.55, 1.6]])
    rows, cols = gated_assignment(cost, cost <= 0.5, 0.5)
    assert rows.tolist() == [0] and cols.tolist() == [0]


def test_the_accepted_pairs_of_least_total_cost_are_kept():
    cost = np.array([[0.1, 0.2], [0.15, 0.45]])
    rows, cols = gated_assignment(cost, cost <= 0.5, 0.5)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]  # 0.35 < 0.55


def test_nan_and_an_infinite_gate_and_empty_inputs():
    cost = np.array([[np.nan, 3.0], [1.0, np.nan]])
    rows, cols = gated_assignment(cost, np.isfinite(cost), float("inf"))
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    nothing = np.zeros((2, 2), dtype=bool)
    assert gated_assignment(cost, nothing, 0.5)[0].size == 0
    empty = gated_assignment(np.zeros((0, 3)), np.zeros((0, 3), dtype=bool), 0.5)
    assert empty[0].size == 0 and empty[1].size == 0
