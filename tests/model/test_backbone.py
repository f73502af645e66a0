"""Backbones: HRNet-W32 structure and size, the small backbone, weight loading."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from tessetrack.errors import InputError
from tessetrack.model.backbone import (
    HeatmapHead,
    HRNetW32,
    SmallBackbone,
    build_backbone,
    load_backbone_weights,
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
