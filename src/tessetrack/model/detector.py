"""Person detection network, PDN (paper §3.1).

The backbone features of all views are cast into one voxel grid spanning the whole observed space:
every voxel centre is projected into every view, the picked feature vectors are fused by a shallow
scoring network with a softmax over the views (``tessetrack.ops.unproject``); a 3D CNN regresses a
person-centre heatmap in [0, 1] (centre = midpoint of neck and mid-hip); 3D NMS keeps the peaks above
a threshold, refined to sub-voxel positions and converted to world metres.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from tessetrack.geometry.views import Views
from tessetrack.geometry.voxel_grid import VoxelGrid, index_to_world
from tessetrack.ops.nms3d import nms3d
from tessetrack.ops.unproject import ViewFusion, sample_views

__all__ = ["DetectorOutput", "ResBlock3d", "CentreNet3d", "PersonDetector", "height_features"]

#: The height range the bumps of :func:`height_features` cover (metres above the floor).
HEIGHT_RANGE = (0.0, 2.0)


class DetectorOutput(NamedTuple):
    """Attributes:
    heatmap: (B, X, Y, Z) centre heatmap in [0, 1].
    centres: (B, K, 3) detected centres in world metres (sub-voxel refined; garbage where not valid).
    scores: (B, K) heatmap value at the peak.
    valid: (B, K) bool, peaks above the threshold.
    """

    heatmap: Tensor
    centres: Tensor
    scores: Tensor
    valid: Tensor


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, c), c)


class ResBlock3d(nn.Module):
    """Two 3×3×3 convs with GroupNorm and a residual connection.

    With ``identity_init`` the last GroupNorm's scale starts at 0, so the block starts as the
    identity on non-negative inputs (``relu(x + 0) = x``) and a network grown by it keeps its outputs.
    """

    def __init__(self, channels: int, *, identity_init: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(channels, channels, 3, padding=1), _norm(channels), nn.ReLU(inplace=True),
            nn.Conv3d(channels, channels, 3, padding=1), _norm(channels),
        )  # fmt: skip
        if identity_init:
            nn.init.zeros_(self.body[-1].weight)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.body(x))


class CentreNet3d(nn.Module):
    """Encoder-decoder 3D CNN: (B, C, X, Y, Z) → centre heatmap (B, X, Y, Z) in [0, 1] (X, Y, Z even).

    ``refine_blocks`` residual blocks run at full resolution after the decoder (identity at init;
    none: the module has no ``refine`` weights, as checkpoints written before it).
    """

    def __init__(self, in_channels: int, hidden: int, num_blocks: int, refine_blocks: int = 0):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(in_channels, hidden, 3, padding=1), _norm(hidden), nn.ReLU(inplace=True)
        )
        self.down = nn.Sequential(
            nn.Conv3d(hidden, 2 * hidden, 3, stride=2, padding=1),
            _norm(2 * hidden),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.Sequential(*[ResBlock3d(2 * hidden) for _ in range(num_blocks)])
        self.up = nn.Sequential(
            nn.ConvTranspose3d(2 * hidden, hidden, 2, stride=2),
            _norm(hidden),
            nn.ReLU(inplace=True),
        )
        self.refine = nn.Sequential(
            *[ResBlock3d(hidden, identity_init=True) for _ in range(refine_blocks)]
        )
        self.head = nn.Conv3d(hidden, 1, 1)
        # Start from "almost nobody anywhere" (sigmoid(-4.6) = 0.01) instead of 0.5 everywhere: the
        # first steps then refine peaks instead of pushing a whole volume of 0.5s down to 0.
        nn.init.constant_(self.head.bias, -4.6)

    def forward(self, volume: Tensor) -> Tensor:
        skip = self.stem(volume)
        x = self.refine(self.up(self.blocks(self.down(skip))) + skip)
        return torch.sigmoid(self.head(x)[:, 0])  # B×X×Y×Z


def height_features(
    points: Tensor,
    up: Tensor,
    floor: float,
    levels: int,
    height_range: tuple[float, float] = HEIGHT_RANGE,
) -> Tensor:
    """Gaussian bumps of the height above the floor.

    Args:
        points: (..., 3) world points, metres.
        up: (3,) the world's up direction (any length; normalised here).
        floor: height of the floor along ``up`` (``dot(p, up/|up|)`` on the floor).
        levels: L >= 2 bumps, centred evenly over ``height_range``, each as wide as their spacing.

    Returns:
        (..., L) in (0, 1]: ``exp(-(h - c_l)^2 / (2 s^2))`` with ``h`` the height, ``c_l`` the
        centres, ``s`` their spacing.
    """
    u = up.to(points)
    h = points @ (u / torch.linalg.vector_norm(u)) - floor  # ...
    lo, hi = height_range
    centres = torch.linspace(lo, hi, levels, dtype=points.dtype, device=points.device)
    spacing = (hi - lo) / (levels - 1)
    return torch.exp(-0.5 * ((h[..., None] - centres) / spacing) ** 2)


class PersonDetector(nn.Module):
    """Views → whole-space volume → centre heatmap → NMS.

    Args:
        in_channels: R (or J for heatmap input).
        grid: the whole-space voxel grid (metres).
        hidden: 3D CNN width.
        num_blocks: residual blocks at half resolution.
        refine_blocks: residual blocks at full resolution after the decoder.
        fusion_hidden: hidden width of the view-fusion scoring net.
        nms_kernel, max_people, threshold: 3D NMS settings.
        height_levels: 0, or L >= 2 bumps of each voxel's height above the floor
            (:func:`height_features`) added to the fused volume through a zero-initialised
            1×1×1 conv (``height_mix``; absent when 0, as in checkpoints written before it).
        up, floor: the world's up direction and the floor's height along it.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        grid: VoxelGrid,
        hidden: int = 32,
        num_blocks: int = 3,
        refine_blocks: int = 0,
        fusion_hidden: int = 32,
        nms_kernel: int = 3,
        max_people: int = 10,
        threshold: float = 0.3,
        height_levels: int = 0,
        up: tuple[float, float, float] = (0.0, 0.0, 1.0),
        floor: float = 0.0,
    ):
        super().__init__()
        self.grid = grid
        self.fusion = ViewFusion(in_channels, hidden=fusion_hidden)
        self.height_levels = int(height_levels)
        self.up = tuple(float(u) for u in up)
        self.floor = float(floor)
        if self.height_levels:
            self.height_mix = nn.Conv3d(self.height_levels, in_channels, 1, bias=False)
            nn.init.zeros_(self.height_mix.weight)
        self.net = CentreNet3d(in_channels, hidden, num_blocks, refine_blocks)
        self.nms_kernel = nms_kernel
        self.max_people = max_people
        self.threshold = threshold

    def volume(self, features: Tensor, views: Views) -> Tensor:
        """features (B, V, C, h, w), views (B, V) → fused feature volume (B, C, X, Y, Z)."""
        b, _, c = features.shape[:3]
        # X×Y×Z×3 in the cameras' precision
        xyz = self.grid.centers(dtype=views.dtype, device=features.device)
        pts = xyz.reshape(1, -1, 3).expand(b, -1, 3)  # B×(X·Y·Z)×3
        sampled, valid = sample_views(features, pts, *views.tensors())  # B×V×C×N
        fused = self.fusion(sampled, valid)  # B×C×N
        volume = fused.reshape(b, c, *xyz.shape[:3])  # B×C×X×Y×Z
        if self.height_levels:
            up = torch.tensor(self.up, dtype=xyz.dtype, device=xyz.device)
            bumps = height_features(xyz, up, self.floor, self.height_levels)  # X×Y×Z×L
            bumps = bumps.permute(3, 0, 1, 2)[None].to(self.height_mix.weight.dtype)  # 1×L×X×Y×Z
            volume = volume + self.height_mix(bumps).to(volume.dtype)
        return volume

    def detect(
        self, heatmap: Tensor, threshold: float | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """NMS on (B, X, Y, Z) → centres (B, K, 3) metres, scores (B, K), valid (B, K).

        ``threshold``: the score a peak needs to be valid (default: the detector's own).
        """
        peaks = nms3d(
            heatmap.detach().float(),
            kernel_size=self.nms_kernel,
            max_people=self.max_people,
            threshold=self.threshold if threshold is None else threshold,
        )
        centres = index_to_world(peaks.refined.float(), self.grid)
        return centres, peaks.scores, peaks.valid

    def forward(
        self, features: Tensor, views: Views, threshold: float | None = None
    ) -> DetectorOutput:
        """features (B, V, C, h, w), views (B, V) → :class:`DetectorOutput` (peaks scoring at least
        ``threshold`` valid; default: the detector's own threshold)."""
        heatmap = self.net(self.volume(features, views))
        centres, scores, valid = self.detect(heatmap, threshold)
        return DetectorOutput(heatmap, centres, scores, valid)
