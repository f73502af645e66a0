"""Validation during training: the joint model on fixed clips (loss terms, MPJPE of the anchor
poses, matching accuracy) and the ``keypoints`` stage (2D loss, share of GT joints found)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from tessetrack.config import LossConfig
from tessetrack.eval.pose_metrics import joint_errors_mm
from tessetrack.losses import ClipTargets, total_loss
from tessetrack.model.tessetrack import ClipBatch, TesseTrack
from tessetrack.train.clips import collate_clips
from tessetrack.train.steps import keypoint_step, to_device

__all__ = ["evaluate_clips", "evaluate_keypoint_clips", "keypoint_hits", "validation_batches"]


def validation_batches(
    model: TesseTrack, clips: Sequence[dict[str, torch.Tensor]], device: torch.device
) -> Iterator[tuple[ClipBatch, ClipTargets]]:
    """Each validation clip alone, collated with teacher forcing and moved to ``device``, while the
    model is in eval mode (train mode comes back afterwards, also on an error)."""
    model.eval()
    try:
        for clip in clips:
            batch, targets = collate_clips([clip], teacher_forcing=True)
            yield to_device(batch, device), to_device(targets, device)
    finally:
        model.train()


@torch.no_grad()
def evaluate_clips(
    model: TesseTrack,
    clips: Sequence[dict[str, torch.Tensor]],
    device: torch.device,
    loss_config: LossConfig,
) -> dict[str, float]:
    """Validation on fixed clips: mean loss terms, MPJPE (mm) of the anchor poses of GT people, and the
    accuracy of the anchor-to-anchor matching (learned matchers)."""
    names = ("loss", "detection", "tracking", "pose", "keypoints")
    sums: dict[str, float] = dict.fromkeys(names, 0.0)
    err_sum, err_n, match_ok, match_n = 0.0, 0, 0, 0
    for batch, targets in validation_batches(model, clips, device):
        out = model(batch)
        terms = total_loss(out, targets, model.grid, loss_config)
        for k, v in zip(names, terms, strict=True):
            sums[k] += float(v)
        m = targets.joint_mask & targets.person_mask[..., None]  # B×A×P×J
        scored = m.cpu().numpy()
        e = joint_errors_mm(  # the metrics module's per-joint error, B×A×P×J mm
            out.joints.detach().cpu().double().numpy(),
            targets.joints.detach().cpu().double().numpy(),
            visible=scored,
        )
        err_sum += float(e[scored].sum())  # a NaN prediction of a scored joint stays visible
        err_n += int(scored.sum())
        if out.match is not None:
            both = targets.person_mask[:, 0] & targets.person_mask[:, 1]
            idx = torch.arange(both.shape[1], device=device).expand_as(both)
            match_ok += int(((out.match.matches0 == idx) & both).sum())
            match_n += int(both.sum())
    n = max(1, len(clips))
    res = {k: v / n for k, v in sums.items()}
    res["mpjpe_mm"] = err_sum / max(1, err_n)
    if match_n:
        res["match_accuracy"] = 100.0 * match_ok / match_n
    return res


def keypoint_hits(
    heat: Tensor, keypoints: Tensor, mask: Tensor, level: float = 0.5, radius: int = 0
) -> tuple[int, int]:
    """How many usable GT joints the 2D heatmaps find: value ≥ ``level`` at the joint's pixel, or
    anywhere within ``radius`` heatmap pixels of it (a (2r+1)² square).

    Args:
        heat: (B, A, V, Q, h, w) heatmaps; keypoints (B, A, V, P, Q, 2) image fractions; mask
            (B, A, V, P, Q) bool.

    Returns:
        (hits, usable joints).
    """
    if radius > 0:
        k = 2 * radius + 1
        heat = nn.functional.max_pool2d(heat.flatten(0, 2), k, 1, radius).reshape(heat.shape)
    h, w = heat.shape[-2:]
    px = (keypoints[..., 0] * w).floor().long().clamp(0, w - 1)  # B×A×V×P×Q
    py = (keypoints[..., 1] * h).floor().long().clamp(0, h - 1)
    flat = heat.flatten(-2)  # B×A×V×Q×(h·w)
    idx = (py * w + px).movedim(3, -1)  # B×A×V×Q×P
    vals = torch.gather(flat, -1, idx).movedim(-1, 3)  # B×A×V×P×Q
    ok = (vals >= level) & mask
    return int(ok.sum()), int(mask.sum())


@torch.no_grad()
def evaluate_keypoint_clips(
    model: TesseTrack,
    clips: Sequence[dict[str, torch.Tensor]],
    device: torch.device,
    loss_config: LossConfig,
) -> dict[str, float]:
    """Validation of the ``keypoints`` stage: mean 2D loss and the percentage of usable GT joints
    whose heatmap value reaches 0.5 (``keypoint_hit``)."""
    loss, hits, usable = 0.0, 0, 0
    for batch, targets in validation_batches(model, clips, device):
        terms, heat = keypoint_step(model, batch, targets, loss_config)
        loss += float(terms.total)
        h, n = keypoint_hits(heat, targets.keypoints, targets.keypoint_mask)
        hits, usable = hits + h, usable + n
    n = max(1, len(clips))
    return {"loss": loss / n, "keypoints": loss / n, "keypoint_hit": 100.0 * hits / max(1, usable)}
