from __future__ import annotations

import numpy as np

from tessetrack.calibrate.people import BONES, _bone_terms


def test_bone_terms_by_hand():
    """2 frames, 2 people, BODY25 point indices: every bone with both joints known becomes an
    instance; one length per person and bone (left and right share it), none without tolerance."""
    index = np.full((2, 2, 25), -1)
    index[0, 0, [9, 10, 12, 13]] = [0, 1, 2, 3]  # frame 0, person 0: both thighs, hip width
    index[1, 0, [9, 10]] = [4, 5]  # frame 1, person 0: the right thigh
    index[1, 1, [2, 5]] = [6, 7]  # frame 1, person 1: the shoulders
    terms = _bone_terms(index, 0.05)
    pairs = sorted(zip(terms.a.tolist(), terms.b.tolist(), terms.group.tolist(), strict=True))
    group = {(a, b): g for a, b, g in pairs}
    thigh, hips, shoulders = group[0, 1], group[0, 2], group[6, 7]
    assert pairs == sorted([(0, 1, thigh), (0, 2, hips), (2, 3, thigh), (4, 5, thigh),
                            (6, 7, shoulders)])  # fmt: skip
    assert len({thigh, hips, shoulders}) == 3 == terms.groups and terms.tolerance == 0.05
    assert _bone_terms(index, None) is None
    assert set(BONES) >= {"upper arm", "forearm", "thigh", "shin", "shoulder width", "hip width"}
