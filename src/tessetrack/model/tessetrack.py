"""The TesseTrack network (paper §3, Fig. 2): backbone → PDN → tesseracts → matcher → pose head.

Training clips. A clip holds F = T + Δt consecutive frames and two *anchors*, frames
``a0 = (T-1)/2`` and ``a1 = a0 + Δt`` (T = 1 for the instantaneous variants): the tesseract of a person
detected at anchor a spans frames ``a - (T-1)/2 … a + (T-1)/2``. The forward pass

1. runs the backbone on every frame and view (or takes 2D joint heatmaps for variant H),
2. runs the PDN at both anchors (centre heatmaps + NMS detections),
3. builds one tesseract per person slot at each anchor, centred on the GT centres when they are
   given (teacher forcing: everything after NMS is trainable from step 0) or on the NMS detections,
4. matches the persons of a0 to those of a1 (learned GNN + Sinkhorn, or Hungarian on poses),
5. estimates the pose of each person at its anchor; at a1 the descriptor is merged with its partner's
   descriptor from a0 when the windows overlap (Δt < T) — the partner is the same GT slot under teacher
   forcing, else the predicted match (no merge without a matcher).

The forward only predicts; losses are in :mod:`tessetrack.losses`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tessetrack.config import Config, ModelConfig
from tessetrack.errors import InputError
from tessetrack.geometry.voxel_grid import VoxelGrid
from tessetrack.model.backbone import HeatmapHead, build_backbone
from tessetrack.model.descriptor import TesseractDescriptor
from tessetrack.model.detector import PersonDetector
from tessetrack.model.matcher import LearnedMatcher, MatchOutput, hungarian_match
from tessetrack.model.pose_head import PoseHead
from tessetrack.ops.heatmaps2d import rerender_heatmap_peaks

__all__ = ["ClipBatch", "TesseTrackOutput", "TesseTrack", "build_model", "describe"]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, eq=False)
class ClipBatch:
    """A batch of training clips.

    Attributes:
        images: (B, F, V, 3, H, W) RGB in [0, 1], or None when ``heatmaps`` are given (variant H).
        K, R, t, dist: (B, F, V, 3, 3), (B, F, V, 3, 3), (B, F, V, 3), (B, F, V, 5) cameras
            (``x_cam = R·x_world + t``, OpenCV distortion), per frame so rigs may change over time.
        image_size: (B, F, V, 2) (W, H) of the images the cameras refer to.
        view_mask: (B, F, V) bool, view present at that frame.
        heatmaps: (B, F, V, J, h, w) external 2D joint heatmaps (variant H), e.g. from
            :func:`~tessetrack.ops.heatmaps2d.render_detection_heatmaps`.
        gt_centres: (B, 2, P, 3) GT person centres at the two anchors for teacher forcing, or None.
        gt_mask: (B, 2, P) bool, GT person present at that anchor.
    """

    K: Tensor
    R: Tensor
    t: Tensor
    dist: Tensor
    image_size: Tensor
    view_mask: Tensor
    images: Tensor | None = None
    heatmaps: Tensor | None = None
    gt_centres: Tensor | None = None
    gt_mask: Tensor | None = None

    def validate(self) -> None:
        """Refuse an inconsistent or non-finite batch with an :class:`InputError` naming the field.

        Checks that every tensor has the documented shape with the same (B, F, V) as ``view_mask``
        (e.g. as many cameras as images), that ``gt_centres``/``gt_mask`` agree, and that images,
        heatmaps, the cameras of present views and the present GT centres are finite. Non-finite
        values are *refused*, not sanitised: a NaN pixel means a broken decoder or normalisation
        upstream, and silently zeroing it would train on wrong data. The message names the first
        offending (batch, frame, view). Called by :meth:`TesseTrack.forward` (a few cheap reductions;
        on a GPU each check is one host sync).
        """
        if self.view_mask.ndim != 3:
            raise InputError(
                f"ClipBatch.view_mask must be (B, F, V), got shape {tuple(self.view_mask.shape)}"
            )
        bfv = tuple(self.view_mask.shape)
        cams = {"K": (3, 3), "R": (3, 3), "t": (3,), "dist": (5,), "image_size": (2,)}
        for name, tail in cams.items():
            what = "(B, F, V" + "".join(f", {n}" for n in tail) + ")"  # e.g. (B, F, V, 3, 3)
            _check_shape(name, getattr(self, name), (*bfv, *tail), what)
        for name, what in (("images", "(B, F, V, 3, H, W)"), ("heatmaps", "(B, F, V, J, h, w)")):
            x = getattr(self, name)
            if x is None:
                continue
            if x.ndim != 6 or tuple(x.shape[:3]) != bfv or (name == "images" and x.shape[3] != 3):
                raise InputError(
                    f"ClipBatch.{name} must be {what} with (B, F, V) = {bfv} like view_mask and "
                    f"the cameras, got shape {tuple(x.shape)} (as many views as cameras?)"
                )
            _check_finite(name, x, None)
        present = self.view_mask.bool()
        for name in cams:
            _check_finite(name, getattr(self, name), present)
        if self.gt_centres is not None:
            c = self.gt_centres
            if c.ndim != 4 or c.shape[:2] != (bfv[0], 2) or c.shape[3] != 3:
                raise InputError(
                    f"ClipBatch.gt_centres must be (B, 2, P, 3) with B = {bfv[0]}, "
                    f"got shape {tuple(c.shape)}"
                )
            if self.gt_mask is not None and tuple(self.gt_mask.shape) != tuple(c.shape[:3]):
                raise InputError(
                    f"ClipBatch.gt_mask must be (B, 2, P) = {tuple(c.shape[:3])} like gt_centres, "
                    f"got shape {tuple(self.gt_mask.shape)}"
                )
            m = self.gt_mask.bool() if self.gt_mask is not None else None
            bad = ~torch.isfinite(c).all(-1)  # B×2×P
            if m is not None:
                bad &= m
            if bool(bad.any()):
                b, a, p = (int(i) for i in bad.nonzero()[0])
                raise InputError(
                    f"ClipBatch.gt_centres is not finite for person {p} at anchor {a} of batch {b}"
                )


@dataclass(frozen=True, eq=False)
class TesseTrackOutput:
    """What :meth:`TesseTrack.forward` predicts for a clip (A = 2 anchors, P person slots).

    Attributes:
        centre_heatmaps: (B, A, X, Y, Z) PDN heatmaps in [0, 1].
        detections: (B, A, K, 3) NMS centres (metres); ``detection_scores``/``detection_valid`` (B, A, K).
        person_centres: (B, A, P, 3) centres the tesseracts are built on (GT or detections).
        person_mask: (B, A, P) bool valid slots.
        teacher_forced: whether ``person_centres`` are the GT centres (slot p = GT person p).
        descriptors: (B, A, P, C, T, X', Y', Z') bottleneck descriptors.
        descriptor_vectors: (B, A, P, D).
        match: anchor-0 ↔ anchor-1 matching (None for ``matcher: none``).
        joints: (B, A, P, Q, 3) poses at the anchors, metres.
        joint_probs: (B, A, P, Q, X, Y, Z) soft-argmax heatmaps over the tesseract voxels.
        merge_weights: (B, A, P, 2) merge weights (current descriptor, partner).
        tesseract_size: cuboid edge, metres.
        anchors: the two anchor frame indices in the clip.
        keypoint_heatmaps: (B, A, V, Q, h, w) auxiliary 2D joint heatmaps in [0, 1] at the anchors
            (``model.backbone.keypoint_head``), else None.
    """

    centre_heatmaps: Tensor
    detections: Tensor
    detection_scores: Tensor
    detection_valid: Tensor
    person_centres: Tensor
    person_mask: Tensor
    teacher_forced: bool
    descriptors: Tensor
    descriptor_vectors: Tensor
    match: MatchOutput | None
    joints: Tensor
    joint_probs: Tensor
    merge_weights: Tensor
    tesseract_size: float
    anchors: tuple[int, int]
    keypoint_heatmaps: Tensor | None = None


def _check_shape(name: str, x: Tensor, shape: tuple[int, ...], what: str) -> None:
    if tuple(x.shape) != shape:
        raise InputError(
            f"ClipBatch.{name} must be {what} = {shape} to match view_mask's (B, F, V), got shape "
            f"{tuple(x.shape)} (as many cameras as views?)"
        )


def _check_finite(name: str, x: Tensor, present: Tensor | None) -> None:
    """Raise naming the first (batch, frame, view) of x (B, F, V, ...) holding NaN/inf (among the
    ``present`` (B, F, V) entries when given)."""
    bad = ~torch.isfinite(x).flatten(3).all(-1)  # B×F×V
    if present is not None:
        bad &= present
    if bool(bad.any()):
        b, f, v = (int(i) for i in bad.nonzero()[0])
        raise InputError(
            f"ClipBatch.{name} has NaN or inf values at batch {b}, frame {f}, view {v} "
            f"({int(bad.sum())} (batch, frame, view) entries in all); fix the input "
            f"(e.g. a failed image decode) or drop the view (view_mask False and finite values)"
        )


def _take(x: Tensor, frames: Tensor) -> Tensor:
    """x (B, F, ...) at frame indices (A, T) → (B·A, T, ...)."""
    y = x[:, frames.reshape(-1)]  # B×(A·T)×...
    return y.reshape(x.shape[0] * frames.shape[0], frames.shape[1], *x.shape[2:])


class TesseTrack(nn.Module):
    """The full network; build it with :func:`build_model` from a :class:`~tessetrack.config.ModelConfig`.

    Args:
        config: the model config (unpacked here into explicit module arguments).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        v = config.variant
        t = config.tesseract
        self.heatmap_input = v.input == "heatmaps"
        self.matcher_kind = v.matcher
        self.time_window = config.time_window
        self.stride = t.stride
        self.tesseract_size = t.size
        cin = config.feature_channels
        self.backbone = build_backbone(
            name=config.backbone.name,
            out_channels=config.backbone.channels,
            small_width=config.backbone.small_width,
            small_dilations=config.backbone.small_dilations,
            weights=config.backbone.weights,
        )
        self.heatmap_head = (
            HeatmapHead(config.backbone.channels, config.pose_head.num_joints)
            if self.heatmap_input
            else None
        )
        # auxiliary 2D joint heatmaps (loss.keypoint_2d); low prior so that sigmoid starts near 0
        self.keypoint_head = (
            HeatmapHead(config.backbone.channels, config.pose_head.num_joints)
            if config.backbone.keypoint_head and not self.heatmap_input
            else None
        )
        if self.keypoint_head is not None:
            nn.init.constant_(self.keypoint_head.conv.bias, -4.6)
        self.register_buffer(
            "pixel_mean", torch.tensor(_IMAGENET_MEAN).view(3, 1, 1), persistent=False
        )
        self.register_buffer(
            "pixel_std", torch.tensor(_IMAGENET_STD).view(3, 1, 1), persistent=False
        )
        vol = config.volume
        self.detector = PersonDetector(
            in_channels=cin,
            grid=VoxelGrid(center=vol.center, size=vol.size, shape=vol.shape),
            hidden=config.detector.hidden,
            num_blocks=config.detector.num_blocks,
            refine_blocks=config.detector.refine_blocks,
            fusion_hidden=vol.fusion_hidden,
            nms_kernel=config.detector.nms_kernel,
            max_people=config.detector.max_people,
            threshold=config.detector.threshold,
            height_levels=config.detector.height_levels,
            up=config.detector.up,
            floor=config.detector.floor,
        )
        self.descriptor = TesseractDescriptor(
            in_channels=cin,
            size=t.size,
            shape=t.shape,
            time_window=self.time_window,
            channels=t.channels,
            descriptor_dim=t.descriptor_dim if v.matcher == "learned" else None,
            fusion_hidden=t.fusion_hidden,
            checkpointing=t.activation_checkpointing,
        )
        m = config.matcher
        self.matcher = (
            LearnedMatcher(
                dim=t.descriptor_dim,
                heads=m.heads,
                layers=m.layers,
                sinkhorn_iters=m.sinkhorn_iters,
                match_threshold=m.match_threshold,
                dustbin_init=m.dustbin_init,
                position_encoding=m.position_encoding,
                position_center=tuple(config.volume.center),
                position_scale=tuple(0.5 * x for x in config.volume.size),
            )
            if v.matcher == "learned"
            else None
        )
        self.max_distance = m.max_distance
        self.pose_head = PoseHead(
            in_channels=self.descriptor.out_channels,
            num_levels=len(t.channels) - 1,
            time_window=self.time_window,
            num_joints=config.pose_head.num_joints,
            merge_hidden=config.pose_head.merge_hidden,
            learned_merge=v.merge == "learned",
            beta=config.pose_head.softargmax_beta,
            refine=config.pose_head.refine,
            skip_channels=self.descriptor.skip_channels if config.pose_head.skips else None,
        )

    @property
    def grid(self) -> VoxelGrid:
        """The whole-space voxel grid of the PDN."""
        return self.detector.grid

    @property
    def reads_detections(self) -> bool:
        """Whether the network's input is external 2D detections rendered as heatmaps (variant H
        without ``backbone.image_heatmaps``); otherwise it reads images."""
        return self.heatmap_input and not self.config.backbone.image_heatmaps

    @property
    def anchors(self) -> tuple[int, int]:
        """Anchor frames (a0, a1) of a training clip."""
        h = (self.time_window - 1) // 2
        return h, h + self.stride

    # --- stages ----------------------------------------------------------------------------------

    def extract_features(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) RGB in [0, 1] → (N, C, H/4, W/4) features (R) or 2D heatmaps (J, variant H)."""
        feats = self.backbone(self._normalised(images))
        if self.heatmap_head is None:
            return feats
        heat = self.heatmap_head(feats)
        b = self.config.backbone
        if b.image_heatmaps_peaks:
            heat = rerender_heatmap_peaks(
                heat,
                sigma=b.heatmap_sigma,
                threshold=b.image_heatmaps_threshold,
                max_peaks=2 * self.config.detector.max_people,
            )
        return heat

    @property
    def has_2d_network(self) -> bool:
        """Whether the model makes 2D joint heatmaps from images (:meth:`image_joint_heatmaps`)."""
        return self.keypoint_head is not None or (
            self.heatmap_head is not None and not self.reads_detections
        )

    def _normalised(self, images: Tensor) -> Tensor:
        """RGB in [0, 1] → the backbone's input (ImageNet mean and std)."""
        return (images - self.pixel_mean.to(images.dtype)) / self.pixel_std.to(images.dtype)

    def image_joint_heatmaps(self, images: Tensor) -> Tensor:
        """The 2D network's joint heatmaps of (N, 3, H, W) RGB images in [0, 1], as it makes them
        (no redrawing from peaks) → (N, Q, H/4, W/4): the keypoint head of a feature model, or the
        heatmap head of an H model that reads images (``backbone.image_heatmaps``)."""
        if self.keypoint_head is not None:
            return self.keypoint_heatmaps(images)
        if not self.has_2d_network:
            raise InputError(
                "this model has no 2D network of its own: it needs a keypoint head (feature "
                "variants) or backbone.image_heatmaps (H variants)"
            )
        return self.heatmap_head(self.backbone(self._normalised(images)))

    def keypoint_heatmaps(self, images: Tensor) -> Tensor:
        """Auxiliary 2D joint heatmaps (``model.backbone.keypoint_head``) of (N, 3, H, W) RGB images in
        [0, 1] → (N, Q, H/4, W/4) in [0, 1]; runs the backbone only (2D pretraining stage)."""
        if self.keypoint_head is None:
            raise InputError(
                "this model has no 2D keypoint head: set model.backbone.keypoint_head=true "
                "(feature-input variants only)"
            )
        return self.keypoint_head(self.extract_features(images))

    @property
    def uses_skips(self) -> bool:
        """Whether the pose head takes the current tesseract's encoder features (U-Net skips)."""
        return self.pose_head.skips

    def estimate_poses(
        self,
        descriptors: Tensor,
        mask: Tensor,
        voxel_centres: Tensor,
        skips: Sequence[Tensor] | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Pose head on stacks of descriptors.

        Args:
            descriptors: (N, K, C, T, X', Y', Z'), slot 0 the current descriptor.
            mask: (N, K) bool.
            voxel_centres: (N, X, Y, Z, 3) of the current tesseract.
            skips: the current tesseract's encoder features, coarse to fine, each
                (N, C_l, T, X_l, Y_l, Z_l) (:attr:`uses_skips` models only).

        Returns:
            joints (N, Q, 3), probs (N, Q, X, Y, Z), merge weights (N, K).
        """
        out = self.pose_head(descriptors, mask, voxel_centres, skips)
        return out.joints, out.probs, out.weights

    # --- forward ---------------------------------------------------------------------------------

    def forward(self, batch: ClipBatch) -> TesseTrackOutput:
        """Predict detections, descriptors, matches and poses for a batch of training clips."""
        batch.validate()
        b, f, v = batch.view_mask.shape
        a0, a1 = self.anchors
        h = (self.time_window - 1) // 2
        if f < a1 + h + 1:
            raise InputError(
                f"a clip needs at least T + Δt = {a1 + h + 1} frames (T={self.time_window}, "
                f"Δt={self.stride}), got {f}"
            )
        # 1. per-frame features: B×F×V×C×h×w
        if self.heatmap_input and batch.heatmaps is not None:
            feats = batch.heatmaps
        else:
            if batch.images is None:
                raise InputError("ClipBatch.images is required (or heatmaps for variant H)")
            imgs = batch.images
            feats = self.extract_features(imgs.flatten(0, 2))  # (B·F·V)×C×h×w
            feats = feats.reshape(b, f, v, *feats.shape[1:])  # B×F×V×C×h×w
        anchors = torch.tensor([a0, a1], device=feats.device)
        keypoints = None
        if self.keypoint_head is not None:
            kf = feats[:, anchors]  # B×A×V×C×h×w
            keypoints = self.keypoint_head(kf.flatten(0, 2)).reshape(b, 2, v, -1, *kf.shape[-2:])
        cams = (batch.K, batch.R, batch.t, batch.dist, batch.image_size, batch.view_mask)

        # 2. PDN at both anchors: (B·A) items
        det = self.detector(*(_take(x, anchors[:, None])[:, 0] for x in (feats, *cams)))
        heat = det.heatmap.reshape(b, 2, *det.heatmap.shape[1:])  # B×A×X×Y×Z
        det_c = det.centres.reshape(b, 2, -1, 3)  # B×A×K×3
        det_s = det.scores.reshape(b, 2, -1)
        det_v = det.valid.reshape(b, 2, -1)

        # 3. person slots: GT (teacher forcing) or detections; at least one (masked) slot
        teacher = batch.gt_centres is not None
        if teacher:
            centres = batch.gt_centres.to(batch.K.dtype)  # geometry stays in camera precision
            pmask = (
                batch.gt_mask.bool()
                if batch.gt_mask is not None
                else torch.ones(centres.shape[:3], dtype=torch.bool, device=centres.device)
            )
        else:
            centres, pmask = det_c.detach().to(batch.K.dtype), det_v
        if centres.shape[2] == 0:
            centre = torch.tensor(self.grid.center, dtype=batch.K.dtype, device=feats.device)
            centres = centre.expand(b, 2, 1, 3)
            pmask = torch.zeros(b, 2, 1, dtype=torch.bool, device=feats.device)
        centres = torch.where(pmask[..., None], centres, centres.new_tensor(self.grid.center))
        p = centres.shape[2]

        # tesseracts of every slot at both anchors
        window = anchors[:, None] + torch.arange(-h, h + 1, device=feats.device)  # A×T
        desc = self.descriptor(
            _take(feats, window),
            centres.flatten(0, 1),
            *(_take(x, window) for x in cams),
            with_skips=self.uses_skips,
        )
        # U-Net skips of every slot at both anchors, flattened like the pose-head rows: (B·A·P)×...
        skips = tuple(x.flatten(0, 1) for x in desc.skips) if self.uses_skips else None
        d_tensor = desc.tensor.reshape(b, 2, p, *desc.tensor.shape[2:])  # B×A×P×C×T×X'×Y'×Z'
        d_vec = desc.vector.reshape(b, 2, p, -1)  # B×A×P×D
        xyz = desc.voxel_centres.reshape(b, 2, p, *desc.voxel_centres.shape[2:])  # B×A×P×X×Y×Z×3

        # 4-5. matching and poses
        overlap = self.stride < self.time_window
        zeros = torch.zeros_like(d_tensor[:, 0])  # B×P×C×T×X'×Y'×Z'
        alone = torch.stack(
            [d_tensor, torch.stack([zeros, zeros], 1)], dim=3
        )  # B×A×P×2×C×T×X'×Y'×Z'
        alone_mask = torch.stack([pmask, torch.zeros_like(pmask)], dim=-1)  # B×A×P×2

        match: MatchOutput | None = None
        if self.matcher is not None:
            match = self.matcher(
                d_vec[:, 0], d_vec[:, 1], pmask[:, 0], pmask[:, 1], centres[:, 0], centres[:, 1]
            )
        if self.matcher_kind == "hungarian" or not overlap:
            joints, probs, weights = self.estimate_poses(
                alone.flatten(0, 2), alone_mask.flatten(0, 2), xyz.flatten(0, 2), skips
            )
            if self.matcher_kind == "hungarian":
                jj = joints.reshape(b, 2, p, *joints.shape[1:])
                match = hungarian_match(
                    jj[:, 0], jj[:, 1], pmask[:, 0], pmask[:, 1], max_distance=self.max_distance
                )
        if overlap:
            # partner at a0 of each slot at a1: same GT slot, the predicted match, or none
            if teacher:
                partner = torch.arange(p, device=feats.device).expand(b, p)
                has = pmask[:, 0] & pmask[:, 1]
            elif match is None:
                partner = torch.zeros(b, p, dtype=torch.long, device=feats.device)
                has = torch.zeros_like(pmask[:, 1])
            else:
                partner = match.matches1.clamp(min=0)
                has = (match.matches1 >= 0) & pmask[:, 1]
            idx = partner.reshape(b, p, *([1] * (d_tensor.ndim - 3))).expand_as(d_tensor[:, 0])
            prev = d_tensor[:, 0].gather(1, idx)  # B×P×C×T×X'×Y'×Z'
            stack = alone.clone()
            stack[:, 1, :, 1] = prev
            smask = alone_mask.clone()
            smask[:, 1, :, 1] = has
            joints, probs, weights = self.estimate_poses(
                stack.flatten(0, 2), smask.flatten(0, 2), xyz.flatten(0, 2), skips
            )

        return TesseTrackOutput(
            centre_heatmaps=heat,
            detections=det_c,
            detection_scores=det_s,
            detection_valid=det_v,
            person_centres=centres,
            person_mask=pmask,
            teacher_forced=teacher,
            descriptors=d_tensor,
            descriptor_vectors=d_vec,
            match=match,
            joints=joints.reshape(b, 2, p, *joints.shape[1:]),
            joint_probs=probs.reshape(b, 2, p, *probs.shape[1:]),
            merge_weights=weights.reshape(b, 2, p, -1),
            tesseract_size=self.tesseract_size,
            anchors=(a0, a1),
            keypoint_heatmaps=keypoints,
        )


# --- factories -----------------------------------------------------------------------------------


def build_model(config: ModelConfig | Config) -> TesseTrack:
    """The network of a config (a :class:`Config` or its ``model`` part). Loads backbone weights only
    when ``backbone.weights`` names a local file."""
    return TesseTrack(config.model if isinstance(config, Config) else config)


def describe(model: nn.Module) -> dict[str, int]:
    """Parameter counts per top-level submodule and ``total``."""
    counts = {
        name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()
    }
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts
