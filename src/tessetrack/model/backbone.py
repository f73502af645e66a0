"""Image backbones of TesseTrack (paper §3.1): HRNet-W32 and a small CPU-friendly stand-in.

Both map images ``(N, 3, H, W)`` (ImageNet-normalised) to features ``(N, R, H/4, W/4)``: the
highest-resolution HRNet branch goes through one 1×1 convolution to R channels ("we use the pre-final
layer of the network and pass it through a single convolution layer to convert it into a feature map
of size R"). Variant H casts 2D joint heatmaps instead: :class:`HeatmapHead` (1×1 conv to J maps) or
external 2D detections rendered by :func:`~tessetrack.ops.heatmaps2d.render_detection_heatmaps`.

Module and parameter names of :class:`HRNetW32` follow the original pose-HRNet code base
(``conv1``, ``layer1``, ``transition1``, ``stage2`` ... ``final_layer``), so its published ImageNet /
COCO weights load by name with :func:`load_backbone_weights` (from a LOCAL file; nothing is downloaded).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from tessetrack.errors import CheckpointError, InputError

# the 2D heatmap ops live in ops/heatmaps2d.py; re-exported here for existing imports
from tessetrack.ops.heatmaps2d import (
    heatmap_peaks,
    render_detection_heatmaps,
    rerender_heatmap_peaks,
)

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "HighResolutionModule",
    "HRNetW32",
    "SmallBackbone",
    "SmallUNet",
    "HeatmapHead",
    "WeightLoadReport",
    "load_backbone_weights",
    "render_detection_heatmaps",
    "heatmap_peaks",
    "rerender_heatmap_peaks",
    "build_backbone",
]

logger = logging.getLogger(__name__)

_BN_MOMENTUM = 0.1


# --- helpers -------------------------------------------------------------------------------------


def _conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        cin, cout, kernel_size=3, stride=stride, padding=dilation, dilation=dilation, bias=False
    )


# --- blocks --------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """Two 3×3 convs (optionally dilated) with a residual connection (ResNet basic block)."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        dilation: int = 1,
    ):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes, momentum=_BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes, momentum=_BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 convs (×4 expansion) with a residual connection."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=_BN_MOMENTUM)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes, momentum=_BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4, momentum=_BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _make_layer(
    block: type[BasicBlock | Bottleneck], inplanes: int, planes: int, blocks: int
) -> nn.Sequential:
    downsample = None
    if inplanes != planes * block.expansion:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes * block.expansion, kernel_size=1, bias=False),
            nn.BatchNorm2d(planes * block.expansion, momentum=_BN_MOMENTUM),
        )
    layers = [block(inplanes, planes, 1, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches at 1/2^b resolution followed by the exchange (fusion) unit.

    Args:
        channels: width of each branch (branch b runs at 1/2^b of the branch-0 resolution).
        num_blocks: basic blocks per branch.
        multi_scale_output: False for the last module: only the highest-resolution output is fused.
    """

    def __init__(
        self, channels: tuple[int, ...], num_blocks: int = 4, multi_scale_output: bool = True
    ):
        super().__init__()
        nb = len(channels)
        self.branches = nn.ModuleList([_make_layer(BasicBlock, c, c, num_blocks) for c in channels])
        fuse_layers = []
        for i in range(nb if multi_scale_output else 1):
            row: list[nn.Module | None] = []
            for j in range(nb):
                if j > i:  # lower resolution → upsample
                    row.append(
                        nn.Sequential(
                            nn.Conv2d(channels[j], channels[i], 1, bias=False),
                            nn.BatchNorm2d(channels[i], momentum=_BN_MOMENTUM),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                        )
                    )
                elif j == i:
                    row.append(None)
                else:  # higher resolution → i - j strided 3×3 convs
                    steps: list[nn.Module] = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        cout = channels[i] if last else channels[j]
                        layers: list[nn.Module] = [
                            _conv3x3(channels[j], cout, 2),
                            nn.BatchNorm2d(cout, momentum=_BN_MOMENTUM),
                        ]
                        if not last:
                            layers.append(nn.ReLU(inplace=True))
                        steps.append(nn.Sequential(*layers))
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        out = []
        for row in self.fuse_layers:
            y: Tensor | None = None
            for j, layer in enumerate(row):
                term = xs[j] if layer is None else layer(xs[j])
                y = term if y is None else y + term
            out.append(self.relu(y))
        return out


# --- top modules ---------------------------------------------------------------------------------


class HRNetW32(nn.Module):
    """HRNet-W32 (Sun et al., CVPR 2019), as in pose-HRNet: stem, 4 stages with 1/2/3/4 branches.

    Stage 1: 4 bottlenecks (64 → 256 ch). Stages 2/3/4: 1/4/3 modules of 4 basic blocks per branch,
    branch widths (32, 64, 128, 256). The last module fuses into the highest-resolution branch only,
    then ``final_layer`` (1×1 conv) maps its 32 channels to ``out_channels`` (R).

    Args:
        out_channels: R, channels of the output features.

    Shapes: (N, 3, H, W) → (N, R, H/4, W/4) (H, W multiples of 32 keep all branches aligned).
    """

    widths = (32, 64, 128, 256)

    def __init__(self, out_channels: int = 32):
        super().__init__()
        w = self.widths
        self.conv1 = _conv3x3(3, 64, 2)
        self.bn1 = nn.BatchNorm2d(64, momentum=_BN_MOMENTUM)
        self.conv2 = _conv3x3(64, 64, 2)
        self.bn2 = nn.BatchNorm2d(64, momentum=_BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_layer(Bottleneck, 64, 64, 4)
        self.transition1 = self._transition((256,), w[:2])
        self.stage2 = nn.Sequential(HighResolutionModule(w[:2]))
        self.transition2 = self._transition(w[:2], w[:3])
        self.stage3 = nn.Sequential(*[HighResolutionModule(w[:3]) for _ in range(4)])
        self.transition3 = self._transition(w[:3], w[:4])
        self.stage4 = nn.Sequential(
            HighResolutionModule(w),
            HighResolutionModule(w),
            HighResolutionModule(w, multi_scale_output=False),
        )
        self.final_layer = nn.Conv2d(w[0], out_channels, kernel_size=1)

    @staticmethod
    def _transition(pre: tuple[int, ...], cur: tuple[int, ...]) -> nn.ModuleList:
        layers: list[nn.Module | None] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                if pre[i] == c:
                    layers.append(None)
                else:
                    layers.append(
                        nn.Sequential(
                            _conv3x3(pre[i], c),
                            nn.BatchNorm2d(c, momentum=_BN_MOMENTUM),
                            nn.ReLU(inplace=True),
                        )
                    )
            else:  # new lower-resolution branch from the last existing one
                layers.append(
                    nn.Sequential(
                        nn.Sequential(
                            _conv3x3(pre[-1], c, 2),
                            nn.BatchNorm2d(c, momentum=_BN_MOMENTUM),
                            nn.ReLU(inplace=True),
                        )
                    )
                )
        return nn.ModuleList(layers)

    @staticmethod
    def _run_stage(
        stage: nn.Sequential, transition: nn.ModuleList, xs: list[Tensor]
    ) -> list[Tensor]:
        inputs = []
        for i, t in enumerate(transition):
            src = xs[min(i, len(xs) - 1)]
            inputs.append(src if t is None else t(src))
        for module in stage:
            inputs = module(inputs)
        return inputs

    def forward(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) normalised images → (N, R, H/4, W/4) features."""
        x = self.relu(self.bn1(self.conv1(images)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        xs = self._run_stage(self.stage2, self.transition1, [x])
        xs = self._run_stage(self.stage3, self.transition2, xs)
        xs = self._run_stage(self.stage4, self.transition3, xs)
        return self.final_layer(xs[0])


def _stride4_stem(width: int) -> list[nn.Module]:
    """Two strided 3×3 conv + BN + ReLU: (N, 3, H, W) → (N, 2·width, ⌈H/4⌉, ⌈W/4⌉)."""
    return [
        _conv3x3(3, width, 2),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        _conv3x3(width, 2 * width, 2),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(inplace=True),
    ]


class SmallBackbone(nn.Module):
    """A few strided convs + two residual blocks: the CPU-friendly stand-in of HRNet (same interface).

    Args:
        out_channels: R.
        width: base width w (stem w at 1/2, then 2w at 1/4).
        dilations: one residual block per entry, its convs dilated by it. The default (1, 1) sees
            ~40 px of the image per feature; (2, 4) sees ~100 px at the same cost.

    Shapes: (N, 3, H, W) → (N, R, ⌈H/4⌉, ⌈W/4⌉).
    """

    def __init__(
        self, out_channels: int = 32, width: int = 32, dilations: tuple[int, ...] = (1, 1)
    ):
        super().__init__()
        self.stem = nn.Sequential(*_stride4_stem(width))
        self.blocks = nn.Sequential(
            *(BasicBlock(2 * width, 2 * width, dilation=int(d)) for d in dilations)
        )
        self.final_layer = nn.Conv2d(2 * width, out_channels, kernel_size=1)

    def forward(self, images: Tensor) -> Tensor:
        return self.final_layer(self.blocks(self.stem(images)))


class SmallUNet(nn.Module):
    """A small encoder-decoder (stride 4 → 32 and back, additive skips): the CPU-sized stand-in of
    HRNet's multi-resolution design, with the same interface as :class:`SmallBackbone`.

    Why: :class:`SmallBackbone` sees at most ~100 px around a feature, no more than one person, and
    could not learn 2D joints from scratch (the README's stage-1 table). Going down to 1/32 lets each
    feature see the whole 256² view — the body around a joint, as HRNet's low-resolution branches
    do — while the stride-4 output keeps joints apart.

    Args:
        out_channels: R.
        width: base width w: 2w channels at 1/4, 4w at 1/8, 8w at 1/16 and 1/32.

    Shapes: (N, 3, H, W) → (N, R, ⌈H/4⌉, ⌈W/4⌉).
    """

    def __init__(self, out_channels: int = 32, width: int = 16):
        super().__init__()
        w = width
        self.stem = nn.Sequential(*_stride4_stem(w), BasicBlock(2 * w, 2 * w))
        widths = (2 * w, 4 * w, 8 * w, 8 * w)  # 1/4, 1/8, 1/16, 1/32
        self.down = nn.ModuleList()
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            ds = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))
            self.down.append(nn.Sequential(BasicBlock(cin, cout, 2, ds), BasicBlock(cout, cout)))
        # decoder: upsample the coarser level, 1×1 to the finer width, add the skip, one block
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
            for cin, cout in zip(widths[:0:-1], widths[-2::-1], strict=True)
        )
        self.up = nn.ModuleList(BasicBlock(c, c) for c in widths[-2::-1])
        self.final_layer = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    def forward(self, images: Tensor) -> Tensor:
        xs = [self.stem(images)]
        for down in self.down:
            xs.append(down(xs[-1]))
        y = xs.pop()
        for lateral, up in zip(self.lateral, self.up, strict=True):
            skip = xs.pop()
            y = nn.functional.interpolate(lateral(y), size=skip.shape[-2:], mode="nearest")
            y = up(y + skip)
        return self.final_layer(y)


class HeatmapHead(nn.Module):
    """Variant H: 1×1 conv from R backbone features to J 2D joint heatmaps in [0, 1] (sigmoid)."""

    def __init__(self, in_channels: int, num_joints: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_joints, kernel_size=1)

    def forward(self, features: Tensor) -> Tensor:
        """(N, R, h, w) → (N, J, h, w)."""
        return torch.sigmoid(self.conv(features))


# --- weights and factories -----------------------------------------------------------------------


@dataclass(frozen=True)
class WeightLoadReport:
    """What :func:`load_backbone_weights` matched (non-strict loading)."""

    loaded: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[str, ...]


def load_backbone_weights(module: nn.Module, path: str | os.PathLike[str]) -> WeightLoadReport:
    """Load weights from a LOCAL ``.safetensors`` or ``state_dict`` file into ``module`` by name.

    Non-strict: keys absent from the file, extra keys and shape mismatches (e.g. a 17-joint
    ``final_layer``) are skipped, logged, and reported. A leading ``module.`` / ``backbone.`` is stripped.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("backbone weights file not found (weights are never downloaded)", p)
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise CheckpointError(f"{p}: cannot read backbone weights ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{p}: expected a state_dict (name → tensor)")
    cleaned = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        cleaned[key] = value
    own = module.state_dict()
    good = {k: v for k, v in cleaned.items() if k in own and own[k].shape == v.shape}
    mismatched = tuple(
        sorted(k for k, v in cleaned.items() if k in own and own[k].shape != v.shape)
    )
    module.load_state_dict(good, strict=False)
    report = WeightLoadReport(
        loaded=tuple(sorted(good)),
        missing=tuple(sorted(set(own) - set(cleaned))),
        unexpected=tuple(sorted(set(cleaned) - set(own))),
        mismatched=mismatched,
    )
    logger.info(
        "loaded %d backbone tensors from %s (%d missing, %d unexpected, %d shape mismatches)",
        len(report.loaded), p, len(report.missing), len(report.unexpected), len(report.mismatched),
    )  # fmt: skip
    return report


def build_backbone(
    *,
    name: str,
    out_channels: int,
    small_width: int = 32,
    small_dilations: tuple[int, ...] = (1, 1),
    weights: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """``"hrnet_w32"``, ``"small"`` or ``"unet"`` backbone with R = ``out_channels``, optionally loading
    local weights (``small_width`` is the base width of both small ones)."""
    if name == "hrnet_w32":
        module: nn.Module = HRNetW32(out_channels=out_channels)
    elif name == "small":
        module = SmallBackbone(
            out_channels=out_channels, width=small_width, dilations=small_dilations
        )
    elif name == "unet":
        module = SmallUNet(out_channels=out_channels, width=small_width)
    else:
        raise InputError(f"unknown backbone {name!r}; choose 'hrnet_w32', 'small' or 'unet'")
    if weights is not None:
        load_backbone_weights(module, weights)
    return module
