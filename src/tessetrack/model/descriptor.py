"""Spatio-temporal person descriptors: tesseracts and their 4D CNN (paper §3.2).

For each person centre detected at an anchor frame, a cuboid of edge ``size`` metres centred on it
(:func:`tessetrack.geometry.voxel_grid.grid_centers`) is filled, at each of the T frames of the window
centred on the anchor, with view-fused backbone features (the same unprojection as the detector) —
the tesseract ``(P, R, T, X, Y, Z)``. Blocks of Conv4d (+ GroupNorm + ReLU), each but the first
preceded by a spatial MaxPool4d, reduce it to the bottleneck descriptor ``(P, C, T, X', Y', Z')`` used by
the pose head, and a global pool + linear layer gives the vector ``(P, D)`` used for matching.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint, checkpoint_sequential

from tessetrack.errors import InputError
from tessetrack.geometry.views import Views
from tessetrack.geometry.voxel_grid import grid_centers
from tessetrack.ops.conv4d import Conv4d, MaxPool4d
from tessetrack.ops.unproject import ViewFusion, sample_views

__all__ = ["DescriptorOutput", "Conv4dBlock", "TesseractDescriptor"]


class DescriptorOutput(NamedTuple):
    """Per-person descriptors.

    Attributes:
        tensor: (B, P, C, T, X', Y', Z') bottleneck descriptor.
        vector: (B, P, D) pooled descriptor for matching.
        voxel_centres: (B, P, X, Y, Z, 3) world centres of the tesseract voxels (full resolution).
        skips: encoder features before each spatial pooling, coarse to fine, each
            (B, P, C_l, T, X_l, Y_l, Z_l) — only when asked for (pose heads with U-Net skips).
    """

    tensor: Tensor
    vector: Tensor
    voxel_centres: Tensor
    skips: tuple[Tensor, ...] = ()


class Conv4dBlock(nn.Module):
    """Conv4d (kernel kt×3×3×3, same padding) → GroupNorm → ReLU on (N, C, T, X, Y, Z)."""

    def __init__(self, in_channels: int, out_channels: int, temporal_kernel: int):
        super().__init__()
        kt = temporal_kernel
        self.conv = Conv4d(
            in_channels, out_channels, kernel_size=(kt, 3, 3, 3), padding=(kt // 2, 1, 1, 1)
        )
        self.norm = nn.GroupNorm(math.gcd(8, out_channels), out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.conv(x)))


class TesseractDescriptor(nn.Module):
    """Tesseract sampling + 4D CNN.

    Args:
        in_channels: R (or J for heatmap input).
        size: cuboid edge, metres (paper 2.5).
        shape: voxels per axis (X, Y, Z).
        time_window: T (1 for instantaneous variants).
        channels: output channels of the conv blocks; blocks after the first halve X, Y, Z.
        descriptor_dim: D of the pooled vector (a linear layer after global pooling), or None to
            return the pooled C' features themselves (variants without a learned matcher).
        fusion_hidden: hidden width of the view-fusion scoring net.
        checkpointing: recompute the 4D CNN's activations in the backward pass instead of storing
            them (activation checkpointing: less memory for the paper preset, ~1 extra forward).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        size: float,
        shape: tuple[int, int, int],
        time_window: int,
        channels: tuple[int, ...],
        descriptor_dim: int | None,
        fusion_hidden: int = 32,
        checkpointing: bool = False,
    ):
        super().__init__()
        self.checkpointing = checkpointing
        self.size = float(size)
        self.shape = tuple(shape)
        self.time_window = time_window
        self.fusion = ViewFusion(in_channels, hidden=fusion_hidden)
        kt = 3 if time_window > 1 else 1
        layers: list[nn.Module] = []
        cin = in_channels
        for i, c in enumerate(channels):
            if i > 0:
                layers.append(MaxPool4d(kernel_size=(1, 2, 2, 2), stride=(1, 2, 2, 2)))
            layers.append(Conv4dBlock(cin, c, kt))
            cin = c
        self.blocks = nn.Sequential(*layers)
        self.out_channels = cin
        self.to_vector = (
            nn.Linear(cin, descriptor_dim) if descriptor_dim is not None else nn.Identity()
        )

    def voxel_centres(self, centres: Tensor) -> Tensor:
        """(B, P, 3) person centres → (B, P, X, Y, Z, 3) tesseract voxel centres."""
        b, p = centres.shape[:2]
        size = torch.full((3,), self.size, dtype=centres.dtype, device=centres.device)
        xyz = grid_centers(centres.reshape(b * p, 3), size, self.shape)  # (B·P)×X×Y×Z×3
        return xyz.reshape(b, p, *xyz.shape[1:])

    def sample(self, features: Tensor, voxel_centres: Tensor, views: Views) -> Tensor:
        """Fill tesseracts with fused view features.

        Args:
            features: (B, T, V, C, h, w) backbone features of the T window frames.
            voxel_centres: (B, P, X, Y, Z, 3).
            views: (B, T, V) cameras of those frames.

        Returns:
            (B, P, C, T, X, Y, Z) tesseracts.
        """
        b, tt, v, c = features.shape[:4]
        if tt != self.time_window:
            raise InputError(f"expected {self.time_window} window frames, got {tt}")
        p = voxel_centres.shape[1]
        x, y, z = voxel_centres.shape[2:5]
        pts = voxel_centres.reshape(b, 1, p * x * y * z, 3).expand(b, tt, -1, 3)  # B×T×(P·X·Y·Z)×3
        sampled, valid = sample_views(
            features.flatten(0, 1),  # (B·T)×V×C×h×w
            pts.flatten(0, 1),  # (B·T)×(P·X·Y·Z)×3
            *views.flatten(0, 1).tensors(),  # (B·T)×V×...
        )  # (B·T)×V×C×(P·X·Y·Z)
        fused = self.fusion(sampled, valid)  # (B·T)×C×(P·X·Y·Z)
        fused = fused.reshape(b, tt, c, p, x, y, z)  # B×T×C×P×X×Y×Z
        return fused.permute(0, 3, 2, 1, 4, 5, 6)  # B×P×C×T×X×Y×Z

    @property
    def skip_channels(self) -> tuple[int, ...]:
        """Channels of the features :meth:`encode` returns as skips, coarse to fine."""
        blocks = [m for m in self.blocks if isinstance(m, Conv4dBlock)]
        return tuple(b.conv.out_channels for b in blocks[:-1])[::-1]

    def encode(
        self, tesseracts: Tensor, with_skips: bool = False
    ) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
        """(B, P, C, T, X, Y, Z) → bottleneck (B, P, C', T, X', Y', Z'), vector (B, P, D) and, with
        ``with_skips``, the features before each pooling (coarse to fine), else ()."""
        b, p = tesseracts.shape[:2]
        x = tesseracts.flatten(0, 1)  # (B·P)×C×T×X×Y×Z
        ckpt = self.checkpointing and torch.is_grad_enabled() and x.requires_grad
        skips: list[Tensor] = []
        if with_skips:
            h = x
            for layer in self.blocks:
                if isinstance(layer, MaxPool4d):
                    skips.append(h)
                h = checkpoint(layer, h, use_reentrant=False) if ckpt else layer(h)
        elif ckpt:
            h = checkpoint_sequential(self.blocks, len(self.blocks), x, use_reentrant=False)
        else:
            h = self.blocks(x)  # (B·P)×C'×T×X'×Y'×Z'
        vec = self.to_vector(h.flatten(2).mean(-1))  # (B·P)×D
        out_skips = tuple(s.reshape(b, p, *s.shape[1:]) for s in reversed(skips))
        return h.reshape(b, p, *h.shape[1:]), vec.reshape(b, p, -1), out_skips

    def forward(
        self, features: Tensor, centres: Tensor, views: Views, with_skips: bool = False
    ) -> DescriptorOutput:
        """features (B, T, V, C, h, w), centres (B, P, 3), views (B, T, V) → :class:`DescriptorOutput`
        (with the encoder's skip features when ``with_skips``)."""
        xyz = self.voxel_centres(centres)
        tess = self.sample(features, xyz, views)
        tensor, vector, skips = self.encode(tess, with_skips)
        return DescriptorOutput(tensor, vector, xyz, skips)
