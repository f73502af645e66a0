"""tessetrack.eval.visibility: which cameras see a person, and the GT restricted to people seen."""

from __future__ import annotations

import numpy as np

from tessetrack.eval.visibility import restrict_to_views, views_seeing
from tessetrack.geometry.camera import Camera
from tessetrack.structures import FramePoses, PersonPose, Tracks


def _camera(name: str, centre_x: float) -> Camera:
    """A 100 × 100 px camera at (centre_x, 0, 0) looking along +z (f = 100 px: ±0.5 rad)."""
    K = np.array([[100.0, 0.0, 49.5], [0.0, 100.0, 49.5], [0.0, 0.0, 1.0]])
    return Camera(
        name=name, K=K, R=np.eye(3), t=np.array([-centre_x, 0.0, 0.0]), width=100, height=100
    )


def _person(x: float, z: float) -> np.ndarray:
    """Ten joints on a 0.4 m vertical segment at (x, ·, z)."""
    joints = np.zeros((10, 3))
    joints[:, 0] = x
    joints[:, 1] = np.linspace(-0.2, 0.2, 10)
    joints[:, 2] = z
    return joints


def test_views_seeing_hand_computed():
    cams = [_camera("a", 0.0), _camera("b", 3.0)]
    # 2 m in front of camera a, centred: a sees it; for b it sits 3 m to the left at 2 m depth
    # (u = 49.5 - 150 < 0): not seen
    assert views_seeing(_person(0.0, 2.0), cams) == 1
    assert views_seeing(_person(1.5, 10.0), cams) == 2  # far away: both see it
    assert views_seeing(_person(0.0, -2.0), cams) == 0  # behind both
    # 8 of 10 joints inside camera a (the last two at v = 104.5 and 119.5 > 99.5): 80 % < 90 %
    tall = _person(0.0, 1.0)
    tall[:, 1] = [-0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.55, 0.7]  # v = 49.5 + 100 y
    assert views_seeing(tall, cams[:1]) == 0
    assert views_seeing(tall, cams[:1], inside=0.8) == 1
    hidden = _person(0.0, 2.0)
    hidden[:5] = np.nan  # unknown joints are not seen
    assert views_seeing(hidden, cams[:1]) == 0


def test_restrict_to_views_keeps_people_seen_often_enough():
    cams = [_camera("a", 0.0), _camera("b", 3.0)]
    gt = Tracks(
        joint_names=tuple(f"j{i}" for i in range(10)),
        frames=(
            FramePoses(0, (PersonPose(0, _person(1.5, 10.0)), PersonPose(1, _person(0.0, 2.0)))),
            FramePoses(1, (PersonPose(1, _person(0.0, -2.0)),)),
        ),
    )
    seen, kept, total = restrict_to_views(gt, cams, 2)
    assert (kept, total) == (1, 3)
    assert [[p.id for p in f.people] for f in seen.frames] == [[0], []]
    assert [f.frame for f in seen.frames] == [0, 1]
    _, kept1, _ = restrict_to_views(gt, cams, 1)
    assert kept1 == 2
