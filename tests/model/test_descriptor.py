"""Tesseract sampling and the 4D CNN descriptor."""

from __future__ import annotations

import pytest
import torch
from test_tessetrack_model import ring_rig

from tessetrack.errors import InputError
from tessetrack.geometry.views import Views
from tessetrack.model.descriptor import TesseractDescriptor


def _descriptor(time_window: int = 3, dim: int | None = 16) -> TesseractDescriptor:
    torch.manual_seed(0)
    return TesseractDescriptor(in_channels=6, size=2.5, shape=(8, 8, 8), time_window=time_window,
                               channels=(8, 12), descriptor_dim=dim, fusion_hidden=4)  # fmt: skip


def _cams(b: int, t: int, v: int) -> Views:
    return Views(**ring_rig(b, t, v))


@pytest.mark.parametrize("views", [1, 3, 5])
def test_shapes(views):
    desc = _descriptor()
    centres = torch.tensor([[[0.0, 0.0, 1.0], [1.0, -0.5, 1.0]]]).expand(2, 2, 3)
    out = desc(torch.randn(2, 3, views, 6, 16, 16), centres, _cams(2, 3, views))
    assert out.tensor.shape == (2, 2, 12, 3, 4, 4, 4)  # one halving: 8³ → 4³; T kept
    assert out.vector.shape == (2, 2, 16)
    assert out.voxel_centres.shape == (2, 2, 8, 8, 8, 3)
    assert torch.isfinite(out.tensor).all()


def test_voxel_centres_around_person():
    desc = _descriptor()
    c = torch.tensor([[[0.5, -1.0, 0.9]]])
    xyz = desc.voxel_centres(c)
    assert torch.allclose(xyz.mean((1, 2, 3, 4)), c[0], atol=1e-5)  # symmetric around the centre
    # extent between the outer voxel centres: 2.5 - 2.5/8 = 2.1875 m
    span = xyz[0, 0].amax((0, 1, 2)) - xyz[0, 0].amin((0, 1, 2))
    assert torch.allclose(span, torch.full((3,), 2.1875))


def test_frames_are_sampled_independently():
    desc = _descriptor()
    cams = _cams(1, 3, 2)
    xyz = desc.voxel_centres(torch.tensor([[[0.0, 0.0, 1.0]]]))
    f = torch.randn(1, 3, 2, 6, 16, 16)
    g = f.clone()
    g[:, 2] = torch.randn(2, 6, 16, 16)  # only the last frame changes
    a, b = desc.sample(f, xyz, cams), desc.sample(g, xyz, cams)
    assert a.shape == (1, 1, 6, 3, 8, 8, 8)
    assert torch.allclose(a[:, :, :, :2], b[:, :, :, :2]) and not torch.allclose(
        a[:, :, :, 2], b[:, :, :, 2]
    )


def test_pooled_vector_without_learned_matcher():
    desc = _descriptor(time_window=1, dim=None)
    out = desc(torch.randn(1, 1, 2, 6, 16, 16), torch.zeros(1, 1, 3), _cams(1, 1, 2))
    assert out.vector.shape == (1, 1, 12)  # the pooled C' channels themselves
    with pytest.raises(InputError, match="window frames"):
        desc(torch.randn(1, 3, 2, 6, 16, 16), torch.zeros(1, 1, 3), _cams(1, 3, 2))


def test_activation_checkpointing_gives_the_same_outputs_and_gradients():
    # Recomputing the 4D CNN activations in backward must not change any number.
    feats = torch.randn(1, 3, 2, 6, 16, 16, requires_grad=True)
    centres = torch.tensor([[[0.0, 0.0, 1.0]]])
    results = []
    for checkpointing in (False, True):
        desc = _descriptor()
        desc.checkpointing = checkpointing
        out = desc(feats, centres, _cams(1, 3, 2))
        loss = out.tensor.square().sum() + out.vector.sum()
        grads = torch.autograd.grad(loss, [feats, *desc.parameters()])
        results.append((out.tensor.detach(), grads))
    (t0, g0), (t1, g1) = results
    assert torch.equal(t0, t1)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
