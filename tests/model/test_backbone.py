"""Backbones: HRNet-W32 structure and size, the small backbone, weight loading, detection heatmaps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from tessetrack.errors import InputError
from tessetrack.model.backbone import (
    HeatmapHead,
    HRNetW32,
    SmallBackbone,
    build_backbone,
    heatmap_peaks,
    load_backbone_weights,
    render_detection_heatmaps,
    rerender_heatmap_peaks,
)


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def hrnet() -> HRNetW32:
    torch.manual_seed(0)
    return HRNetW32(out_channels=32).eval()


def test_hrnet_w32_parameter_count(hrnet):
    # Counted: everything up to the fused highest-resolution branch (28,535,552) + final 1×1 conv
    # 32→32 with bias (32·32 + 32 = 1,056) = 28,536,608. The original pose-HRNet-W32 with its 17-joint
    # head is 28.5 M (its head: 32·17 + 17 = 561), so the body matches it.
    body = _count(hrnet) - _count(hrnet.final_layer)
    assert _count(hrnet.final_layer) == 32 * 32 + 32
    assert body == 28_535_552
    assert 28_000_000 < _count(hrnet) < 30_000_000


def test_hrnet_w32_branch_layout(hrnet):
    assert len(hrnet.stage2) == 1 and len(hrnet.stage3) == 4 and len(hrnet.stage4) == 3
    assert [len(m.branches) for m in hrnet.stage4] == [4, 4, 4]
    assert (
        len(hrnet.stage4[-1].fuse_layers) == 1
    )  # last exchange unit keeps the highest resolution only
    assert len(hrnet.stage3[0].fuse_layers) == 3


def test_hrnet_w32_forward_shape(hrnet):
    with torch.no_grad():
        y = hrnet(torch.randn(1, 3, 256, 256))
    assert y.shape == (1, 32, 64, 64)  # 256 / 4 = 64
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_small_backbone_shape(size):
    m = SmallBackbone(out_channels=16, width=8)
    y = m(torch.randn(2, 3, *size))
    assert y.shape == (2, 16, size[0] // 4, size[1] // 4)


def test_heatmap_head_range():
    y = HeatmapHead(16, 19)(torch.randn(2, 16, 8, 8))
    assert y.shape == (2, 19, 8, 8) and (y > 0).all() and (y < 1).all()


def test_render_detection_heatmaps_values():
    # one person, joint 0 at (u=3, v=4) conf 1; joint 1 at (u=0, v=0) conf 0.5; sigma 1
    kp = torch.tensor([[[[3.0, 4.0, 1.0], [0.0, 0.0, 0.5]]]])
    hm = render_detection_heatmaps(kp, (8, 8), sigma=1.0)
    assert hm.shape == (1, 2, 8, 8)
    assert hm[0, 0, 4, 3] == pytest.approx(1.0)
    # one pixel right of the peak: exp(-1 / 2) = 0.60653
    assert hm[0, 0, 4, 4] == pytest.approx(0.60653, abs=1e-5)
    assert hm[0, 1, 0, 0] == pytest.approx(0.5)  # scaled by confidence
    # two people: per joint the max
    kp2 = torch.tensor([[[[1.0, 1.0, 1.0]], [[6.0, 6.0, 0.8]]]])
    hm2 = render_detection_heatmaps(kp2, (8, 8), sigma=1.0)
    assert hm2[0, 0, 1, 1] == pytest.approx(1.0) and hm2[0, 0, 6, 6] == pytest.approx(0.8)
    empty = render_detection_heatmaps(torch.zeros(2, 0, 19, 3), (4, 4), 1.0)
    assert empty.shape == (2, 19, 4, 4) and empty.abs().sum() == 0


def test_load_weights_safetensors_and_state_dict(tmp_path):
    torch.manual_seed(0)
    src = SmallBackbone(out_channels=16, width=8)
    state = {f"module.{k}": v.clone() for k, v in src.state_dict().items()}
    state["module.final_layer.weight"] = torch.zeros(
        17, 16, 1, 1
    )  # a 17-joint head: shape mismatch
    state["module.extra.weight"] = torch.zeros(3)
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
    torch.save(state, tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        dst = SmallBackbone(out_channels=16, width=8)
        report = load_backbone_weights(dst, tmp_path / name)
        assert report.mismatched == ("final_layer.weight",)
        assert report.unexpected == ("extra.weight",)
        assert report.missing == ()
        assert torch.equal(dst.stem[0].weight, src.stem[0].weight)
        assert not torch.equal(dst.final_layer.weight, src.final_layer.weight)


@pytest.mark.parametrize("size", [(64, 64), (48, 80), (50, 38)])
def test_unet_backbone_shape(size):
    from tessetrack.model.backbone import SmallUNet

    m = SmallUNet(out_channels=16, width=4)
    y = m(torch.randn(2, 3, *size))
    assert y.shape == (2, 16, -(-size[0] // 4), -(-size[1] // 4))  # ⌈H/4⌉ × ⌈W/4⌉, like `small`
    assert isinstance(build_backbone(name="unet", out_channels=8, small_width=4), SmallUNet)


def test_unet_backbone_sees_the_whole_view():
    # gradients of one corner feature reach the opposite image corner (1/32 level), while the
    # `small` backbone's reach stays local
    from tessetrack.model.backbone import SmallUNet

    torch.manual_seed(0)
    net = SmallUNet(out_channels=4, width=4).eval()
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    y = net(x)
    assert y.shape == (1, 4, 32, 32)
    y[0, :, 0, 0].sum().backward()
    assert x.grad[0, :, -8:, -8:].abs().sum() > 0


def test_build_backbone_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        build_backbone(name="small", out_channels=8, weights=tmp_path / "none.safetensors")
    with pytest.raises(InputError, match="unknown backbone"):
        build_backbone(name="resnet", out_channels=8)


def test_small_backbone_dilations_widen_what_a_feature_sees():
    # The receptive field measured by gradients: a centre feature of the (2, 4) blocks depends on
    # image pixels farther away than one of the original (1, 1) blocks; shapes and cost are equal.
    from tessetrack.model.backbone import SmallBackbone

    def reach(dilations):
        torch.manual_seed(0)
        net = SmallBackbone(out_channels=4, width=4, dilations=dilations).eval()
        x = torch.rand(1, 3, 160, 160, requires_grad=True)
        y = net(x)
        assert y.shape == (1, 4, 40, 40)
        y[0, :, 20, 20].sum().backward()
        cols = (x.grad.abs().sum((0, 1, 2)) > 0).nonzero().flatten()
        return int(cols.max() - cols.min() + 1)

    plain, dilated = reach((1, 1)), reach((2, 4))
    assert plain == 39  # 2 strided convs (7 px) + 4 convs at 1/4 (4 × 8 px)
    assert dilated == 103  # 7 + 8 × (2 + 2 + 4 + 4)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(SmallBackbone(4, 4, (1, 1))) == n(SmallBackbone(4, 4, (2, 4)))


# --- heatmap peaks (image_heatmaps_peaks) ----------------------------------------------------------


def _rendered(points, size=(24, 32), sigma=2.0):
    """(P, J, 3) heatmap-pixel detections of one image → (1, J, H, W) rendered heatmaps."""
    return render_detection_heatmaps(torch.tensor(points, dtype=torch.float32)[None], size, sigma)


def test_heatmap_peaks_find_the_rendered_people_and_redraw_them_unchanged():
    # two people, two joints; joint 1 of person 1 missing; integer positions (pixel centres)
    pts = [[[5.0, 4.0, 0.9], [20.0, 10.0, 0.6]], [[25.0, 18.0, 0.7], [0.0, 0.0, 0.0]]]
    heat = _rendered(pts)
    peaks = heatmap_peaks(heat, threshold=0.1, max_peaks=3)  # 1×3×2×3
    assert peaks.shape == (1, 3, 2, 3)
    got0 = sorted(map(tuple, peaks[0, :, 0].tolist()), key=lambda p: -p[2])
    np.testing.assert_allclose(got0[:2], [(5.0, 4.0, 0.9), (25.0, 18.0, 0.7)], atol=1e-5)
    assert got0[2][2] == 0.0  # no third peak
    got1 = peaks[0, :, 1]
    np.testing.assert_allclose(got1[0].tolist(), [20.0, 10.0, 0.6], atol=1e-5)
    assert (got1[1:, 2] == 0).all()
    again = rerender_heatmap_peaks(heat, sigma=2.0, threshold=0.1, max_peaks=3)
    torch.testing.assert_close(again, heat, atol=1e-5, rtol=0)


def test_heatmap_peaks_agree_with_scipy_maximum_filter_on_noise():
    """Independent route: the local maxima ≥ threshold of scipy.ndimage.maximum_filter."""
    from scipy.ndimage import maximum_filter

    g = torch.Generator().manual_seed(0)
    heat = torch.rand(2, 3, 12, 15, generator=g)
    peaks = heatmap_peaks(heat, threshold=0.6, max_peaks=12 * 15)
    for n in range(2):
        for j in range(3):
            x = heat[n, j].numpy()
            ref = (x >= maximum_filter(x, size=3, mode="constant", cval=-np.inf)) & (x >= 0.6)
            conf = peaks[n, :, j, 2].numpy()
            kept = np.sort(conf[conf > 0])
            np.testing.assert_allclose(kept, np.sort(x[ref]), rtol=0, atol=0)
            # positions stay within half a pixel of the peak pixel
            v, u = np.nonzero(ref)
            for uu, vv, cc in peaks[n, :, j].numpy()[conf > 0]:
                k = int(np.argmin(np.abs(x[v, u] - cc)))
                assert abs(uu - u[k]) <= 0.5 + 1e-6 and abs(vv - v[k]) <= 0.5 + 1e-6


@pytest.mark.parametrize("u_true, v_true", [(10.4, 7.0), (10.0, 6.7), (9.25, 7.45)])
def test_heatmap_peaks_find_a_subpixel_peak(u_true, v_true):
    heat = _rendered([[[u_true, v_true, 1.0]]])
    (u, v, c) = heatmap_peaks(heat, threshold=0.1, max_peaks=1)[0, 0, 0].tolist()
    assert abs(u - u_true) < 0.05 and abs(v - v_true) < 0.05 and 0.9 < c <= 1.0


def test_a_plateau_is_one_peak_at_its_first_pixel():
    heat = torch.zeros(1, 1, 8, 9)
    heat[0, 0, 3:5, 4:6] = 0.8  # a 2×2 plateau
    heat[0, 0, 1, 1:4] = 0.5  # a 1×3 ridge
    peaks = heatmap_peaks(heat, threshold=0.1, max_peaks=6)[0, :, 0]
    kept = peaks[peaks[:, 2] > 0].tolist()
    assert len(kept) == 2
    # the plateau's first pixel (4, 3), moved half a pixel towards its equal neighbours
    np.testing.assert_allclose(kept[0], [4.5, 3.5, 0.8], atol=1e-5)
    np.testing.assert_allclose(kept[1], [1.5, 1.0, 0.5], atol=1e-5)


def test_a_peak_on_the_border_stays_at_its_pixel_on_that_axis():
    heat = _rendered([[[0.3, 5.0, 1.0]]])  # peak pixel u = 0: no left neighbour
    (u, v, _) = heatmap_peaks(heat, threshold=0.1, max_peaks=1)[0, 0, 0].tolist()
    assert u == 0.0 and abs(v - 5.0) < 1e-5


def test_heatmap_peaks_refuse_a_wrong_shape_or_an_even_window():
    with pytest.raises(InputError, match=r"\(N, J, H, W\)"):
        heatmap_peaks(torch.zeros(3, 4, 5), threshold=0.1, max_peaks=2)
    with pytest.raises(InputError, match="odd"):
        heatmap_peaks(torch.zeros(1, 1, 4, 5), threshold=0.1, max_peaks=2, kernel=4)
