"""Camera rigs: parametric geometry and the shipped real calibrations."""

from __future__ import annotations

import numpy as np
import pytest

from rig_helpers import cameras_seeing
from tessetrack.errors import InputError
from tessetrack.synth.rigs import (
    VariedRigSpec,
    calibration_rig,
    look_at_camera,
    make_rig,
    random_rig,
    rigs_data_dir,
    ring_rig,
    two_view_rig,
    varied_rig,
)


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


def test_varied_rigs_span_their_spec_and_see_the_area() -> None:
    spec = VariedRigSpec()
    rigs = [varied_rig(np.random.default_rng(s)) for s in range(40)]
    counts = {len(r.cameras) for r in rigs}
    assert min(counts) >= spec.cameras[0] and max(counts) <= spec.cameras[1] and len(counts) >= 6
    cams = [c for r in rigs for c in r.cameras]
    heights = np.array([c.center[2] for c in cams])
    assert heights.min() >= spec.heights[0] and heights.max() <= spec.heights[1]
    assert any(c.height > c.width for c in cams) and any(c.width > c.height for c in cams)
    assert {min(c.width, c.height) for c in cams} <= set(spec.short_sides)
    assert any(c.dist[0] != 0 for c in cams)
    for rig in rigs:
        side = 2 * rig.area_half_size
        assert (side >= spec.area_sizes[0]).all() and (side <= spec.area_sizes[1]).all()
        for cam in rig.cameras:
            # outside the area, and the point it aims at is in front of it and in its image
            xy = np.abs(cam.center[:2])
            assert (xy > rig.area_half_size).any()
            inside = 0
            for x in np.linspace(-1, 1, 5):
                for y in np.linspace(-1, 1, 5):
                    p = np.array([x * rig.area_half_size[0], y * rig.area_half_size[1], 0.9])
                    uv = cam.project(p)
                    inside += (
                        cam.depth(p) > 0 and 0 <= uv[0] < cam.width and 0 <= uv[1] < cam.height
                    )
            assert inside >= 1
            # the distortion stays monotonic out to the image corners
            r2 = ((cam.width / 2) ** 2 + (cam.height / 2) ** 2) / cam.K[0, 0] ** 2
            assert 1 + 3 * cam.dist[0] * r2 > 0
    a, b = varied_rig(np.random.default_rng(3)), varied_rig(np.random.default_rng(3))
    assert all(np.array_equal(x.P, y.P) for x, y in zip(a.cameras, b.cameras, strict=True))
    assert len(varied_rig(np.random.default_rng(0), num_cameras=2).cameras) == 2


def test_a_calibration_file_is_a_rig_in_its_own_world() -> None:
    from tessetrack.io.calibration import load_cameras

    path = rigs_data_dir() / "calibration_shelf.json"
    cams = load_cameras(path)
    rig = make_rig(str(path))
    assert [c.name for c in rig.cameras] == sorted(cams)
    for cam in rig.cameras:
        np.testing.assert_allclose(cam.P, cams[cam.name].P)
    # Shelf is z up with the floor at z = 0: the floor frame is the world turned about z and
    # shifted over the area
    np.testing.assert_allclose(rig.R_world_from_floor[:, 2], [0, 0, 1], atol=1e-9)
    assert abs(rig.t_world_from_floor[2]) < 1e-9
    # people walk where two cameras see them whole: every corner of the area, at ankle, hip
    # and head height, is in two or more images
    for sx in (-1, 1):
        for sy in (-1, 1):
            corner = rig.area_center + np.array([sx, sy]) * rig.area_half_size
            column = rig.floor_to_world(np.array([[*corner, z] for z in (0.1, 0.9, 1.7)]))
            assert cameras_seeing(rig.cameras, column) >= 2
    assert (rig.area_half_size >= 0.5).all()
    small = calibration_rig(path, num_cameras=2, image_size=(320, 240), distortion=False)
    assert [(c.width, c.height) for c in small.cameras] == [(320, 240)] * 2


def test_a_rig_without_shared_floor_keeps_its_area(tmp_path, caplog) -> None:
    from tessetrack.io.calibration import save_cameras

    eye = np.array([0.0, -1.0, 2.0])  # two cameras back to back: no floor both see
    apart = [look_at_camera("a", eye, eye + [0.0, -5.0, -1.0], width=640, height=480),
             look_at_camera("b", -eye * [1, 1, -1], -eye * [1, 1, -1] + [0.0, 5.0, -1.0],
                            width=640, height=480)]  # fmt: skip
    path = save_cameras(apart, tmp_path / "apart.json")
    with caplog.at_level("WARNING", logger="tessetrack.synth.rigs"):
        rig = calibration_rig(path)
    assert "seen whole by two cameras" in caplog.text and str(path) in caplog.text
    assert (rig.area_half_size >= 1.0).all()  # the capture area less its margin, 2 m × 2 m at least
    caplog.clear()
    with caplog.at_level("WARNING", logger="tessetrack.synth.rigs"):
        assert two_view_rig(rig) is rig
    assert "people walk in its own area" in caplog.text


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
