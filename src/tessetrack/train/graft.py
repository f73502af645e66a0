"""Give a 2D-detections (H) model eyes: graft a stage-1 image backbone and its 2D joint head on it.

The paper's H variants cast the 2D joint heatmaps of a separately trained 2D pose network (HRNet)
into the voxel volume. Our H models are trained on heatmaps rendered from simulated 2D detections;
:func:`graft_image_heatmaps` puts a stage-1 backbone (``train.stage=keypoints``: backbone +
``keypoint_head``, trained on images against Gaussians at the GT joints with the same σ) in front
of one, so that the result reads images (``model.backbone.image_heatmaps``): the 2D network makes
the heatmaps, the H model's 3D network (detector, tesseracts, matcher, pose head) is kept as is.
Nothing is trained by the graft; the two parts were trained separately, as in the paper's H rows.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from tessetrack.errors import CheckpointError
from tessetrack.train.checkpoints import Checkpoint

__all__ = ["graft_image_heatmaps"]


def graft_image_heatmaps(
    body: Checkpoint, net2d: Checkpoint
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights and config of ``body`` (an H model) reading images through ``net2d``'s 2D network.

    Args:
        body: a heatmap-input checkpoint (``model.variant.input: heatmaps``).
        net2d: a feature-input checkpoint with a 2D head (``model.backbone.keypoint_head``), e.g. a
            stage-1 run; its joints must be the body's (same ``pose_head.joint_set``).

    Returns:
        ``(weights, config)``: the body's weights with ``backbone.*`` replaced by net2d's and
        ``heatmap_head.*`` = net2d's ``keypoint_head.*``; the body's config with net2d's backbone
        section, ``keypoint_head: false`` and ``image_heatmaps: true`` (the body's
        ``heatmap_sigma`` is kept: the σ its 3D network was trained with).

    Raises:
        CheckpointError: a body that is not an H model, a net2d without a 2D head, other joints,
            or a Gaussian σ that differs between the 2D head's targets and the body's heatmaps.
    """
    b, n = body.typed_config(), net2d.typed_config()
    if b.model.variant.input != "heatmaps":
        raise CheckpointError(f"{body.path}: not a heatmap-input (H) model")
    if not n.model.backbone.keypoint_head:
        raise CheckpointError(f"{net2d.path}: no 2D joint head (model.backbone.keypoint_head)")
    joints_b, joints_n = b.model.pose_head.joint_set, n.model.pose_head.joint_set
    if joints_b != joints_n:
        raise CheckpointError(
            f"{net2d.path}: its 2D head predicts {joints_n} joints, {body.path} reads {joints_b}"
        )
    sigma_b, sigma_n = b.model.backbone.heatmap_sigma, n.loss.keypoint_sigma
    if abs(sigma_b - sigma_n) > 1e-9:
        raise CheckpointError(
            f"{net2d.path}: its 2D head was trained on Gaussians of σ {sigma_n}, "
            f"{body.path} on heatmaps of σ {sigma_b}"
        )
    config = copy.deepcopy(body.config)
    backbone = dict(
        net2d.config["model"]["backbone"],
        keypoint_head=False,
        image_heatmaps=True,
        heatmap_sigma=sigma_b,
    )
    config["model"]["backbone"] = backbone
    weights = {
        k: v for k, v in body.weights.items() if not k.startswith(("backbone.", "heatmap_head."))
    }
    for k, v in net2d.weights.items():
        if k.startswith("backbone."):
            weights[k] = v
        elif k.startswith("keypoint_head."):
            weights["heatmap_head." + k[len("keypoint_head.") :]] = v
    return weights, config
