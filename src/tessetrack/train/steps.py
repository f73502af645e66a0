"""What one training step computes: a batch on the device, the forward pass and its loss terms, for
the joint loss of eq. (4) (``full``) and for 2D pretraining of the backbone (``keypoints``)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch
from torch import Tensor, nn

from tessetrack.config import LossConfig
from tessetrack.losses import ClipTargets, LossTerms, keypoint_loss, total_loss
from tessetrack.model.tessetrack import ClipBatch, TesseTrack

__all__ = ["keypoint_step", "loss_terms", "loss_values", "to_device"]


def to_device(batch: Any, device: torch.device) -> Any:
    """A :class:`ClipBatch` or :class:`ClipTargets` with every tensor moved to ``device``."""
    kw = {
        f.name: (getattr(batch, f.name).to(device) if getattr(batch, f.name) is not None else None)
        for f in fields(batch)
    }
    return type(batch)(**kw)


def keypoint_step(
    model: TesseTrack, batch: ClipBatch, targets: ClipTargets, loss_config: LossConfig
) -> tuple[LossTerms, Tensor]:
    """The ``keypoints`` stage: backbone + 2D keypoint head on the anchor frames only.

    Returns:
        the loss terms (total = keypoints; the 3D terms are zero) and the heatmaps
        (B, A, V, Q, h, w).
    """
    if targets.keypoints is None or targets.keypoint_mask is None:
        raise ValueError("the keypoints stage needs ClipTargets.keypoints (from make_clip)")
    if batch.images is None:
        raise ValueError("the keypoints stage needs images (feature-input variants)")
    b, _, v = batch.view_mask.shape
    imgs = batch.images[:, list(model.anchors)]  # B×A×V×3×H×W
    heat = model.keypoint_heatmaps(imgs.flatten(0, 2))  # (B·A·V)×Q×h×w
    heat = heat.reshape(b, imgs.shape[1], v, *heat.shape[1:])
    l_kp = keypoint_loss(
        heat,
        targets.keypoints,
        targets.keypoint_mask,
        loss_config.keypoint_sigma,
        loss_config.keypoint_loss,
    )
    zero = l_kp.new_zeros(())
    return LossTerms(l_kp, zero, zero, zero, l_kp), heat


def loss_terms(
    ddp: nn.Module,
    model: TesseTrack,
    batch: ClipBatch,
    targets: ClipTargets,
    loss_config: LossConfig,
    *,
    device: torch.device,
    keypoints_stage: bool,
    amp: bool,
) -> LossTerms:
    """The step's loss terms: ``ddp`` (the model, DDP-wrapped when distributed) on ``batch`` under
    bf16 autocast when ``amp``; the ``keypoints`` stage runs the backbone alone (outside DDP)."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        if keypoints_stage:
            terms, _ = keypoint_step(model, batch, targets, loss_config)
            return terms
        outputs = ddp(batch)
    return total_loss(outputs, targets, model.grid, loss_config)


def loss_values(terms: LossTerms) -> dict[str, float]:
    """The loss terms as floats, keyed as the training log's columns."""
    return {
        "loss": float(terms.total.detach()),
        "detection": float(terms.detection.detach()),
        "tracking": float(terms.tracking.detach()),
        "pose": float(terms.pose.detach()),
        "keypoints": float(terms.keypoints.detach()) if torch.is_tensor(terms.keypoints) else 0.0,
    }
