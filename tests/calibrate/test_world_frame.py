from __future__ import annotations

import numpy as np
import pytest

from tessetrack.calibrate.world_frame import CHAIN_FRACTION_OF_HEIGHT, metric_scale, world_frame
from tessetrack.errors import InputError


def _standing_person(height: float, x: float, y: float) -> np.ndarray:
    """(25, 3) BODY25 joints of someone standing upright at (x, y) on the floor z = 0, with the
    proportions of the module docstring: ankle 0.039 H, knee 0.285 H, hip 0.530 H, shoulders and
    neck 0.818 H, eyes 0.936 H; heels and toes at 0.01 m."""
    p = np.full((25, 3), np.nan)
    z = {1: 0.818, 8: 0.530, 9: 0.530, 12: 0.530, 10: 0.285, 13: 0.285, 11: 0.039, 14: 0.039,
         15: 0.936, 16: 0.936, 0: 0.92}  # fmt: skip
    side = {9: -1, 10: -1, 11: -1, 15: -1, 12: 1, 13: 1, 14: 1, 16: 1}
    for j, f in z.items():
        p[j] = [x + 0.1 * side.get(j, 0), y, f * height]
    for j in range(19, 25):
        p[j] = [x + (0.1 if j < 22 else -0.1), y + 0.05, 0.01]
    return p


def test_scale_up_and_floor_from_standing_people():
    """People of 1.8 m standing at 4 places, in a rig frame that is the world scaled by 1/2,
    rotated (z -> -y) and shifted: the world frame maps them back to metres, z up, feet at 0."""
    world = np.stack([_standing_person(1.8, x, y) for x, y in [(0, 0), (1, 0), (0, 1), (1, 1)]])
    Q = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # rig = Q · world / 2 + (3, 1, 2)
    rig = world @ Q.T / 2 + np.array([3.0, 1.0, 2.0])
    camera_axis = Q @ np.array([1.0, 0.0, -0.3])
    frame = world_frame(rig[None], camera_axis, person_height=1.8)
    # chain = shank 0.246 + thigh 0.245 + hip-neck 0.288 + neck-eyes 0.118 = 0.897 H, halved
    assert abs(frame.chain - CHAIN_FRACTION_OF_HEIGHT * 1.8 / 2) < 1e-9
    assert abs(frame.scale - 2.0) < 1e-9
    back = frame.apply(rig)
    np.testing.assert_allclose(np.nanmin(back[..., 2]), 0.0, atol=1e-9)  # toes: the floor
    np.testing.assert_allclose(back[:, 15, 2], 0.936 * 1.8 - 0.01, atol=1e-9)  # eyes, z up


def test_every_person_counts_once_however_long_they_are_seen():
    """A 1.8 m person seen in 90 frames (and detected twice in 5 of them), a 1.5 m person seen in
    30 frames in two tracks (lost and found again), a passer-by seen in 2 frames: the scale is
    set by the mean of the two people's chains, as if each were seen equally long."""
    from tessetrack.calibrate.world_frame import people_chains

    F = 100
    tracks = np.full((F, 5, 25, 3), np.nan)
    tracks[:90, 0] = _standing_person(1.8, 0.0, 0.0)
    tracks[10:15, 1] = _standing_person(1.8, 0.01, 0.0)  # the same person, a second detection
    tracks[:15, 2] = _standing_person(1.5, 2.0, 0.0)
    tracks[50:65, 3] = _standing_person(1.5, 2.0, 0.5)  # found again later
    tracks[70:72, 4] = _standing_person(1.2, -2.0, 0.0)  # a passer-by
    chains = sorted(people_chains(tracks))
    np.testing.assert_allclose(
        chains, [CHAIN_FRACTION_OF_HEIGHT * 1.5, CHAIN_FRACTION_OF_HEIGHT * 1.8]
    )
    frame = world_frame(tracks, np.array([1.0, 0.0, 0.0]), person_height=1.65)
    assert abs(frame.scale - 1.0) < 1e-9
    np.testing.assert_allclose(sorted(frame.heights), [1.5, 1.8])


def test_one_height_per_person_matched_tallest_to_tallest():
    """Chains of people 1.8 m and 1.5 m tall, in a rig at half scale: heights given in any order
    give the scale 2 exactly; heights that disagree give the least-squares fit (hand-computed);
    a wrong count or an implausible height (negative, infinite, centimetres) is refused."""
    chains = [CHAIN_FRACTION_OF_HEIGHT * 0.75, CHAIN_FRACTION_OF_HEIGHT * 0.9]  # 1.5, 1.8 m / 2
    assert metric_scale(chains, (1.5, 1.8)) == pytest.approx(2.0)
    assert metric_scale(chains, [1.8, 1.5]) == pytest.approx(2.0)
    assert metric_scale(chains, 1.65) == pytest.approx(2.0)  # their mean
    # statures 0.9 and 0.75 against 1.9 and 1.5: (1.9·0.9 + 1.5·0.75) / (0.81 + 0.5625)
    assert metric_scale(chains, (1.5, 1.9)) == pytest.approx(2.835 / 1.3725)
    with pytest.raises(InputError, match="2 people set the scale but 3 heights"):
        metric_scale(chains, (1.5, 1.8, 1.7))
    for bad, words in (((1.5, -1.8), "between 0.5 and 2.5 m, got 1.5, -1.8"),
                       ((np.inf,), "got inf"), ((170.0,), "centimetres")):  # fmt: skip
        with pytest.raises(InputError, match=words):
            metric_scale(chains, bad)
    tracks = np.full((10, 2, 25, 3), np.nan)
    tracks[:, 0] = _standing_person(0.9, 0.0, 0.0)
    tracks[:, 1] = _standing_person(0.75, 1.0, 0.0)
    frame = world_frame(tracks, np.array([1.0, 0.0, 0.0]), person_height=(1.8, 1.5))
    np.testing.assert_allclose(sorted(frame.heights), [1.5, 1.8])
