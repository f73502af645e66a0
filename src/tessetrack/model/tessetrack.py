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
   descriptor from a0 by the rule of :func:`merge_slots` — the partner is the same GT slot under
   teacher forcing, else the predicted match (none without a matcher).

Each step is a public method — :meth:`TesseTrack.extract_features`, :meth:`~TesseTrack.detect`,
:meth:`~TesseTrack.describe`, :meth:`~TesseTrack.link`, :meth:`~TesseTrack.pose` — taking the cameras
as one :class:`~tessetrack.geometry.views.Views`; :meth:`TesseTrack.forward` (training clips) and
:class:`tessetrack.tracking.runner.SequenceRunner` (tracking a sequence) only drive them.

The forward only predicts; losses are in :mod:`tessetrack.losses`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tessetrack.config import Config, ModelConfig
from tessetrack.errors import InputError
from tessetrack.geometry.views import Views
from tessetrack.geometry.voxel_grid import VoxelGrid
from tessetrack.model.backbone import HeatmapHead, build_backbone
from tessetrack.model.descriptor import DescriptorOutput, TesseractDescriptor
from tessetrack.model.detector import DetectorOutput, PersonDetector
from tessetrack.model.matcher import LearnedMatcher, MatchOutput, hungarian_match
from tessetrack.model.pose_head import PoseHead, PoseOutput
from tessetrack.ops.heatmaps2d import rerender_heatmap_peaks

__all__ = [
    "ClipBatch",
    "TesseTrackOutput",
    "TesseTrack",
    "build_model",
    "describe",
    "merge_slots",
]

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

    @property
    def views(self) -> Views:
        """The cameras as one (B, F, V) :class:`~tessetrack.geometry.views.Views`."""
        return Views(self.K, self.R, self.t, self.dist, self.image_size, self.view_mask)

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


def merge_slots(
    descriptors: Tensor,
    partners: Tensor | None,
    linked: Tensor | None,
    gap: Tensor | int,
    time_window: int,
    valid: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The pose head's two descriptor slots for N people, and which of them it merges.

    Slot 0 holds each person's current descriptor, slot 1 its *partner's*: the descriptor of the
    same person at an earlier anchor, ``gap`` frames before — the same GT person under teacher
    forcing (training), the matched person (a matcher in training), or the person's track
    (tracking, whatever linked it). The partner is merged in exactly when

    * the current person is real (``valid``; padded person slots of a batch are not) and a
      partner is known (``linked``), and
    * the two tesseract windows overlap: ``gap < T`` (they share frames).

    The kind of matcher plays no part. This is the rule the models are trained with: a
    ``matcher: none`` model learns, under teacher forcing, to merge its GT partners, so when
    tracking it merges with the partner its track's pose-distance link gives; it merges nothing
    only where no partner is known (a training forward on detections). The one alternative — never
    merging for ``matcher: none`` when tracking — differs only for such models; every shipped
    checkpoint has a learned matcher and tracks the same under both.

    Args:
        descriptors: (N, C, T, X', Y', Z') the current descriptors.
        partners: (N, C, T, X', Y', Z') the partners' descriptors (any finite values where no
            partner is known), or None when nobody has one.
        linked: (N,) bool, a partner is known; None: nobody has one.
        gap: (N,) integer tensor or one int, frames from the partner's anchor to the current one.
        time_window: T, frames of a tesseract.
        valid: (N,) bool, the current descriptor is a person's (None: all are); an invalid row
            gets an all-False mask, which the pose head turns into zero merge weights.

    Returns:
        stack (N, 2, C, T, X', Y', Z'), slot 1 zero where nothing is merged, and mask (N, 2) bool:
        (valid, merged).
    """
    n = descriptors.shape[0]
    if valid is None:
        valid = torch.ones(n, dtype=torch.bool, device=descriptors.device)
    merged = torch.zeros_like(valid)
    if partners is not None and linked is not None:
        gaps = torch.as_tensor(gap, device=descriptors.device)
        merged = valid & linked.bool() & (gaps < time_window)  # N
        where = merged.reshape(n, *([1] * (descriptors.ndim - 1)))
        partner = torch.where(where, partners.to(descriptors.dtype), 0.0)
    else:
        partner = torch.zeros_like(descriptors)
    stack = torch.stack([descriptors, partner], dim=1)  # N×2×C×T×X'×Y'×Z'
    mask = torch.stack([valid, merged], dim=1)  # N×2
    return stack, mask


def _build_detector(config: ModelConfig) -> PersonDetector:
    vol, d = config.volume, config.detector
    return PersonDetector(
        in_channels=config.feature_channels,
        grid=VoxelGrid(center=vol.center, size=vol.size, shape=vol.shape),
        hidden=d.hidden,
        num_blocks=d.num_blocks,
        refine_blocks=d.refine_blocks,
        fusion_hidden=vol.fusion_hidden,
        nms_kernel=d.nms_kernel,
        max_people=d.max_people,
        threshold=d.threshold,
        height_levels=d.height_levels,
        up=d.up,
        floor=d.floor,
    )


def _build_descriptor(config: ModelConfig) -> TesseractDescriptor:
    t = config.tesseract
    return TesseractDescriptor(
        in_channels=config.feature_channels,
        size=t.size,
        shape=t.shape,
        time_window=config.time_window,
        channels=t.channels,
        descriptor_dim=t.descriptor_dim if config.variant.matcher == "learned" else None,
        fusion_hidden=t.fusion_hidden,
        checkpointing=t.activation_checkpointing,
    )


def _build_matcher(config: ModelConfig) -> LearnedMatcher | None:
    if config.variant.matcher != "learned":
        return None
    m = config.matcher
    return LearnedMatcher(
        dim=config.tesseract.descriptor_dim,
        heads=m.heads,
        layers=m.layers,
        sinkhorn_iters=m.sinkhorn_iters,
        match_threshold=m.match_threshold,
        dustbin_init=m.dustbin_init,
        position_encoding=m.position_encoding,
        position_center=tuple(config.volume.center),
        position_scale=tuple(0.5 * x for x in config.volume.size),
    )


def _build_pose_head(config: ModelConfig, descriptor: TesseractDescriptor) -> PoseHead:
    p = config.pose_head
    return PoseHead(
        in_channels=descriptor.out_channels,
        num_levels=len(config.tesseract.channels) - 1,
        time_window=config.time_window,
        num_joints=p.num_joints,
        merge_hidden=p.merge_hidden,
        learned_merge=config.variant.merge == "learned",
        beta=p.softargmax_beta,
        refine=p.refine,
        skip_channels=descriptor.skip_channels if p.skips else None,
    )


class TesseTrack(nn.Module):
    """The full network; build it with :func:`build_model` from a :class:`~tessetrack.config.ModelConfig`.

    Args:
        config: the model config (unpacked here into explicit module arguments).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        v = config.variant
        self.heatmap_input = v.input == "heatmaps"
        self.matcher_kind = v.matcher
        self.time_window = config.time_window
        self.stride = config.tesseract.stride
        self.tesseract_size = config.tesseract.size
        b = config.backbone
        self.backbone = build_backbone(
            name=b.name,
            out_channels=b.channels,
            small_width=b.small_width,
            small_dilations=b.small_dilations,
            weights=b.weights,
        )
        joints = config.pose_head.num_joints
        self.heatmap_head = HeatmapHead(b.channels, joints) if self.heatmap_input else None
        # auxiliary 2D joint heatmaps (loss.keypoint_2d); low prior so that sigmoid starts near 0
        self.keypoint_head = (
            HeatmapHead(b.channels, joints) if b.keypoint_head and not self.heatmap_input else None
        )
        if self.keypoint_head is not None:
            nn.init.constant_(self.keypoint_head.conv.bias, -4.6)
        self.register_buffer(
            "pixel_mean", torch.tensor(_IMAGENET_MEAN).view(3, 1, 1), persistent=False
        )
        self.register_buffer(
            "pixel_std", torch.tensor(_IMAGENET_STD).view(3, 1, 1), persistent=False
        )
        self.detector = _build_detector(config)
        self.descriptor = _build_descriptor(config)
        self.matcher = _build_matcher(config)
        self.max_distance = config.matcher.max_distance
        self.pose_head = _build_pose_head(config, self.descriptor)

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

    def detect(
        self, features: Tensor, views: Views, threshold: float | None = None
    ) -> DetectorOutput:
        """The person detection network (PDN) on one frame per batch item.

        Args:
            features: (B, V, C, h, w) the frame's backbone features, or 2D joint heatmaps for
                variant H (:meth:`extract_features`, or rendered detections).
            views: (B, V) the frame's cameras.
            threshold: the centre-heatmap score a peak needs to count as a person (default: the
                model's ``detector.threshold``).

        Returns:
            :class:`~tessetrack.model.detector.DetectorOutput`: heatmap (B, X, Y, Z) and the NMS
            peaks — centres (B, K, 3) metres, scores (B, K), valid (B, K) (K =
            ``detector.max_people``, best first).
        """
        return self.detector(features, views, threshold)

    def describe(self, features: Tensor, centres: Tensor, views: Views) -> DescriptorOutput:
        """Tesseracts of P people centred on ``centres``, through the 4D CNN.

        Args:
            features: (B, T, V, C, h, w) features of the T frames of the window centred on the
                anchor frame.
            centres: (B, P, 3) person centres at the anchor, metres.
            views: (B, T, V) cameras of those frames.

        Returns:
            :class:`~tessetrack.model.descriptor.DescriptorOutput`: descriptors
            (B, P, C, T, X', Y', Z'), vectors (B, P, D), voxel centres (B, P, X, Y, Z, 3) and, for
            :attr:`uses_skips` models, the encoder's skip features.
        """
        return self.descriptor(features, centres.to(views.dtype), views, with_skips=self.uses_skips)

    def link(
        self, vectors: Tensor, centres: Tensor, mask: Tensor, joints: Tensor | None = None
    ) -> MatchOutput | None:
        """Match the people of anchor 0 to those of anchor 1, by the model's matcher.

        Args:
            vectors: (B, 2, P, D) descriptor vectors at the two anchors.
            centres: (B, 2, P, 3) person centres, metres (the learned matcher's position encoding).
            mask: (B, 2, P) bool, valid people.
            joints: (B, 2, P, Q, 3) each person's pose alone (no merge), needed by the Hungarian
                matcher only.

        Returns:
            the learned (GNN + Sinkhorn) or Hungarian matching; None for ``matcher: none``.
        """
        if self.matcher is not None:
            return self.matcher(
                vectors[:, 0], vectors[:, 1], mask[:, 0], mask[:, 1], centres[:, 0], centres[:, 1]
            )
        if self.matcher_kind != "hungarian":
            return None
        if joints is None:
            raise InputError("the Hungarian matcher links poses: pass each person's joints")
        return hungarian_match(
            joints[:, 0], joints[:, 1], mask[:, 0], mask[:, 1], max_distance=self.max_distance
        )

    def pose(
        self,
        descriptors: Tensor,
        voxel_centres: Tensor,
        skips: Sequence[Tensor] | None = None,
        *,
        partners: Tensor | None = None,
        linked: Tensor | None = None,
        gap: Tensor | int = 1,
        valid: Tensor | None = None,
    ) -> PoseOutput:
        """Poses of N people, each from its descriptor merged with its partner's by the rule of
        :func:`merge_slots`.

        Args:
            descriptors: (N, C, T, X', Y', Z') current descriptors.
            voxel_centres: (N, X, Y, Z, 3) of the current tesseracts.
            skips: the current tesseracts' encoder features (:attr:`uses_skips` models only).
            partners: (N, C, T, X', Y', Z') the partners' descriptors, or None (poses alone).
            linked: (N,) bool, a partner is known.
            gap: (N,) or one int, frames from the partners' anchor to the current one.
            valid: (N,) bool, the rows that are people (None: all; padded slots of a training
                batch are not).

        Returns:
            :class:`~tessetrack.model.pose_head.PoseOutput`: joints (N, Q, 3) metres, probs
            (N, Q, X, Y, Z), merge weights (N, 2).
        """
        stack, mask = merge_slots(descriptors, partners, linked, gap, self.time_window, valid)
        return PoseOutput(*self.estimate_poses(stack, mask, voxel_centres, skips))

    # --- forward ---------------------------------------------------------------------------------

    def forward(self, batch: ClipBatch) -> TesseTrackOutput:
        """Predict detections, descriptors, matches and poses for a batch of training clips."""
        batch.validate()
        b, f, _ = batch.view_mask.shape
        a0, a1 = self.anchors
        h = (self.time_window - 1) // 2
        if f < a1 + h + 1:
            raise InputError(
                f"a clip needs at least T + Δt = {a1 + h + 1} frames (T={self.time_window}, "
                f"Δt={self.stride}), got {f}"
            )
        feats = self._clip_features(batch)  # B×F×V×C×h×w
        views = batch.views  # B×F×V
        anchors = torch.tensor([a0, a1], device=feats.device)

        # PDN at both anchors: (B·A) items
        at = anchors[:, None]  # A×1
        det = self.detect(_take(feats, at)[:, 0], views.map(lambda x: _take(x, at)[:, 0]))

        # tesseracts of every person slot at both anchors
        centres, pmask = self._person_slots(batch, det)  # B×A×P×3, B×A×P
        window = anchors[:, None] + torch.arange(-h, h + 1, device=feats.device)  # A×T
        desc = self.describe(
            _take(feats, window), centres.flatten(0, 1), views.map(lambda x: _take(x, window))
        )
        match, poses = self._link_and_pose(desc, centres, pmask, batch.gt_centres is not None)

        p = centres.shape[2]
        return TesseTrackOutput(
            centre_heatmaps=det.heatmap.reshape(b, 2, *det.heatmap.shape[1:]),  # B×A×X×Y×Z
            detections=det.centres.reshape(b, 2, -1, 3),  # B×A×K×3
            detection_scores=det.scores.reshape(b, 2, -1),
            detection_valid=det.valid.reshape(b, 2, -1),
            person_centres=centres,
            person_mask=pmask,
            teacher_forced=batch.gt_centres is not None,
            descriptors=desc.tensor.reshape(b, 2, p, *desc.tensor.shape[2:]),
            descriptor_vectors=desc.vector.reshape(b, 2, p, -1),  # B×A×P×D
            match=match,
            joints=poses.joints.reshape(b, 2, p, *poses.joints.shape[1:]),
            joint_probs=poses.probs.reshape(b, 2, p, *poses.probs.shape[1:]),
            merge_weights=poses.weights.reshape(b, 2, p, -1),
            tesseract_size=self.tesseract_size,
            anchors=(a0, a1),
            keypoint_heatmaps=self._anchor_keypoints(feats, anchors),
        )

    def _clip_features(self, batch: ClipBatch) -> Tensor:
        """Per-frame features (B, F, V, C, h, w): the given heatmaps (variant H) or the backbone's."""
        if self.heatmap_input and batch.heatmaps is not None:
            return batch.heatmaps
        if batch.images is None:
            raise InputError("ClipBatch.images is required (or heatmaps for variant H)")
        b, f, v = batch.view_mask.shape
        feats = self.extract_features(batch.images.flatten(0, 2))  # (B·F·V)×C×h×w
        return feats.reshape(b, f, v, *feats.shape[1:])

    def _anchor_keypoints(self, feats: Tensor, anchors: Tensor) -> Tensor | None:
        """Auxiliary 2D joint heatmaps (B, A, V, Q, h, w) at the anchors, or None without the head."""
        if self.keypoint_head is None:
            return None
        b, _, v = feats.shape[:3]
        kf = feats[:, anchors]  # B×A×V×C×h×w
        return self.keypoint_head(kf.flatten(0, 2)).reshape(b, 2, v, -1, *kf.shape[-2:])

    def _person_slots(self, batch: ClipBatch, det: DetectorOutput) -> tuple[Tensor, Tensor]:
        """Centres (B, A, P, 3) the tesseracts are built on — the GT centres (teacher forcing) or
        the detections — and the valid slots (B, A, P); at least one (masked) slot, invalid slots
        at the grid's centre."""
        b = batch.view_mask.shape[0]
        dtype, device = batch.K.dtype, batch.K.device  # geometry stays in camera precision
        if batch.gt_centres is not None:
            centres = batch.gt_centres.to(dtype)
            pmask = (
                batch.gt_mask.bool()
                if batch.gt_mask is not None
                else torch.ones(centres.shape[:3], dtype=torch.bool, device=centres.device)
            )
        else:
            centres = det.centres.reshape(b, 2, -1, 3).detach().to(dtype)
            pmask = det.valid.reshape(b, 2, -1)
        grid_centre = torch.tensor(self.grid.center, dtype=dtype, device=device)
        if centres.shape[2] == 0:
            centres = grid_centre.expand(b, 2, 1, 3)
            pmask = torch.zeros(b, 2, 1, dtype=torch.bool, device=device)
        return torch.where(pmask[..., None], centres, grid_centre), pmask

    def _link_and_pose(
        self, desc: DescriptorOutput, centres: Tensor, pmask: Tensor, teacher: bool
    ) -> tuple[MatchOutput | None, PoseOutput]:
        """Match anchor 0 to anchor 1 and estimate every slot's pose; at a1 each person merges its
        partner from a0 (:func:`merge_slots`): the same GT slot under teacher forcing, else the
        predicted match.

        Args:
            desc: the descriptors of (B·A) items of P slots.
            centres, pmask: (B, A, P, 3) slot centres, (B, A, P) valid slots.
            teacher: whether slot p is GT person p at both anchors.

        Returns:
            the matching (None for ``matcher: none``) and poses of (B·A·P) rows.
        """
        b, _, p = pmask.shape
        d_tensor = desc.tensor.reshape(b, 2, p, *desc.tensor.shape[2:])  # B×A×P×C×T×X'×Y'×Z'
        xyz = desc.voxel_centres.flatten(0, 1)  # (B·A·P)×X×Y×Z×3
        # U-Net skips of every slot at both anchors, flattened like the pose-head rows: (B·A·P)×...
        skips = tuple(x.flatten(0, 1) for x in desc.skips) if self.uses_skips else None
        overlap = self.stride < self.time_window
        alone = None
        if self.matcher_kind == "hungarian" or not overlap:
            alone = self.pose(d_tensor.flatten(0, 2), xyz, skips, valid=pmask.flatten())
        joints = None if alone is None else alone.joints.reshape(b, 2, p, -1, 3)
        match = self.link(desc.vector.reshape(b, 2, p, -1), centres, pmask, joints)
        if not overlap:
            return match, alone  # no partner's window overlaps: nothing to merge
        # partner at a0 of each slot at a1: same GT slot, the predicted match, or none
        if teacher:
            partner = torch.arange(p, device=pmask.device).expand(b, p)
            linked = pmask[:, 0] & pmask[:, 1]
        elif match is None:
            partner = torch.zeros(b, p, dtype=torch.long, device=pmask.device)
            linked = torch.zeros_like(pmask[:, 1])
        else:
            partner = match.matches1.clamp(min=0)
            linked = (match.matches1 >= 0) & pmask[:, 1]
        idx = partner.reshape(b, p, *([1] * (d_tensor.ndim - 3))).expand_as(d_tensor[:, 0])
        prev = d_tensor[:, 0].gather(1, idx)  # B×P×C×T×X'×Y'×Z'
        partners = torch.stack([torch.zeros_like(prev), prev], 1)  # B×A×P×...: none at a0
        linked = torch.stack([torch.zeros_like(linked), linked], 1)  # B×A×P
        poses = self.pose(
            d_tensor.flatten(0, 2),
            xyz,
            skips,
            partners=partners.flatten(0, 2),
            linked=linked.flatten(0, 2),
            gap=self.stride,
            valid=pmask.flatten(),
        )
        return match, poses


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
