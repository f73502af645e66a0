"""Person detection network: volume building, centre heatmap, NMS to world centres."""

from __future__ import annotations

import pytest
import torch
from test_tessetrack_model import ring_rig

from tessetrack.geometry.views import Views
from tessetrack.geometry.voxel_grid import VoxelGrid
from tessetrack.model.detector import PersonDetector

# 8 m cube of 8³ voxels centred at (0, 0, 1): 1 m voxels
GRID = VoxelGrid(center=(0.0, 0.0, 1.0), size=(8.0, 8.0, 8.0), shape=(8, 8, 8))


def _detector(**kw) -> PersonDetector:
    torch.manual_seed(0)
    return PersonDetector(in_channels=6, grid=GRID, hidden=4, num_blocks=1, fusion_hidden=4, **kw)


def _cams(b: int, v: int) -> Views:
    return Views(**ring_rig(b, 1, v))[:, 0]


@pytest.mark.parametrize("views", [1, 3, 5])
def test_shapes(views):
    det = _detector(max_people=4, threshold=0.0)
    out = det(torch.randn(2, views, 6, 16, 16), _cams(2, views))
    assert out.heatmap.shape == (2, 8, 8, 8)
    assert ((out.heatmap >= 0) & (out.heatmap <= 1)).all()
    assert (
        out.centres.shape == (2, 4, 3) and out.scores.shape == (2, 4) and out.valid.shape == (2, 4)
    )
    assert out.valid.all()  # threshold 0: every peak counts


def test_detect_converts_peaks_to_world():
    det = _detector(max_people=2, threshold=0.5)
    heat = torch.zeros(1, 8, 8, 8)
    heat[0, 2, 3, 4] = 0.9
    centres, scores, valid = det.detect(heat)
    assert valid.tolist() == [[True, False]]
    # voxel (2, 3, 4) centre: -4 + 2.5 = -1.5, -4 + 3.5 = -0.5, 1 - 4 + 4.5 = 1.5
    assert torch.allclose(centres[0, 0], torch.tensor([-1.5, -0.5, 1.5]), atol=0.05)
    assert scores[0, 0].item() == pytest.approx(0.9)


def test_masked_view_does_not_contribute():
    det = _detector()
    cams = _cams(1, 2)
    cams.view_mask[0, 1] = False  # view 1 absent
    f = torch.randn(1, 2, 6, 16, 16)
    g = f.clone()
    g[0, 1] = torch.randn(6, 16, 16)  # changing the absent view's features changes nothing
    assert torch.allclose(det.volume(f, cams), det.volume(g, cams))


def test_refine_blocks_start_as_the_identity_and_learn():
    """Full-resolution refine blocks: no weights when 0 (old checkpoints load), identity at init
    (a warm start keeps the old outputs exactly), and trainable (one step changes their output)."""
    plain = _detector()
    grown = _detector(refine_blocks=2)
    assert not any(k.startswith("net.refine.") for k in plain.state_dict())
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and missing and all(k.startswith("net.refine.") for k in missing)
    volume = torch.rand(2, 6, 8, 8, 8)
    assert torch.equal(plain.net(volume), grown.net(volume))

    opt = torch.optim.SGD(grown.net.refine.parameters(), lr=1.0)
    target = torch.zeros(2, 8, 8, 8)
    target[:, 2, 3, 4] = 1.0
    loss = ((grown.net(volume) - target) ** 2).sum()
    loss.backward()
    assert grown.net.refine[0].body[-1].weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(plain.net(volume), grown.net(volume))


def test_refine_blocks_config_is_checked():
    from tessetrack.config import apply_overrides, preset, validate
    from tessetrack.errors import ConfigError

    cfg = preset("cpu-small")
    assert cfg.model.detector.refine_blocks == 0
    with pytest.raises(ConfigError, match="refine_blocks"):
        validate(apply_overrides(cfg, {"model.detector.refine_blocks": -1}))


def test_height_features_by_hand():
    from tessetrack.model.detector import height_features

    pts = torch.tensor([[5.0, -3.0, 0.0], [0.0, 0.0, 1.0], [1.0, 2.0, 2.0]], dtype=torch.float64)
    up = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    f = height_features(pts, up, 0.0, 3, (0.0, 2.0))  # bumps at 0, 1, 2 m, spacing 1 m
    e = torch.exp(torch.tensor(-0.5, dtype=torch.float64)).item()
    e4 = torch.exp(torch.tensor(-2.0, dtype=torch.float64)).item()
    want = torch.tensor([[1, e, e4], [e, 1, e], [e4, e, 1]], dtype=torch.float64)
    assert torch.allclose(f, want, atol=1e-12)
    # Panoptic-style world: y down, any length of ``up``; a raised floor shifts the heights
    pan = torch.tensor([[0.0, -1.0, 7.0]], dtype=torch.float64)
    assert torch.allclose(height_features(pan, torch.tensor([0.0, -2.0, 0.0]), 0.0, 3), want[1:2])
    assert torch.allclose(height_features(pts[2:], up, 1.0, 3), want[1:2])


def test_height_mix_starts_at_zero_and_learns_the_height():
    """Off: no weights (old checkpoints load). On: the fused volume is unchanged at init (a warm
    start keeps its outputs), and a step makes equal features at different heights differ."""
    plain = _detector()
    grown = _detector(height_levels=5)
    assert not any("height_mix" in k for k in plain.state_dict())
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and missing == ["height_mix.weight"]
    cams = _cams(1, 2)
    f = torch.randn(1, 2, 6, 16, 16)
    assert torch.equal(plain.volume(f, cams), grown.volume(f, cams))

    blank = torch.zeros(1, 2, 6, 16, 16)  # the same (zero) evidence everywhere
    loss = grown.volume(blank, cams)[:, :, :, :, 3].sum()  # favour the layer at z = 0.5 m
    loss.backward()
    with torch.no_grad():
        grown.height_mix.weight -= grown.height_mix.weight.grad
        v = grown.volume(blank, cams)[0]  # C×X×Y×Z
    assert torch.allclose(v[:, :, :, 3], v[:, :1, :1, 3].expand_as(v[:, :, :, 3]))  # x, y: same
    assert (v[:, 0, 0, 3] - v[:, 0, 0, 5]).abs().min() > 0.1  # 0.5 m and 2.5 m differ


def test_height_config_is_checked():
    from tessetrack.config import apply_overrides, preset, validate
    from tessetrack.errors import ConfigError
    from tessetrack.model import build_model

    cfg = preset("cpu-small")
    assert cfg.model.detector.height_levels == 0
    with pytest.raises(ConfigError, match="height_levels"):
        validate(apply_overrides(cfg, {"model.detector.height_levels": 1}))
    with pytest.raises(ConfigError, match="detector.up"):
        validate(apply_overrides(cfg, {"model.detector.up": [0.0, 0.0, 0.0]}))
    on = validate(apply_overrides(cfg, {"model.detector.height_levels": 4}))
    assert build_model(on).detector.height_mix.weight.shape[:2] == (16, 4)
