"""Training losses of TesseTrack (paper eqs. 1-4): pure functions of (outputs, targets).

- eq. (1) :func:`detection_loss`: distance between predicted and Gaussian target centre heatmaps
  (:func:`gaussian_centre_targets`): squared differences summed over the voxels as in the paper
  (``reduction="mean"`` divides by X·Y·Z), averaged over volumes.
- eq. (2) :func:`matching_loss`: negative log-likelihood of the ground-truth assignment under log P,
  including dustbin entries for persons without a partner; normalised by the number of terms.
- eq. (3) :func:`pose_loss`: L1 joint error + β·(−log heatmap probability at the GT joint, trilinear).
  The L1 term is measured in millimetres (``l1_scale = 1000`` on metre inputs), the unit in which the
  paper's β = γ = 0.01 balance the terms.
- eq. (4) :func:`total_loss`: ``L_D + α·L_T + γ·Σ_p L_P`` over the anchors of a training clip.

Ground-truth matching (which detection is which person) lives here too: :func:`assign_detections_to_gt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tessetrack.config import LossConfig
from tessetrack.geometry.voxel_grid import VoxelGrid, world_to_grid_sample
from tessetrack.ops.assignment import gated_assignment
from tessetrack.ops.heatmaps2d import render_detection_heatmaps

if TYPE_CHECKING:
    from tessetrack.model.tessetrack import TesseTrackOutput

__all__ = [
    "ClipTargets",
    "LossTerms",
    "gaussian_centre_targets",
    "detection_loss",
    "matching_loss",
    "identity_matches",
    "heatmap_probability_at",
    "pose_loss",
    "keypoint_targets",
    "keypoint_loss",
    "assign_detections_to_gt",
    "total_loss",
]


@dataclass(frozen=True, eq=False)
class ClipTargets:
    """Ground truth of a training clip at its A = 2 anchor frames (t and t+Δt).

    Slot p is the same person at both anchors (this defines the GT associations of eq. 2).

    Attributes:
        centres: (B, A, P, 3) person centres (midpoint of neck and mid-hip), metres.
        person_mask: (B, A, P) bool, person present at that anchor.
        joints: (B, A, P, Q, 3) joints in the model's joint set, metres.
        joint_mask: (B, A, P, Q) bool, joint annotated.
        keypoints: (B, A, V, P, Q, 2) GT joints projected into the views, as fractions of the image
            width/height ((u + 0.5) / W); only needed by the auxiliary 2D loss.
        keypoint_mask: (B, A, V, P, Q) bool, projected joint usable (view present, in the image).
    """

    centres: Tensor
    person_mask: Tensor
    joints: Tensor
    joint_mask: Tensor
    keypoints: Tensor | None = None
    keypoint_mask: Tensor | None = None


class LossTerms(NamedTuple):
    """Scalar losses; ``total = detection + α·tracking + γ·pose (+ keypoint_2d·keypoints)``."""

    total: Tensor
    detection: Tensor
    tracking: Tensor
    pose: Tensor
    keypoints: Tensor | float = 0.0


# --- eq. (1) -------------------------------------------------------------------------------------


def gaussian_centre_targets(
    centres: Tensor, grid: VoxelGrid, sigma: float, mask: Tensor | None = None
) -> Tensor:
    """Target centre heatmap: per voxel the max over persons of ``exp(-‖x - c‖² / 2σ²)``.

    Args:
        centres: (B, P, 3) person centres, metres.
        grid: the whole-space voxel grid.
        sigma: Gaussian width, metres.
        mask: (B, P) bool, persons to draw (default all).

    Returns:
        (B, X, Y, Z) in [0, 1]; all zeros where nobody is present.
    """
    b, p = centres.shape[:2]
    xyz = grid.centers(dtype=centres.dtype, device=centres.device)  # X×Y×Z×3
    if p == 0:
        return centres.new_zeros(b, *xyz.shape[:3])
    d2 = (xyz[None, None] - centres[:, :, None, None, None, :]).square().sum(-1)  # B×P×X×Y×Z
    g = torch.exp(-d2 / (2.0 * sigma**2))
    if mask is not None:
        g = g * mask[:, :, None, None, None]
    return g.amax(dim=1)  # B×X×Y×Z


def detection_loss(pred: Tensor, target: Tensor, reduction: str = "sum") -> Tensor:
    """Eq. (1): squared heatmap difference summed over voxels ("sum") or averaged ("mean"), then
    averaged over the leading dims; pred/target (..., X, Y, Z)."""
    d2 = (pred.float() - target.float()).square().flatten(-3)  # ...×(X·Y·Z)
    per_volume = d2.sum(-1) if reduction == "sum" else d2.mean(-1)
    return per_volume.mean()


# --- eq. (2) -------------------------------------------------------------------------------------


def identity_matches(mask0: Tensor, mask1: Tensor) -> Tensor:
    """GT associations when slot i is the same person at both anchors: (B, N) with i or -1."""
    idx = torch.arange(mask0.shape[1], device=mask0.device).expand_as(mask0)
    return torch.where(mask0 & mask1, idx, torch.full_like(idx, -1))


def matching_loss(log_p: Tensor, gt_matches0: Tensor, mask0: Tensor, mask1: Tensor) -> Tensor:
    """Eq. (2): −mean log P over the GT assignment, dustbins included.

    Args:
        log_p: (B, N+1, M+1) log assignment (last row/column = dustbins).
        gt_matches0: (B, N) long, GT partner at t+Δt of each person at t, or -1 (→ dustbin column).
        mask0, mask1: (B, N), (B, M) bool valid persons; valid persons at t+Δt that nobody at t
            matches contribute their dustbin-row entry.

    Returns:
        scalar; 0 (still attached to ``log_p``) when there is nobody.
    """
    b, n1, m1 = log_p.shape
    n, m = n1 - 1, m1 - 1
    matched0 = (gt_matches0 >= 0) & mask0  # B×N
    col = torch.where(matched0, gt_matches0.clamp(min=0), torch.full_like(gt_matches0, m))
    rows = log_p[:, :n, :].gather(2, col[..., None]).squeeze(-1)  # B×N
    hit = torch.zeros(b, m, dtype=torch.long, device=log_p.device)
    hit = hit.scatter_reduce(1, gt_matches0.clamp(min=0), matched0.long(), reduce="amax")
    unmatched1 = mask1 & (hit == 0)  # B×M
    cols = log_p[:, n, :m]  # B×M
    zero = log_p.new_zeros(())
    total = torch.where(mask0, -rows, zero).sum() + torch.where(unmatched1, -cols, zero).sum()
    count = mask0.sum() + unmatched1.sum()
    return total / count.clamp(min=1) + 0.0 * log_p.sum().nan_to_num(0.0, 0.0, 0.0)


# --- eq. (3) -------------------------------------------------------------------------------------


def heatmap_probability_at(
    probs: Tensor, points_world: Tensor, centres: Tensor, size: float
) -> Tensor:
    """Trilinear value of per-joint probability volumes at world points (zero outside the cuboid).

    Args:
        probs: (B, P, Q, X, Y, Z) per-joint probabilities over a cuboid's voxels.
        points_world: (B, P, Q, 3) query points, metres.
        centres: (B, P, 3) cuboid centres; the cuboid has edge ``size`` metres.

    Returns:
        (B, P, Q).
    """
    b, p, q = probs.shape[:3]
    vol = probs.reshape(b * p * q, 1, *probs.shape[3:])  # (B·P·Q)×1×X×Y×Z
    sizes = torch.full((3,), float(size), dtype=points_world.dtype, device=points_world.device)
    grid = world_to_grid_sample(
        points_world.reshape(b * p, q, 3), centres.reshape(b * p, 3), sizes
    )  # (B·P)×Q×3
    grid = grid.reshape(b * p * q, 1, 1, 1, 3).to(vol.dtype)  # (B·P·Q)×1×1×1×3
    out = F.grid_sample(vol, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(b, p, q)


def pose_loss(
    joints: Tensor,
    probs: Tensor,
    centres: Tensor,
    size: float,
    gt_joints: Tensor,
    joint_mask: Tensor,
    *,
    beta: float,
    l1_scale: float = 1000.0,
    eps: float = 1e-6,
) -> Tensor:
    """Eq. (3) per person: ``Σ_q ‖k_pred − k_gt‖₁·l1_scale − β·log T_q(k_gt)``.

    Args:
        joints: (B, P, Q, 3) predicted joints, metres.
        probs: (B, P, Q, X, Y, Z) heatmap probabilities of the tesseract voxels.
        centres: (B, P, 3) tesseract centres; ``size`` its edge in metres.
        gt_joints: (B, P, Q, 3) metres; joint_mask (B, P, Q) bool (unannotated joints / absent
            persons count zero).

    Returns:
        (B, P) loss per person (zero where no joint is annotated).
    """
    l1 = (joints.float() - gt_joints.float()).abs().sum(-1) * l1_scale  # B×P×Q
    prob = heatmap_probability_at(probs.float(), gt_joints.float(), centres.float(), size)
    nll = -torch.log(prob.clamp(min=0.0) + eps)  # B×P×Q
    per_joint = torch.where(joint_mask, l1 + beta * nll, l1.new_zeros(()))
    return per_joint.sum(-1)


# --- auxiliary 2D joint heatmaps (not in the paper; see BackboneConfig.keypoint_head) ---------------


def keypoint_targets(
    keypoints: Tensor, mask: Tensor, size: tuple[int, int], sigma: float
) -> Tensor:
    """Gaussian 2D joint heatmaps, max over persons.

    Args:
        keypoints: (N, P, Q, 2) joints as fractions of the image width/height ((u + 0.5) / W).
        mask: (N, P, Q) bool, joints to draw.
        size: (h, w) of the heatmaps; sigma: Gaussian width in heatmap pixels.

    Returns:
        (N, Q, h, w) targets in [0, 1].
    """
    h, w = size
    # fractions → heatmap pixels (pixel centres at integers), the mask as confidence
    px = keypoints * keypoints.new_tensor([w, h]) - 0.5  # N×P×Q×2
    kp = torch.cat([px, mask[..., None].to(keypoints.dtype)], dim=-1)  # N×P×Q×3
    return render_detection_heatmaps(kp, (h, w), sigma)


def keypoint_loss(
    heatmaps: Tensor, keypoints: Tensor, mask: Tensor, sigma: float, kind: str = "mse"
) -> Tensor:
    """2D joint-heatmap loss, averaged over the present views.

    Args:
        heatmaps: (B, A, V, Q, h, w) predicted heatmaps in [0, 1].
        keypoints: (B, A, V, P, Q, 2) GT as image fractions; mask (B, A, V, P, Q) bool.
        sigma: target width, heatmap pixels.
        kind: ``"mse"``: squared error against sub-pixel Gaussians, summed over pixels, averaged over
            present views × joints. ``"focal"``: CenterNet's penalty-reduced focal loss (Zhou et
            al. 2019, eq. 1; α = 2, β = 4) against Gaussians centred on the pixel holding each joint,
            summed and divided by the number of pixels holding a joint (joints outside the map
            hold none). With the sigmoid head, the squared
            error's gradient at a missed joint shrinks with the prediction (≈ 2p near 0), so a
            from-scratch backbone sits at "predict nothing"; the focal loss keeps it at ≈ 1.

    Returns:
        scalar. A view counts as present when any of its joints is usable.
    """
    b, a, v, q, h, w = heatmaps.shape
    kp = keypoints.flatten(0, 2).float()
    m = mask.flatten(0, 2)
    present = m.any(-1).any(-1)  # (B·A·V)
    pred = heatmaps.flatten(0, 2).float()
    if kind == "mse":
        target = keypoint_targets(kp, m, (h, w), sigma)  # (B·A·V)×Q×h×w
        err = ((pred - target) ** 2).sum((-1, -2))  # (B·A·V)×Q
        return (err.sum(-1) * present).sum() / (present.sum() * q).clamp(min=1)
    if kind != "focal":
        raise ValueError(f"unknown keypoint loss kind {kind!r}; choose 'mse' or 'focal'")
    size = kp.new_tensor([w, h])
    centre = ((kp * size - 0.5).round() + 0.5) / size  # the centre of the pixel holding the joint
    target = keypoint_targets(centre, m, (h, w), sigma)  # exactly 1 at that pixel
    p = pred.clamp(1e-4, 1.0 - 1e-4)
    pos = target >= 1.0
    pos_term = -((1.0 - p) ** 2) * torch.log(p)
    neg_term = -((1.0 - target) ** 4) * p**2 * torch.log(1.0 - p)
    per_view = torch.where(pos, pos_term, neg_term).sum((-1, -2, -3))  # (B·A·V)
    n_pos = (pos.flatten(1) & present[:, None]).sum()
    return (per_view * present).sum() / n_pos.clamp(min=1)


# --- GT matching ---------------------------------------------------------------------------------


def assign_detections_to_gt(
    det_centres: Tensor,
    det_mask: Tensor,
    gt_centres: Tensor,
    gt_mask: Tensor,
    *,
    max_distance: float,
) -> Tensor:
    """Hungarian assignment of detections to GT persons by centre distance.

    Args:
        det_centres: (B, K, 3); det_mask (B, K) bool.
        gt_centres: (B, P, 3); gt_mask (B, P) bool.
        max_distance: metres; further pairs stay unassigned.

    Returns:
        (B, K) long: GT slot of each detection or -1 (false positive / padding).
    """
    dist = torch.cdist(det_centres.detach().float(), gt_centres.detach().float()).cpu().numpy()
    ok = (det_mask[:, :, None] & gt_mask[:, None, :]).cpu().numpy() & (dist <= max_distance)
    out = np.full(det_mask.shape, -1, dtype=np.int64)
    for i in range(dist.shape[0]):  # one scipy assignment per batch item
        rows, cols = gated_assignment(dist[i], ok[i], max_distance)
        out[i, rows] = cols
    return torch.from_numpy(out).to(det_centres.device)


def _gather_slots(x: Tensor, index: Tensor) -> Tensor:
    """x (B, P, ...) gathered at index (B, K) (values -1 → slot 0; mask them afterwards) → (B, K, ...)."""
    if x.shape[1] == 0:  # nobody in the GT: nothing to gather
        return x.new_zeros(*index.shape, *x.shape[2:])
    idx = index.clamp(min=0).reshape(*index.shape, *([1] * (x.ndim - 2)))
    return x.gather(1, idx.expand(*index.shape, *x.shape[2:]))


# --- eq. (4) -------------------------------------------------------------------------------------


def total_loss(
    outputs: TesseTrackOutput,
    targets: ClipTargets,
    grid: VoxelGrid,
    config: LossConfig,
    *,
    max_distance: float = 0.5,
) -> LossTerms:
    """Eq. (4): ``L_D + α·L_T + γ·Σ_p L_P`` summed over the anchors, averaged over the batch.

    With teacher forcing (``outputs.teacher_forced``) the model's person slots are the GT slots;
    otherwise each detection is assigned to a GT person (:func:`assign_detections_to_gt`) and only
    true positives enter the pose loss; GT associations for eq. (2) follow the assigned identities.
    """
    b, a = outputs.centre_heatmaps.shape[:2]
    # eq. (1) at every anchor
    target_maps = gaussian_centre_targets(
        targets.centres.flatten(0, 1), grid, config.centre_sigma, targets.person_mask.flatten(0, 1)
    )  # (B·A)×X×Y×Z
    l_det = (
        detection_loss(
            outputs.centre_heatmaps.flatten(0, 1), target_maps, config.detection_reduction
        )
        * a
    )

    # which GT slot each model slot is
    if outputs.teacher_forced:
        slot_to_gt = torch.arange(outputs.person_mask.shape[2], device=outputs.person_mask.device)
        slot_to_gt = slot_to_gt.expand_as(outputs.person_mask).masked_fill(~outputs.person_mask, -1)
    else:
        slot_to_gt = assign_detections_to_gt(
            outputs.person_centres.flatten(0, 1),
            outputs.person_mask.flatten(0, 1),
            targets.centres.flatten(0, 1),
            targets.person_mask.flatten(0, 1),
            max_distance=max_distance,
        ).reshape(outputs.person_mask.shape)  # B×A×P
    tp = slot_to_gt >= 0  # B×A×P

    # eq. (2) between the two anchors
    l_track = outputs.centre_heatmaps.new_zeros(())
    if outputs.match is not None and outputs.match.log_P is not None:
        g0, g1 = slot_to_gt[:, 0], slot_to_gt[:, 1]  # B×N, B×M
        same = (g0[:, :, None] == g1[:, None, :]) & tp[:, 0, :, None] & tp[:, 1, None, :]  # B×N×M
        gt_matches0 = torch.where(same.any(-1), same.float().argmax(-1), torch.full_like(g0, -1))
        l_track = matching_loss(
            outputs.match.log_P, gt_matches0, outputs.person_mask[:, 0], outputs.person_mask[:, 1]
        )

    # eq. (3) for the true positives of every anchor
    gt_j = _gather_slots(targets.joints.flatten(0, 1), slot_to_gt.flatten(0, 1))  # (B·A)×P×Q×3
    gt_jm = _gather_slots(targets.joint_mask.flatten(0, 1), slot_to_gt.flatten(0, 1))
    gt_jm = gt_jm & tp.flatten(0, 1)[..., None]
    per_person = pose_loss(
        outputs.joints.flatten(0, 1),
        outputs.joint_probs.flatten(0, 1),
        outputs.person_centres.flatten(0, 1),
        outputs.tesseract_size,
        gt_j,
        gt_jm,
        beta=config.beta,
        l1_scale=config.l1_scale,
    )  # (B·A)×P
    l_pose = per_person.sum() / b + 0.0 * outputs.joints.sum()

    total = l_det + config.alpha * l_track + config.gamma * l_pose
    l_kp = total.new_zeros(())
    if config.keypoint_2d > 0 and outputs.keypoint_heatmaps is not None:
        if targets.keypoints is None or targets.keypoint_mask is None:
            raise ValueError("loss.keypoint_2d > 0 needs ClipTargets.keypoints (from make_clip)")
        l_kp = keypoint_loss(
            outputs.keypoint_heatmaps,
            targets.keypoints,
            targets.keypoint_mask,
            config.keypoint_sigma,
            config.keypoint_loss,
        )
        total = total + config.keypoint_2d * l_kp
    return LossTerms(total, l_det, l_track, l_pose, l_kp)
