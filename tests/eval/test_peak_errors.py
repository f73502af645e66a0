"""tessetrack.eval.peak_errors: a 2D network's peaks scored in the detection simulator's terms."""

from __future__ import annotations

import numpy as np

from tessetrack.eval.peak_errors import flip_twins, image_errors
from tessetrack.skeletons import PANOPTIC19


def test_flip_twins_are_the_panoptic_flip_pairs():
    twin = flip_twins()
    for a, b in PANOPTIC19.flip_pairs:
        assert twin[a] == b and twin[b] == a
    assert (twin[twin] == np.arange(19)).all()


def test_image_errors_by_hand():
    twin = flip_twins()
    a, b = PANOPTIC19.flip_pairs[0]
    # one person, 20 px tall (joint 0 at v = 0, joint 1 at v = 20), all other joints absent
    gt = np.zeros((1, 19, 2))
    mask = np.zeros((1, 19), bool)
    gt[0, 0], gt[0, 1] = (10.0, 0.0), (10.0, 20.0)
    gt[0, a], gt[0, b] = (5.0, 10.0), (15.0, 10.0)
    mask[0, [0, 1, a, b]] = True
    peaks = np.zeros((3, 19, 3))
    peaks[0, 0] = (11.0, 0.0, 0.9)  # joint 0 found, 1 px right: error (0.05, 0) of the height
    peaks[1, 0] = (30.0, 30.0, 0.5)  # a stray peak of joint 0
    # joint 1: nothing (a miss); joint a: found exactly, plus a peak on its twin b
    peaks[0, a] = (5.0, 10.0, 0.8)
    peaks[1, a] = (15.0, 10.5, 0.6)
    # joint b: its only peak is 2.5 px off (outside radius 2: a miss) and 12.5 px from its twin a
    # (not a twin peak either: stray)
    peaks[0, b] = (17.5, 10.0, 0.7)
    e = image_errors(peaks, gt, mask, radius=2.0, twin=twin)
    assert e["found"] == 2 and e["missed"] == 2
    assert e["swapped"] == 1 and e["stray"] == 2
    np.testing.assert_allclose(sorted(e["errors"]), sorted([0.05, 0.0, 0.0, 0.0]))
