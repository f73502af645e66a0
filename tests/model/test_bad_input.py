"""Bad input to the network is handled or refused with a clear TesseTrackError, never a crash deep
inside a conv: inconsistent camera/image counts, more GT people than ``max_people``, people at the
edge of (or outside) the volume, NaN images. The empty scene is covered in test_tessetrack_model.py."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_tessetrack_model import make_clip, tiny_config

from tessetrack.errors import InputError, TesseTrackError
from tessetrack.losses import ClipTargets, total_loss
from tessetrack.model.tessetrack import ClipBatch, TesseTrack, build_model


@pytest.fixture(scope="module")
def model() -> TesseTrack:
    torch.manual_seed(0)
    return build_model(tiny_config("FTDL"))


def _replace(batch: ClipBatch, **fields) -> ClipBatch:
    return dataclasses.replace(batch, **fields)


def test_error_type_is_a_tesseract_error():
    assert issubclass(InputError, TesseTrackError)


@pytest.mark.parametrize("field", ["K", "R", "t", "dist", "image_size"])
def test_fewer_cameras_than_images_is_refused(model, field):
    batch, _ = make_clip(tiny_config(), b=1, v=3)
    short = getattr(batch, field)[:, :, :2]  # calibration of 2 cameras, images of 3
    with pytest.raises(InputError, match=rf"ClipBatch\.{field} must be .*as many cameras as views"):
        model(_replace(batch, **{field: short}))


def test_more_images_than_cameras_is_refused(model):
    batch, _ = make_clip(tiny_config(), b=1, v=3)
    extra = torch.cat([batch.images, batch.images[:, :, :1]], dim=2)  # 4 views of images, 3 cameras
    with pytest.raises(InputError, match=r"ClipBatch\.images must be \(B, F, V, 3, H, W\)"):
        model(_replace(batch, images=extra))
    gray = batch.images[:, :, :, :1]  # one channel instead of RGB
    with pytest.raises(InputError, match="images must be"):
        model(_replace(batch, images=gray))


def test_inconsistent_gt_is_refused(model):
    batch, _ = make_clip(tiny_config(), b=2, p=2)
    with pytest.raises(InputError, match=r"gt_mask must be \(B, 2, P\) = \(2, 2, 2\)"):
        model(_replace(batch, gt_mask=batch.gt_mask[:, :, :1]))
    with pytest.raises(InputError, match=r"gt_centres must be \(B, 2, P, 3\) with B = 2"):
        model(_replace(batch, gt_centres=batch.gt_centres[:1]))
    nan = batch.gt_centres.clone()
    nan[1, 0, 1, 2] = float("nan")
    with pytest.raises(InputError, match="person 1 at anchor 0 of batch 1"):
        model(_replace(batch, gt_centres=nan))
    # a NaN centre of an ABSENT person (mask False) is harmless: its slot is ignored
    mask = batch.gt_mask.clone()
    mask[1, 0, 1] = False
    out = model(_replace(batch, gt_centres=nan, gt_mask=mask))
    assert torch.isfinite(out.joints).all()


def test_nan_image_is_refused_naming_batch_frame_view(model):
    batch, _ = make_clip(tiny_config(), b=2, v=3)
    images = batch.images.clone()
    images[1, 2, 0, 1, 5, 7] = float("nan")  # one pixel of batch 1, frame 2, view 0
    images[1, 3, 2] = float("inf")
    with pytest.raises(
        InputError, match=r"images has NaN or inf values at batch 1, frame 2, view 0 \(2 "
    ):
        model(_replace(batch, images=images))


def test_nan_camera_is_refused_only_for_present_views(model):
    batch, _ = make_clip(tiny_config(), b=1, v=3)
    K = batch.K.clone()
    K[0, 1, 2, 0, 0] = float("nan")
    with pytest.raises(
        InputError, match=r"ClipBatch\.K has NaN or inf values at batch 0, frame 1, view 2"
    ):
        model(_replace(batch, K=K))
    mask = batch.view_mask.clone()
    mask[0, 1, 2] = False  # that camera is absent at that frame: its calibration is not used
    out = model(_replace(batch, K=K, view_mask=mask))
    assert torch.isfinite(out.joints).all()


def test_more_gt_people_than_max_people(model):
    # teacher forcing builds one tesseract per GT person, whatever the NMS top-K (max_people) is
    cfg = tiny_config(**{"model.detector.max_people": 2})
    torch.manual_seed(0)
    small_k = build_model(cfg)
    batch, _ = make_clip(cfg, b=1, p=2)
    g = torch.Generator().manual_seed(1)
    p = 5  # > max_people = 2
    centres = torch.rand(1, 2, p, 3, generator=g) * torch.tensor([4.0, 4.0, 0.5]) - torch.tensor(
        [2.0, 2.0, -0.75]
    )  # x, y in [-2, 2], z in [0.75, 1.25]
    mask = torch.ones(1, 2, p, dtype=torch.bool)
    batch = _replace(batch, gt_centres=centres, gt_mask=mask)
    out = small_k(batch)
    assert out.joints.shape == (1, 2, p, 19, 3) and torch.isfinite(out.joints).all()
    assert out.detections.shape == (1, 2, 2, 3)  # NMS still keeps only the top 2
    assert out.match.log_P.shape == (1, p + 1, p + 1)
    joints = centres[:, :, :, None].expand(1, 2, p, 19, 3)
    targets = ClipTargets(centres, mask, joints, torch.ones(1, 2, p, 19, dtype=torch.bool))
    loss = total_loss(out, targets, small_k.grid, cfg.loss)
    loss.total.backward()
    assert torch.isfinite(loss.total) and loss.tracking > 0


@pytest.mark.parametrize(
    "centre",
    [
        (
            3.9,
            0.0,
            1.0,
        ),  # 0.1 m inside the 8 m volume's x face: half the 2.5 m tesseract is outside
        (-3.5, 3.5, 4.9),  # near a corner of the volume (z face at 1 + 4 = 5 m)
        (7.0, 0.0, 1.0),  # entirely outside the volume (and behind some cameras of the 5 m ring)
    ],
)
def test_person_at_the_edge_of_the_volume(model, centre):
    batch, _ = make_clip(tiny_config(), b=1, p=1)
    c = torch.tensor(centre).expand(1, 2, 1, 3).clone()
    batch = _replace(batch, gt_centres=c, gt_mask=torch.ones(1, 2, 1, dtype=torch.bool))
    out = model(batch)
    assert torch.isfinite(out.joints).all() and torch.isfinite(out.joint_probs).all()
    # soft-argmax joints are convex combinations of tesseract voxel centres: within 1.25 m per axis
    assert ((out.joints - c[:, :, :, None]).abs() <= 1.25 + 1e-5).all()
    targets = ClipTargets(c, torch.ones(1, 2, 1, dtype=torch.bool), c[:, :, :, None].expand(1, 2, 1, 19, 3),
                          torch.ones(1, 2, 1, 19, dtype=torch.bool))  # fmt: skip
    loss = total_loss(out, targets, model.grid, tiny_config().loss)
    model.zero_grad()
    loss.total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert torch.isfinite(loss.total) and all(torch.isfinite(g).all() for g in grads)
