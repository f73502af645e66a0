"""Views: a frame's cameras as batched tensors, the one place where they become tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.geometry.camera import Camera
from tessetrack.geometry.views import Views


def _camera(name: str, yaw: float, width: int = 640, height: int = 480) -> Camera:
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, -s, 0.0], [0.0, 0.0, -1.0], [s, c, 0.0]])  # looks along the floor
    K = np.array([[500.0, 0.0, 319.5], [0.0, 510.0, 239.5], [0.0, 0.0, 1.0]])
    dist = np.array([0.1, -0.05, 0.001, 0.002, 0.01])
    return Camera(name, K, R, -R @ np.array([4 * s, -4 * c, 1.5]), dist, width, height)


def _per_camera_tensors(cameras, size):
    """The cameras of one frame as tensors, one camera at a time (as tracking and training clips
    built them before :meth:`Views.from_cameras`)."""
    w, h = size
    v = len(cameras)
    K, R = np.tile(np.eye(3), (v, 1, 1)), np.tile(np.eye(3), (v, 1, 1))
    t, dist, mask = np.zeros((v, 3)), np.zeros((v, 5)), np.zeros(v, bool)
    t[:, 2] = 1.0
    for j, cam in enumerate(cameras):
        if cam is None:
            continue
        s = cam.scaled(w, h)
        K[j], R[j], t[j], dist[j], mask[j] = s.K, s.R, s.t, s.dist, True
    f32 = {"dtype": torch.float32}
    return {
        "K": torch.tensor(K, **f32),
        "R": torch.tensor(R, **f32),
        "t": torch.tensor(t, **f32),
        "dist": torch.tensor(dist, **f32),
        "image_size": torch.tensor([w, h], **f32).expand(v, 2).clone(),
        "view_mask": torch.tensor(mask),
    }


def test_from_cameras_equals_the_per_camera_tensors():
    cams = [_camera("a", 0.0), None, _camera("c", 2.0, 1920, 1080)]
    views = Views.from_cameras(cams, (256, 192))
    want = _per_camera_tensors(cams, (256, 192))
    for name, x in want.items():
        got = getattr(views, name)
        assert got.dtype == x.dtype and torch.equal(got, x), name
    assert views.view_mask.tolist() == [True, False, True]
    assert views.batch_shape == () and views.num_views == 3
    # rescaled like Camera.scaled: the same pixel centre convention, fx scaled by 256 / 640
    assert views.K[0, 0, 0].item() == pytest.approx(500.0 * 256 / 640)
    # float64 views hold the float64 rescaled cameras, exactly
    v64 = Views.from_cameras(cams, (256, 192), dtype=torch.float64)
    np.testing.assert_array_equal(v64.K[2].numpy(), cams[2].scaled(256, 192).K)
    assert torch.equal(v64.to(dtype=torch.float32).K, views.K)


def test_absent_views_get_a_finite_placeholder_camera():
    views = Views.from_cameras([None, None], (64, 48))
    assert not views.view_mask.any()
    assert torch.equal(views.K, torch.eye(3).expand(2, 3, 3))
    assert views.t[:, 2].tolist() == [1.0, 1.0]
    assert all(torch.isfinite(x).all() for x in views.tensors()[:5])


def test_indexing_stacking_and_reshaping_cover_the_leading_dimensions():
    frames = [
        Views.from_cameras([_camera("a", 0.1 * i), _camera("b", 1 + i)], (64, 48)) for i in range(3)
    ]
    window = Views.stack(frames)  # T×V
    assert window.batch_shape == (3,) and window.K.shape == (3, 2, 3, 3)
    assert torch.equal(window[1].R, frames[1].R) and torch.equal(window.frame(2).t, frames[2].t)
    batch = window[None]  # 1×T×V
    assert batch.batch_shape == (1, 3) and batch.view_mask.shape == (1, 3, 2)
    assert torch.equal(batch.frame(0).K, frames[0].K[None])
    assert torch.equal(
        batch[:, [0, 2]].flatten(0, 1).dist, torch.stack([frames[0].dist, frames[2].dist])
    )
    assert batch.flatten().batch_shape == (3,)
    assert batch.reshape(3).batch_shape == (3,) and torch.equal(batch.reshape(3).K, window.K)
    assert Views.stack([window, window], dim=1).K.shape == (3, 2, 2, 3, 3)  # leading dims only
    with pytest.raises(InputError, match="dim"):
        Views.stack(frames, dim=1)
    with pytest.raises(InputError, match="no frame dimension"):
        frames[0].frame(0)
    with pytest.raises(InputError, match="Ellipsis"):
        window[..., 0]
    with pytest.raises(InputError, match="at least one"):
        Views.stack([])


def test_to_moves_and_casts_the_floats_only():
    views = Views.from_cameras([_camera("a", 0.0)], (64, 48))
    v64 = views.to("cpu", torch.float64)
    assert v64.dtype == torch.float64 and v64.image_size.dtype == torch.float64
    assert v64.view_mask.dtype == torch.bool and v64.device == torch.device("cpu")


def test_inconsistent_shapes_are_refused():
    views = Views.from_cameras([_camera("a", 0.0), _camera("b", 1.0)], (64, 48))
    with pytest.raises(InputError, match=r"Views.t must be \(\.\.\., V, 3\)"):
        Views(views.K, views.R, views.t[:1], views.dist, views.image_size, views.view_mask)
    with pytest.raises(InputError, match=r"Views.K"):
        Views(views.K[None], *views.tensors()[1:])
