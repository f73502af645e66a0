"""3D pose estimation from person descriptors (paper §3.3).

*Descriptor merging*: the K overlapping descriptors of one tracked person (its current descriptor first)
are combined by a softmax over per-descriptor scores of a small network (variant L), or by a plain average
(variant A). *Tesseract deconvolution*: ConvTranspose4d layers undo the spatial pooling of the descriptor
network, and a final Conv4d whose temporal kernel spans the whole window collapses T to 1, giving Q per-joint
3D heatmaps over the tesseract voxels; a soft-argmax (``tessetrack.ops.soft_argmax``) over the voxel centres
gives joints in world metres. The pose is that of the current descriptor's anchor frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from tessetrack.model.descriptor import Conv4dBlock
from tessetrack.model.matcher import masked_softmax
from tessetrack.ops.conv4d import Conv4d, ConvTranspose4d
from tessetrack.ops.soft_argmax import soft_argmax3d

__all__ = ["PoseOutput", "DescriptorMerge", "PoseHead"]


class PoseOutput(NamedTuple):
    """Attributes: joints (N, Q, 3) metres; probs (N, Q, X, Y, Z) softmax heatmaps; weights (N, K) merge weights."""

    joints: Tensor
    probs: Tensor
    weights: Tensor


class DescriptorMerge(nn.Module):
    """Merge K descriptors (N, K, C, T, X', Y', Z') with a mask (N, K) into (N, C, T, X', Y', Z').

    Args:
        channels: C.
        hidden: width of the scoring MLP (learned merge).
        learned: True: softmax over learned scores (L); False: average of the valid ones (A).
    """

    def __init__(self, channels: int, hidden: int, learned: bool):
        super().__init__()
        self.learned = learned
        self.score = (
            nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            if learned
            else None
        )

    def forward(self, descriptors: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Returns the merged descriptor (N, C, T, X', Y', Z') and the weights (N, K)."""
        if self.score is not None:
            pooled = descriptors.flatten(3).mean(-1)  # N×K×C
            logits = self.score(pooled).squeeze(-1)  # N×K
            weights = masked_softmax(logits, mask)
        else:
            weights = mask.to(descriptors.dtype) / mask.sum(-1, keepdim=True).clamp(min=1)
        w = weights.to(descriptors.dtype).reshape(*weights.shape, *([1] * (descriptors.ndim - 2)))
        return (w * descriptors).sum(1), weights  # N×C×T×X'×Y'×Z'


class PoseHead(nn.Module):
    """Merge → deconvolve → Q joint heatmaps → soft-argmax.

    Args:
        in_channels: C of the bottleneck descriptor.
        num_levels: spatial halvings applied by the descriptor network (undone here).
        time_window: T of the descriptor (collapsed to 1 by the last Conv4d).
        num_joints: Q.
        merge_hidden: width of the merge scoring net.
        learned_merge: learned (L) or average (A) merge.
        beta: soft-argmax inverse temperature.
        refine: a 3×3×3 Conv4d block (temporal kernel 3 when T > 1) after each transposed conv.
        skip_channels: encoder channels at the resolutions the decoder passes through, coarse to
            fine (e.g. ``(32, 16)``): the current tesseract's encoder features at each resolution
            are concatenated before that level's refine block (U-Net skips; implies ``refine``).
            None: no skips (the paper's plain deconvolution of the bottleneck).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        num_levels: int,
        time_window: int,
        num_joints: int,
        merge_hidden: int = 32,
        learned_merge: bool = True,
        beta: float = 1.0,
        refine: bool = False,
        skip_channels: tuple[int, ...] | None = None,
    ):
        super().__init__()
        if skip_channels is not None and len(skip_channels) != num_levels:
            raise ValueError(f"skip_channels needs {num_levels} entries, got {skip_channels}")
        self.skips = skip_channels is not None

        self.merge = DescriptorMerge(in_channels, merge_hidden, learned_merge)
        self.beta = beta
        layers: list[nn.Module] = []
        c = in_channels
        for level in range(num_levels):
            cout = max(c // 2, num_joints)
            layers += [
                ConvTranspose4d(c, cout, kernel_size=(1, 2, 2, 2), stride=(1, 2, 2, 2)),
                nn.GroupNorm(math.gcd(8, cout), cout),
                nn.ReLU(inplace=True),
            ]
            if refine or skip_channels is not None:
                extra = skip_channels[level] if skip_channels is not None else 0
                layers.append(Conv4dBlock(cout + extra, cout, 3 if time_window > 1 else 1))
            c = cout
        self.deconv = nn.Sequential(*layers)
        self.to_heatmaps = Conv4d(c, num_joints, kernel_size=(time_window, 1, 1, 1))  # T → 1

    def heatmaps(self, merged: Tensor, skips: Sequence[Tensor] | None = None) -> Tensor:
        """(N, C, T, X', Y', Z') → heatmap logits (N, Q, X, Y, Z); ``skips`` (coarse to fine,
        each (N, C_l, T, X_l, Y_l, Z_l)) when the head was built with ``skip_channels``."""
        if self.skips != (skips is not None):
            raise ValueError(
                "this pose head was built with skips: pass the encoder features"
                if self.skips
                else "this pose head has no skips: do not pass encoder features"
            )
        h, level = merged, 0
        for layer in self.deconv:
            if skips is not None and isinstance(layer, Conv4dBlock):
                h = torch.cat([h, skips[level].to(h.dtype)], dim=1)
                level += 1
            h = layer(h)
        return self.to_heatmaps(h)[:, :, 0]  # N×Q×X×Y×Z

    def forward(
        self,
        descriptors: Tensor,
        mask: Tensor,
        voxel_centres: Tensor,
        skips: Sequence[Tensor] | None = None,
    ) -> PoseOutput:
        """descriptors (N, K, C, T, X', Y', Z'), mask (N, K) bool (slot 0 = the current descriptor),
        voxel_centres (N, X, Y, Z, 3) of the current tesseract, skips: the current tesseract's
        encoder features (see :meth:`heatmaps`) → :class:`PoseOutput`."""
        merged, weights = self.merge(descriptors, mask)
        logits = self.heatmaps(merged, skips)
        joints, probs = soft_argmax3d(logits.float(), voxel_centres.float(), beta=self.beta)
        return PoseOutput(joints, probs, weights)
