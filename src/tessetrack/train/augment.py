"""Training-time randomness added to a step's clips: centre jitter, colour jitter, and the detection
noise models 2D-detection (H) models learn from. Every draw comes from the step's generator, so a
resumed run draws the same noise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from tessetrack.model.tessetrack import ClipBatch
from tessetrack.synth.detections_sim import DetectionNoise, detection_noise

__all__ = ["jitter_centres", "jitter_colours", "noise_models"]


def noise_models(spec: Any) -> DetectionNoise | tuple[DetectionNoise, ...]:
    """``train.detection_noise`` (one mapping, or a list drawn from per view) as noise models."""
    if isinstance(spec, Mapping):
        return detection_noise(spec)
    return tuple(detection_noise(m) for m in spec)


def jitter_centres(batch: ClipBatch, sigma: float, rng: np.random.Generator) -> ClipBatch:
    """The batch with Gaussian noise (σ metres per axis) on its teacher-forced centres (B, 2, P, 3).

    A batch without GT centres (no teacher forcing) comes back unchanged; the noise is drawn from
    ``rng`` (the step's generator, so a resumed run draws the same noise).
    """
    if batch.gt_centres is None or sigma <= 0:
        return batch
    c = batch.gt_centres
    noise = torch.from_numpy(rng.normal(0.0, sigma, size=tuple(c.shape))).to(c.dtype)
    return replace(batch, gt_centres=c + noise)


def jitter_colours(batch: ClipBatch, strength: float, rng: np.random.Generator) -> ClipBatch:
    """The batch with photometric noise on its images (B, F, V, 3, H, W) in [0, 1].

    Per clip and view, three factors are drawn uniformly from [1 − s, 1 + s]: a brightness
    gain, a contrast (scaling around the view's mean grey) and a per-channel gain (3 values);
    every frame of a view gets the same factors. The result is clipped to [0, 1]. A batch without
    images (heatmap input) or ``strength`` 0 comes back unchanged.
    """
    if batch.images is None or strength <= 0:
        return batch
    x = batch.images
    B, _, V = x.shape[:3]
    lo, hi = 1.0 - strength, 1.0 + strength
    gain = torch.from_numpy(rng.uniform(lo, hi, (B, 1, V, 1, 1, 1))).to(x.dtype)
    contrast = torch.from_numpy(rng.uniform(lo, hi, (B, 1, V, 1, 1, 1))).to(x.dtype)
    channel = torch.from_numpy(rng.uniform(lo, hi, (B, 1, V, 3, 1, 1))).to(x.dtype)
    mean = x.mean(dim=(1, 3, 4, 5), keepdim=True)  # (B, 1, V, 1, 1, 1) grey level of the view
    y = (mean + (x - mean) * contrast) * gain * channel
    return replace(batch, images=y.clamp(0.0, 1.0))
