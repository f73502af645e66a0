"""Greedy suppression by hand: the preferred of two close candidates stays, a chain is not
transitive (c close to b only stays when b went), candidates outside ``order`` stay."""

from __future__ import annotations

import numpy as np

from tessetrack.ops.suppress import greedy_keep


def test_greedy_keep_by_hand():
    close = np.zeros((4, 4), bool)
    close[0, 1] = close[1, 0] = True  # 0 and 1 are one thing
    close[1, 2] = close[2, 1] = True  # so are 1 and 2, not 0 and 2
    np.testing.assert_array_equal(greedy_keep(close, [0, 1, 2, 3]), [True, False, True, True])
    np.testing.assert_array_equal(greedy_keep(close, [1, 0, 2, 3]), [False, True, False, True])
    np.testing.assert_array_equal(greedy_keep(close, [3]), [True, True, True, True])
    assert greedy_keep(np.zeros((0, 0), bool), []).shape == (0,)
