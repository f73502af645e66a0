"""Camera rigs: parametric geometry and the shipped real calibrations."""

from __future__ import annotations

import numpy as np
import pytest

from tessetrack.errors import InputError
from tessetrack.synth.rigs import make_rig, random_rig, rigs_data_dir, ring_rig


def test_ring_cameras_look_at_the_centre() -> None:
    rig = ring_rig(4, width=200, height=100, radius=5.0, camera_height=2.5, target_height=0.9)
    for cam in rig.cameras:
        # the target projects to the principal point ((W-1)/2, (H-1)/2) = (99.5, 49.5)
        np.testing.assert_allclose(cam.project(np.array([0.0, 0.0, 0.9])), [99.5, 49.5], atol=1e-9)
        # 5 m from the centre horizontally, 2.5 m high
        np.testing.assert_allclose(np.linalg.norm(cam.center[:2]), 5.0)
        np.testing.assert_allclose(cam.center[2], 2.5)
        # world up (+z) points up in the image (smaller v)
        assert cam.project(np.array([0, 0, 1.5]))[1] < cam.project(np.array([0, 0, 0.5]))[1]
    assert [c.name for c in rig.cameras] == ["00_00", "00_01", "00_02", "00_03"]
    assert len(ring_rig(1).cameras) == 1


def test_random_rig_deterministic_and_sees_the_area() -> None:
    a = random_rig(5, np.random.default_rng(0))
    b = random_rig(5, np.random.default_rng(0))
    for ca, cb in zip(a.cameras, b.cameras, strict=True):
        np.testing.assert_array_equal(ca.P, cb.P)
        assert ca.depth(np.array([0.0, 0.0, 1.0])) > 0


def test_bad_rigs() -> None:
    with pytest.raises(InputError):
        ring_rig(0)
    with pytest.raises(InputError):
        make_rig("dome")


def test_calibrations_are_shipped() -> None:
    names = sorted(p.name for p in rigs_data_dir().glob("*.json"))
    assert names == [
        "calibration_160906_band1.json",
        "calibration_campus.json",
        "calibration_shelf.json",
    ]
    assert (rigs_data_dir() / "LICENSE").is_file()


@pytest.mark.parametrize(("name", "count"), [("panoptic", 5), ("shelf", 5), ("campus", 3)])
def test_real_rigs_see_people_on_their_floor(name: str, count: int) -> None:
    pytest.importorskip("tessetrack.io.calibration")
    rig = make_rig(name, image_size=(320, 240))
    assert len(rig.cameras) == count
    # a 1.7 m person standing at the centre of the capture area, in the rig's world frame
    c = rig.area_center
    feet_hip_head = rig.floor_to_world(np.array([[c[0], c[1], z] for z in (0.0, 0.9, 1.7)]))
    for cam in rig.cameras:
        assert (cam.dist == 0).all() and (cam.width, cam.height) == (320, 240)
        uv = cam.project(feet_hip_head)
        assert (cam.depth(feet_hip_head) > 0).all()
        # Hip and head are in every image. The feet may not be: the real Panoptic HD cameras frame
        # the dome's centre so that feet at the origin fall just below the bottom edge of 00_03 and
        # 00_23 (v = 1106 and 1084 of 1080 at full resolution).
        body = uv[1:]
        assert (body >= -1).all() and (body[:, 0] < 321).all() and (body[:, 1] < 241).all()
        assert uv[2, 1] < uv[1, 1] < uv[0, 1]  # head above hip above feet in every image
    with pytest.raises(InputError):
        make_rig(name, num_cameras=count + 30)
