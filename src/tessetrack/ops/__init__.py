"""Reusable differentiable ops of the TesseTrack network (paper §3).

- :mod:`~tessetrack.ops.heatmaps2d`: 2D joint heatmaps rendered from keypoints, and their peaks (§3.1)
- :mod:`~tessetrack.ops.unproject`: views → voxels (sampling + softmax view fusion, §3.1)
- :mod:`~tessetrack.ops.nms3d`: peaks of the person-centre heatmap (§3.1)
- :mod:`~tessetrack.ops.conv4d`: 4D convolution / deconvolution / pooling of tesseracts (§3.2, §3.4)
- :mod:`~tessetrack.ops.sinkhorn`: Softassign with dustbins for the matching layer (§3.3)
- :mod:`~tessetrack.ops.soft_argmax`: joint positions from 3D heatmaps (§3.4)
- :mod:`~tessetrack.ops.suppress`: of people found twice, the preferred one kept (greedy)
- :mod:`~tessetrack.ops.duplicates`: which 2D people of one image are one person found twice
- :mod:`~tessetrack.ops.assignment`: Hungarian assignment under a gate (refused pairs cost the gate)
"""

from __future__ import annotations

from tessetrack.ops.conv4d import (
    Conv4d,
    ConvTranspose4d,
    MaxPool4d,
    conv4d,
    conv_transpose4d,
    max_pool4d,
)
from tessetrack.ops.heatmaps2d import (
    heatmap_peaks,
    render_detection_heatmaps,
    rerender_heatmap_peaks,
)
from tessetrack.ops.nms3d import Peaks, nms3d, refine_peaks
from tessetrack.ops.sinkhorn import LOG_ZERO, assign, log_optimal_transport
from tessetrack.ops.soft_argmax import soft_argmax3d
from tessetrack.ops.suppress import greedy_keep
from tessetrack.ops.unproject import ViewFusion, pixels_to_grid_sample, sample_views

__all__ = [
    "Conv4d",
    "ConvTranspose4d",
    "LOG_ZERO",
    "MaxPool4d",
    "Peaks",
    "ViewFusion",
    "assign",
    "conv4d",
    "conv_transpose4d",
    "greedy_keep",
    "heatmap_peaks",
    "log_optimal_transport",
    "max_pool4d",
    "nms3d",
    "pixels_to_grid_sample",
    "refine_peaks",
    "render_detection_heatmaps",
    "rerender_heatmap_peaks",
    "sample_views",
    "soft_argmax3d",
]
