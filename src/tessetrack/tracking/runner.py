"""Sequence inference: a trained TesseTrack network run online over a sequence of any length.

:func:`load_model` rebuilds a network from a checkpoint; :class:`SequenceRunner` slides it over a
:class:`~tessetrack.data.base.MultiViewDataset` and strings the per-frame detections into tracks
with an :class:`~tessetrack.tracking.online.OnlineTracker`.

How a sequence is processed (online, constant memory):

1. Every frame goes through the backbone once (all V views batched; V = the dataset's camera list,
   fixed for the whole run; a camera absent from a frame, or without an image there, is masked out
   with a per-frame view mask). Images are resized to the network's input size and the cameras
   rescaled with them, as in training (:mod:`tessetrack.train.clips`). Models that read 2D
   detections (variant H without ``backbone.image_heatmaps``) instead render the frame's 2D
   detections as joint heatmaps at the feature-map size.
2. The features of the last T frames live in a deque of length T (T = the model's time window).
   Every frame is an *anchor* once the window centred on it is full; at the start and the end of
   the sequence the first / last frame is repeated to fill the window, so every input frame is
   an anchor and appears in the output, with ``people: []`` when nobody is seen.
3. Per anchor: the PDN on the anchor frame → NMS centres → one tesseract per person → link to the
   tracks (learned matcher: :func:`~tessetrack.tracking.online.descriptor_link` on the descriptor
   vectors; Hungarian / no matcher: :func:`~tessetrack.tracking.online.pose_distance_link` on the
   poses estimated from each descriptor alone) → the pose of each person from its descriptor merged
   with its track's previous descriptor (the pose head with K = 2 slots, as the training forward
   does at anchor a1), by the same rule as in training
   (:func:`~tessetrack.model.tessetrack.merge_slots`: when the two windows overlap, gap < T).

Each step is a stage of the network (:meth:`TesseTrack.detect`, :meth:`~TesseTrack.describe`,
:meth:`~TesseTrack.pose`), and a frame's cameras become tensors as in training
(:meth:`Views.from_cameras <tessetrack.geometry.views.Views.from_cameras>`).

Per-joint scores are the soft-argmax probability mass in the 3×3×3 voxels around the heatmap peak.

Image models with 2D joint heatmaps of their own (a keypoint head, or a heatmap model that reads
images) also keep, per frame and view, the peaks of those heatmaps in the camera's pixels
(:attr:`SequenceRunner.frame_peaks`, :mod:`tessetrack.tracking.peaks`: a few KB a frame), from
which :func:`track_to_file` refines their joints.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tessetrack.config import Config
from tessetrack.data.base import MultiViewDataset
from tessetrack.data.detection_heatmaps import detection_heatmaps, heatmap_size
from tessetrack.errors import CheckpointError, InputError
from tessetrack.geometry.camera import Camera
from tessetrack.geometry.rig_frame import RigFrame
from tessetrack.geometry.views import Views
from tessetrack.model.tessetrack import TesseTrack, build_model
from tessetrack.skeletons import convert_people, get_joint_set
from tessetrack.structures import FramePoses, MultiViewFrame, PersonPose, Tracks
from tessetrack.tracking.candidates import CandidateConfig, supported_candidates
from tessetrack.tracking.online import (
    LinkFn,
    Observation,
    OnlineTracker,
    TrackerConfig,
    descriptor_link,
    pose_distance_link,
)
from tessetrack.tracking.peaks import FramePeaks, PeakConfig, image_peaks

if TYPE_CHECKING:
    from tessetrack.tracking.recalibrate import Recalibration

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "DEFAULT_CHECKPOINT",
    "detections_cache",
    "LoadedModel",
    "load_model",
    "SequenceRunner",
    "ProgressFn",
    "TrackSummary",
    "resolve_device",
    "track_to_file",
]

logger = logging.getLogger(__name__)

#: Input size (W, H) of a checkpoint whose config has no ``train.image_size``.
DEFAULT_IMAGE_SIZE = (256, 256)

#: ``progress(frames_done, frames_total)``, called after every output frame.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A network rebuilt from a checkpoint.

    Attributes:
        model: the network, in eval mode, on the requested device.
        config: its full config.
        meta: the checkpoint's free metadata (step, data, metrics ...).
        path: the checkpoint file.
    """

    model: TesseTrack
    config: Config
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def image_size(self) -> tuple[int, int]:
        """(W, H) network input size: the ``train.image_size`` the model was trained at."""
        return self.config.train.image_size


def _weights_mismatch(model: torch.nn.Module, weights: dict[str, Tensor]) -> list[str]:
    """Readable differences between a model's state dict and checkpoint weights."""
    expected = model.state_dict()
    diffs = [f"{k} missing" for k in expected if k not in weights]
    diffs += [f"{k} unexpected" for k in weights if k not in expected]
    diffs += [
        f"{k} has shape {tuple(weights[k].shape)}, the config needs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and tuple(weights[k].shape) != tuple(v.shape)
    ]
    return diffs


def load_model(
    name_or_path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> LoadedModel:
    """A shipped checkpoint's name or a ``.safetensors`` path → the network in eval mode.

    Raises:
        CheckpointError: unknown name, unreadable file, a config this version cannot read, or weights
            that do not fit the checkpoint's config (naming the first mismatching keys).
    """
    from tessetrack.train.checkpoints import load_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(name_or_path)
    ckpt = load_checkpoint(path)
    config = ckpt.typed_config()
    model = build_model(config)
    diffs = _weights_mismatch(model, ckpt.weights)
    if diffs:
        shown = "; ".join(diffs[:3]) + (f"; ... {len(diffs) - 3} more" if len(diffs) > 3 else "")
        raise CheckpointError(f"{path}: the weights do not fit the checkpoint's config: {shown}")
    model.load_state_dict(ckpt.weights, strict=True)
    model = model.to(device).eval()
    return LoadedModel(model=model, config=config, meta=dict(ckpt.meta), path=path)


@dataclass(frozen=True, eq=False)
class _FrameEntry:
    """One frame in the window: features (V, C, h, w) and views (V) on the device; for models with
    2D joint heatmaps, camera name → (K, J, 3) peaks in image pixels (present views only)."""

    frame: int
    features: Tensor
    views: Views
    peaks: dict[str, np.ndarray] | None = None
    evidence: tuple[tuple[Camera, np.ndarray], ...] = ()


def _stack(entries: Sequence[_FrameEntry]) -> tuple[Tensor, Views]:
    """T entries → features (1, T, V, C, h, w) and views (1, T, V)."""
    feats = torch.stack([e.features for e in entries])[None]
    return feats, Views.stack([e.views for e in entries])[None]


def _peak_mass(probs: Tensor) -> Tensor:
    """(N, Q, X, Y, Z) soft-argmax probabilities → (N, Q) mass in the 3×3×3 voxels around the peak."""
    n, q = probs.shape[:2]
    local = (
        F.avg_pool3d(probs.flatten(0, 1)[:, None], 3, stride=1, padding=1) * 27.0
    )  # (N·Q)×1×X×Y×Z
    return local.flatten(1).amax(-1).reshape(n, q).clamp(0.0, 1.0)


class SequenceRunner:
    """Runs a network online over a sequence and returns tracks.

    Args:
        model: the network (eval mode; see :func:`load_model`).
        image_size: (W, H) the images are resized to (the training input size).
        tracker: tracker settings.
        device: where the network runs.
        detection_threshold: PDN score a centre needs to count as a person (default: the model's).
        keep_peaks: keep the peaks of the model's own 2D joint heatmaps per frame (models that
            have them: ``model.has_2d_network``), for the refinement after tracking
            (:func:`track_to_file` asks for them; off by default: a few KB and ms a frame).
        peak_config: how many peaks per joint, and the smallest value (default: ``PeakConfig()``).
        candidates: also keep the people the detector scores between ``candidates.threshold`` and
            its threshold where two or more views' 2D detections show them and nobody else
            explains them (:mod:`tessetrack.tracking.candidates`; models that read 2D detections
            only). None: the threshold alone decides.

    Attributes:
        window: the deque of the last T frames' features (length T once a run has started).
        tracker: the tracker of the current / last run (None before the first).
        frame_peaks: frame id → that frame's peaks (:class:`~tessetrack.tracking.peaks.FramePeaks`)
            in the current / last run; empty for models without 2D joint heatmaps.
    """

    def __init__(
        self,
        model: TesseTrack,
        *,
        image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
        tracker: TrackerConfig | None = None,
        device: str | torch.device = "cpu",
        detection_threshold: float | None = None,
        keep_peaks: bool = False,
        peak_config: PeakConfig | None = None,
        candidates: CandidateConfig | None = None,
    ) -> None:
        if len(image_size) != 2 or min(image_size) < 16:
            raise InputError(f"image_size must be (W, H) >= 16, got {image_size}")
        if detection_threshold is not None and not 0.0 <= detection_threshold <= 1.0:
            raise InputError(f"detection_threshold must lie in [0, 1], got {detection_threshold}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.tracker_config = tracker or TrackerConfig()
        self.threshold = (
            model.detector.threshold if detection_threshold is None else float(detection_threshold)
        )
        self.time_window = model.time_window
        self.joint_set = get_joint_set(model.config.pose_head.joint_set)
        self.window: deque[_FrameEntry] = deque(maxlen=self.time_window)
        self.tracker: OnlineTracker | None = None
        self.keeps_peaks = bool(keep_peaks and model.has_2d_network)
        self.peak_config = peak_config or PeakConfig()
        self.frame_peaks: dict[int, FramePeaks] = {}
        low = candidates is not None and candidates.threshold < self.threshold
        self.candidates = candidates if low and model.reads_detections else None

    # --- per frame -------------------------------------------------------------------------------

    @property
    def _learned_link(self) -> bool:
        """Whether anchors are linked by the model's learned matcher (else Hungarian on poses)."""
        return self.model.matcher is not None and self.tracker_config.link == "model"

    def _link(self) -> LinkFn:
        if self._learned_link:
            gate = self.model.max_distance if self.tracker_config.gate else None
            return descriptor_link(self.model.matcher, gate)
        return pose_distance_link(self.model.max_distance)

    def _frame_entry(self, frame: MultiViewFrame, names: Sequence[str]) -> _FrameEntry:
        """Views (rescaled to the input size; a camera without input is masked) and features of
        one frame."""
        inputs = frame.detections if self.model.reads_detections else frame.images
        cams = [frame.cameras.get(n) if n in inputs else None for n in names]
        views = Views.from_cameras(cams, self.image_size, device=self.device)
        mask = np.array([c is not None for c in cams], bool)
        if self.model.reads_detections:
            feats, peaks = self._heatmap_features(frame, names, mask), None
        else:
            feats, peaks = self._image_features(frame, names, mask)
        return _FrameEntry(frame=frame.frame, features=feats, views=views, peaks=peaks,
                           evidence=self._evidence(frame, names, mask))  # fmt: skip

    def _evidence(
        self, frame: MultiViewFrame, names: Sequence[str], mask: np.ndarray
    ) -> tuple[tuple[Camera, np.ndarray], ...]:
        """Per view with 2D detections: its camera and (P, J, 3) 2D people in the model's joint
        set, for the candidates' check (empty without candidates)."""
        if self.candidates is None:
            return ()
        src, dst = frame.detections_joint_set, self.joint_set.name
        return tuple(
            (frame.cameras[n], convert_people(frame.detections[n], src, dst))
            for n, m in zip(names, mask, strict=True)
            if m and len(frame.detections[n])
        )

    def _image_features(
        self, frame: MultiViewFrame, names: Sequence[str], mask: np.ndarray
    ) -> tuple[Tensor, dict[str, np.ndarray] | None]:
        """Backbone features (V, C, h, w) of the present views (zeros for masked ones), and the
        peaks of the present views' 2D joint heatmaps (None when not kept)."""
        w, h = self.image_size
        present = [j for j in range(len(names)) if mask[j]]
        images = np.zeros((len(names), h, w, 3), np.uint8)
        for j in present:
            img = frame.images[names[j]]()
            images[j] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(images).to(self.device).permute(0, 3, 1, 2).float() / 255.0  # V×3×H×W
        if present:
            f = self.model.extract_features(x[present])  # V'×C×h×w
        else:  # no view at this frame: one pass for the feature shape
            f = self.model.extract_features(x[:1])[:0]
        out = f.new_zeros(len(names), *f.shape[1:])  # V×C×h×w
        out[present] = f
        if not self.keeps_peaks:
            return out, None
        cams = [frame.cameras[names[j]] for j in present]
        return out, {names[j]: p for j, p in zip(present, self._peaks(f, cams), strict=True)}

    def _peaks(self, feats: Tensor, cams: Sequence[Camera]) -> np.ndarray:
        """(V', C, h, w) what the backbone made of V' images → (V', K, J, 3) float32 peaks of the
        model's 2D joint heatmaps (the keypoint head's, or the heatmaps an H model reads, which
        with ``image_heatmaps_peaks`` are redrawn at the 2D head's own peaks) in the cameras'
        image pixels."""
        head = self.model.keypoint_head
        heat = head(feats) if head is not None else feats  # V'×J×h×w
        sizes = torch.tensor([[c.width, c.height] for c in cams], device=heat.device)  # V'×2
        peaks = image_peaks(heat.float(), sizes, self.peak_config)
        return peaks.cpu().numpy().astype(np.float32)

    def _heatmap_features(
        self, frame: MultiViewFrame, names: Sequence[str], mask: np.ndarray
    ) -> Tensor:
        """2D detections rendered as joint heatmaps (V, J, ⌈H/4⌉, ⌈W/4⌉) at the feature-map size."""
        fh, fw = heatmap_size(self.image_size)
        out = torch.zeros(len(names), self.joint_set.num_joints, fh, fw, device=self.device)
        src = frame.detections_joint_set
        for j, name in enumerate(names):
            if not mask[j]:
                continue
            cam = frame.cameras[name]
            out[j] = detection_heatmaps(
                np.asarray(frame.detections[name], dtype=np.float64),  # P×J'×3 image pixels
                camera_size=(cam.width, cam.height),
                out_size=(fh, fw),
                sigma=self.model.config.backbone.heatmap_sigma,
                source_joint_set=src,
                joint_set=self.joint_set.name,
                where=f"frame {frame.frame}, camera {name!r}",
            ).to(self.device)
        return out

    # --- per anchor ------------------------------------------------------------------------------

    def detect(
        self, frame: MultiViewFrame, names: Sequence[str] | None = None
    ) -> tuple[Tensor, Tensor]:
        """The person detector alone on one frame, as the tracker runs it on an anchor.

        Args:
            frame: a frame of any reader (images for feature models, detections for variant H).
            names: the cameras, in order (default: the frame's).

        Returns:
            centres (P, 3) world metres and scores (P,) of the NMS peaks scoring ≥ the runner's
            detection threshold, and of the candidates the 2D detections vouch for (with
            ``candidates``), at most the model's ``detector.max_people``.
        """
        with torch.no_grad():
            return self._detect(self._frame_entry(frame, list(names or frame.cameras)))

    def _detect(self, anchor: _FrameEntry) -> tuple[Tensor, Tensor]:
        """PDN on the anchor frame → centres (P, 3) metres and scores (P,) of the kept peaks."""
        cand = self.candidates
        low = self.threshold if cand is None else cand.threshold
        det = self.model.detect(anchor.features[None], anchor.views[None], low)
        keep = det.valid[0]
        centres, scores = det.centres[0][keep], det.scores[0][keep]
        if cand is not None and bool((scores < self.threshold).any()):
            order = torch.argsort(scores, descending=True)
            centres, scores = centres[order], scores[order]
            kept, moved = supported_candidates(centres, scores >= self.threshold,
                                               anchor.evidence, self.joint_set.name, cand)  # fmt: skip
            kept_t = torch.from_numpy(kept).to(scores.device)
            centres = torch.from_numpy(moved).to(centres)[kept_t]
            scores = scores[kept_t]
        return centres, scores

    def _anchor(self, tracker: OnlineTracker) -> FramePoses:
        """Detect, describe, link and estimate the poses at the window's centre frame."""
        model = self.model
        anchor = self.window[(self.time_window - 1) // 2]
        centres, scores = self._detect(anchor)
        p = centres.shape[0]
        if p == 0:
            return tracker.update(anchor.frame, [])
        feats, views = _stack(list(self.window))
        desc = model.describe(feats, centres[None], views)
        skips = [x[0] for x in desc.skips] if model.uses_skips else None  # each P×C_l×T×...
        d_tensor = desc.tensor[0]  # P×C×T×X'×Y'×Z'
        d_vec = desc.vector[0]  # P×D
        xyz = desc.voxel_centres[0]  # P×X×Y×Z×3
        learned = self._learned_link
        if learned:
            joints_alone = torch.full((p, self.joint_set.num_joints, 3), float("nan"))
        else:  # poses alone, for the pose-distance link
            joints_alone = model.pose(d_tensor, xyz, skips).joints
        obs = [
            Observation(
                joints=joints_alone[i].detach().cpu().double().numpy(),
                descriptor=d_vec[i] if learned else None,
                detection_score=float(scores[i]),
                payload=(i, d_tensor[i]),
                position=centres[i],
            )
            for i in range(p)
        ]
        assigned = tracker.assign(anchor.frame, obs)
        if not assigned:
            return FramePoses(anchor.frame, ())
        # pose of each person: its descriptor merged with its track's previous one (K = 2 slots)
        rows = torch.tensor([a.observation.payload[0] for a in assigned], device=self.device)
        prev = torch.zeros_like(d_tensor[rows])  # N×C×T×X'×Y'×Z'
        for n, a in enumerate(assigned):
            if a.previous is not None:
                prev[n] = a.previous.payload[1]
        linked = [a.previous is not None and a.gap is not None for a in assigned]
        gap = [a.gap if a.gap is not None else 0 for a in assigned]
        joints, probs, _ = model.pose(
            d_tensor[rows],
            xyz[rows],
            [x[rows] for x in skips] if skips is not None else None,
            partners=prev,
            linked=torch.tensor(linked, device=self.device),
            gap=torch.tensor(gap, device=self.device),
        )
        conf = _peak_mass(probs)
        joints_np = joints.detach().cpu().double().numpy()
        conf_np = conf.detach().cpu().double().numpy()
        people = [PersonPose(a.track.id, joints_np[n], conf_np[n]) for n, a in enumerate(assigned)]
        people.sort(key=lambda q: q.id)
        return FramePoses(anchor.frame, tuple(people))

    # --- the sequence ----------------------------------------------------------------------------

    def _check_input_kind(
        self, frame: MultiViewFrame, names: Sequence[str], root: str | os.PathLike[str] | None
    ) -> None:
        """Refuse an input that holds none of what the model reads (checked on the first frame):
        without it every frame would silently come out empty."""
        if self.model.reads_detections:
            if not any(n in frame.detections for n in names):
                raise InputError(
                    "this checkpoint reads 2D detections (a heatmap-input model), but the first "
                    f"frame ({frame.frame}) has none in any camera: pass --detections DIR "
                    "(OpenPose JSON per camera, or COCO)",
                    root,
                )
        elif not any(n in frame.images for n in names):
            raise InputError(
                "this checkpoint reads images, but the first frame "
                f"({frame.frame}) has no image in any camera: give the images or videos, or use a "
                "detections-* checkpoint with --detections DIR",
                root,
            )

    @torch.no_grad()
    def run(self, dataset: MultiViewDataset, progress: ProgressFn | None = None) -> Tracks:
        """Track everyone in ``dataset``; every input frame appears in the result, in order.

        Args:
            dataset: any reader (images for feature models, detections for variant H).
            progress: called as ``progress(frames_done, frames_total)``.

        Raises:
            InputError: an empty dataset, inputs the model cannot use, or a first frame without
                any of the model's input kind (2D detections for variant H, else images).
        """
        total = len(dataset)
        if total == 0:
            raise InputError("the input has no frames (check --start/--end)", dataset.root)
        names = list(dataset.cameras)
        if not names:
            raise InputError("the input has no cameras", dataset.root)
        tracker = self.tracker = OnlineTracker(self._link(), self.tracker_config)
        hw = (self.time_window - 1) // 2
        self.window = deque(maxlen=self.time_window)
        self.frame_peaks = {}
        out: list[FramePoses] = []

        def push(entry: _FrameEntry) -> None:
            self.window.append(entry)
            if len(self.window) == self.time_window:
                out.append(self._anchor(tracker))
                if progress is not None:
                    progress(len(out), total)

        absent = np.zeros(len(names), np.int64)  # per camera: frames without its input
        blind = 0  # frames without input in any camera
        for frame in dataset:
            if not self.window:
                self._check_input_kind(frame, names, dataset.root)
            entry = self._frame_entry(frame, names)
            if entry.peaks is not None:
                cams = {n: frame.cameras[n] for n in entry.peaks}
                self.frame_peaks[frame.frame] = FramePeaks(entry.peaks, cams)
            seen = entry.views.view_mask.cpu().numpy()
            absent += ~seen
            blind += int(not seen.any())
            if not self.window:  # sequence start: repeat the first frame
                self.window.extend([entry] * hw)
            push(entry)
        for _ in range(hw):  # sequence end: repeat the last frame
            push(self.window[-1])
        _warn_missing_views(dataset.root, names, absent, blind, total)
        return Tracks(
            joint_names=self.joint_set.joints,
            frames=tuple(out),
            fps=dataset.fps,
        )


def _warn_missing_views(
    root: str | os.PathLike[str] | None,
    names: Sequence[str],
    absent: np.ndarray,
    blind: int,
    total: int,
) -> None:
    """One warning each: cameras without input at some (or all) frames, frames seen by none."""
    never = [n for n, k in zip(names, absent, strict=True) if k == total]
    some = [f"{n}: {k}" for n, k in zip(names, absent, strict=True) if 0 < k < total]
    if never:
        logger.warning(
            "%s: camera(s) %s had no input in any frame; tracked with %d of %d cameras",
            root,
            ", ".join(never),
            len(names) - len(never),
            len(names),
        )
    if some:
        logger.warning(
            "%s: views without input at some of the %d frames (%s); left out there",
            root,
            total,
            ", ".join(some),
        )
    if blind:
        logger.warning(
            "%s: %d of %d frames have no input in any camera; kept in the output",
            root,
            blind,
            total,
        )


# --- the whole `tessetrack track` pipeline -------------------------------------------------------


@dataclass(frozen=True)
class TrackSummary:
    """What :func:`track_to_file` did.

    Attributes:
        output: the tracks file written.
        frames: frames in it.
        tracks: distinct track IDs.
        seconds: wall-clock time of the network run.
        checkpoint: the checkpoint file used.
        calibration: what ``refine_calibration`` did (None: not asked, or not refined).
    """

    output: Path
    frames: int
    tracks: int
    seconds: float
    checkpoint: Path | None
    calibration: Recalibration | None = None

    @property
    def fps(self) -> float:
        """Processed frames per second."""
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def resolve_device(device: str | None) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or None (cuda when available) → a device; unavailable → InputError."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda asked for, but no CUDA GPU is available; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"unsupported device {device!r}; use cpu or cuda")
    return dev


#: The default checkpoint of ``tessetrack track``: a heatmap model, reading 2D detections (given,
#: or made by the built-in detector from videos and images).
DEFAULT_CHECKPOINT = "detections-any"


def detections_cache(output: str | os.PathLike[str]) -> Path:
    """Where ``track`` keeps the built-in detector's detections for ``output``: beside it,
    ``<output stem>.detections/`` (reused by the next run on the same output)."""
    out = Path(output)
    return out.with_name(out.stem + ".detections")


def _check_output(
    output: str | os.PathLike[str], inputs: Sequence[Any], refine_calibration: bool = False
) -> None:
    """Refuse, before any work, a tracks file (and with ``refine_calibration`` the calibration
    written beside it) that cannot be written or would replace an input."""
    from tessetrack.io.atomic import check_output

    check_output(
        output, what="tracks file", suffixes=(".json", ".npz", ".csv"), inputs=tuple(inputs)
    )
    if refine_calibration:
        from tessetrack.tracking.recalibrate import refined_calibration_path

        check_output(refined_calibration_path(output), what="refined calibration",
                     suffixes=(".toml",), inputs=tuple(inputs))  # fmt: skip


def _refine(tracks: Tracks, dataset: MultiViewDataset, runner: SequenceRunner) -> Tracks:
    """The tracks of a model that reads 2D detections refined from them
    (:func:`_refine_detections`); those of an image model with 2D joint heatmaps of its own, from
    the peaks the runner kept (:func:`~tessetrack.tracking.peaks.refine_from_peaks`); other image
    models' as they are."""
    joint_set = runner.joint_set.name
    if runner.model.reads_detections:
        return _refine_detections(tracks, dataset, joint_set)
    if not runner.keeps_peaks:
        logger.info("this model makes no 2D joint heatmaps of its own: its joints are not refined")
        return tracks
    from tessetrack.tracking.peaks import refine_from_peaks

    return refine_from_peaks(tracks, runner.frame_peaks, joint_set=joint_set,
                             config=runner.peak_config)  # fmt: skip


def _refine_detections(tracks: Tracks, dataset: MultiViewDataset, joint_set: str) -> Tracks:
    """The tracks refined from the dataset's 2D detections (frames without detections: as they are),
    and their short misses filled where two or more views still see the person."""
    from tessetrack.tracking.gaps import refine_and_fill

    frames = {}
    source = None
    for frame in dataset:
        if frame.detections:
            frames[frame.frame] = (frame.detections, frame.cameras)
            source = frame.detections_joint_set
    if source is None:
        return tracks
    filled, added = refine_and_fill(
        tracks, frames, detections_joint_set=source, joint_set=joint_set
    )
    if added:
        logger.info("filled %d short misses of tracks from the 2D detections", added)
    return filled


#: Values of ``--volume``.
VOLUME_MODES = ("auto", "model")


def _check_modes(refine: str, smooth: str, volume: str, threshold: float | None = None) -> None:
    """Refuse an unknown ``--refine``, ``--smooth`` or ``--volume``, or a ``--detection-threshold``
    outside [0, 1], before any work."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(f"--detection-threshold must lie in [0, 1], got {threshold}")
    from tessetrack.tracking.refine import REFINE_MODES
    from tessetrack.tracking.smoothing import check_smooth_mode

    if refine not in REFINE_MODES:
        raise InputError(f"unknown refinement {refine!r}; use {' or '.join(REFINE_MODES)}")
    check_smooth_mode(smooth)
    if volume not in VOLUME_MODES:
        raise InputError(f"unknown volume {volume!r}; use {' or '.join(VOLUME_MODES)}")


def _finish(
    tracks: Tracks, joint_set: str, rig: RigFrame | None, keep_bones: bool, smooth: str
) -> Tracks:
    """The steps after tracking and refinement, in this order: back to the calibration's world
    from the rig's frame, smoothing over time, bone lengths kept (last, so that smoothing cannot
    undo them)."""
    if rig is not None:
        from tessetrack.tracking.canonical import tracks_to_world

        tracks = tracks_to_world(tracks, rig)
    if smooth != "none":
        from tessetrack.tracking.smoothing import smooth as smooth_over_time

        if tracks.fps is None and len(tracks.frames) > 1:
            logger.warning("the input's frame rate is unknown: smoothing over time takes it as 30 "
                           "frames/s (--smooth none for images of unrelated moments)")  # fmt: skip
        tracks = smooth_over_time(tracks, smooth)
    if keep_bones:
        from tessetrack.tracking.bones import keep_bone_lengths

        tracks, _ = keep_bone_lengths(tracks, joint_set)
    return tracks


def _rig_frame(
    dataset: MultiViewDataset,
    model: TesseTrack,
    volume: str,
    up: Sequence[float] | None,
    floor: float | None,
) -> tuple[MultiViewDataset, RigFrame | None]:
    """``volume="auto"`` and a model that reads 2D detections: the dataset in the rig's own frame
    (:func:`~tessetrack.tracking.canonical.enter_rig_frame`) and that frame; else as it is, None."""
    if volume != "auto" or not model.reads_detections:
        return dataset, None
    from tessetrack.tracking.canonical import enter_rig_frame

    return enter_rig_frame(dataset, model, up=up, floor=floor)


def _recalibrated(
    dataset: MultiViewDataset, refine_calibration: bool
) -> tuple[MultiViewDataset, Recalibration | None]:
    """With ``refine_calibration``, the dataset with its cameras refined from its 2D detections
    (:func:`~tessetrack.tracking.recalibrate.recalibrate`); else as it is."""
    if not refine_calibration:
        return dataset, None
    from tessetrack.tracking.recalibrate import recalibrate

    return recalibrate(dataset)


def _save(
    tracks: Tracks,
    output: str | os.PathLike[str],
    refine_calibration: bool,
    recalibration: Recalibration | None,
) -> tuple[Path, Recalibration | None]:
    """Write the tracks, then the refined calibration beside them (after the tracks: a run that
    fails leaves both files as they were). Where the calibration was to be refined but could not
    be, a refined calibration an earlier run left beside ``output`` is removed: no file there
    may claim to be what these tracks used."""
    from tessetrack.io.tracks import save_tracks

    written = Path(save_tracks(tracks, output))
    if not refine_calibration:
        return written, None
    from tessetrack.io.calibration import save_cameras
    from tessetrack.tracking.recalibrate import refined_calibration_path

    beside = refined_calibration_path(output)
    if recalibration is None:
        if beside.exists():
            beside.unlink()
            logger.warning("removed %s, an earlier run's refined calibration: these tracks use "
                           "the calibration as given", beside)  # fmt: skip
        return written, None
    return written, replace(recalibration, path=save_cameras(recalibration.cameras, beside))


def _open_with_detections(
    input: str | os.PathLike[str] | None,
    calibration: str | os.PathLike[str] | None,
    detections: str | os.PathLike[str] | None,
    detections_format: str | None,
    selection: dict[str, Any],
    reads_detections: bool,
    output: str | os.PathLike[str],
    progress: ProgressFn | None,
) -> MultiViewDataset:
    """The input opened (:func:`~tessetrack.tracking.inputs.open_input`); for a model that
    ``reads_detections``, given images but no 2D detections, with the built-in detector's, kept in
    :func:`detections_cache` (and reused by a later run)."""
    from tessetrack.tracking.inputs import open_input

    dataset = open_input(input, calibration=calibration, detections=detections,
                         detections_format=detections_format, **selection)  # fmt: skip
    if not reads_detections or detections is not None or input is None:
        return dataset
    first = dataset.frame(dataset.frames[0])
    if first.detections or not first.images:
        return dataset
    from tessetrack.detector import detect_recording

    cache = detections_cache(output)
    logger.info("running the built-in 2D detector; detections kept in %s", cache)
    detect_recording(dataset, cache, progress=progress)
    return open_input(input, calibration=calibration, detections=cache, **selection)


def track_to_file(
    input: str | os.PathLike[str] | None,
    *,
    output: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] = DEFAULT_CHECKPOINT,
    calibration: str | os.PathLike[str] | None = None,
    detections: str | os.PathLike[str] | None = None,
    detections_format: str | None = None,
    start: int | None = None,
    end: int | None = None,
    stride: int = 1,
    cameras: Sequence[str] | str | None = None,
    device: str | None = "cpu",
    tracker: TrackerConfig | None = None,
    progress: ProgressFn | None = None,
    on_start: Callable[[int], None] | None = None,
    refine: str = "triangulate",
    detect_progress: ProgressFn | None = None,
    units: str | None = None,
    image_size: tuple[int, int] | str | None = None,
    trim: bool = True,
    volume: str = "auto",
    up: Sequence[float] | None = None,
    floor: float | None = None,
    smooth: str = "loess",
    keep_bones: bool = False,
    detection_threshold: float | None = None,
    candidates: CandidateConfig | None = CandidateConfig(),
    refine_calibration: bool = False,
) -> TrackSummary:
    """Open the input, load the checkpoint, track, and write ``output`` (.json/.npz/.csv).

    Args:
        input, calibration, detections, detections_format, start, end, stride, cameras, units,
            image_size, trim: see :func:`tessetrack.tracking.inputs.open_input`.
        output, checkpoint: the tracks file (its extension picks the format); a shipped
            checkpoint's name or a ``.safetensors`` path.
        device, tracker: ``cpu``, ``cuda`` or None (cuda when available); tracker settings.
        progress, on_start, detect_progress: per-frame ``progress(done, total)``;
            ``on_start(frames)`` once; the built-in detector's progress, when it runs.
        refine: ``triangulate`` (joints re-triangulated from the 2D detections, or an image
            model's own 2D joint heatmaps, the tracked people explain; :func:`_refine`) or ``none``.
        refine_calibration: the cameras' poses refined from the people's 2D detections first,
            the refined calibration written beside ``output`` (:func:`_recalibrated`).
        volume, up, floor: ``auto`` (detections models: the rig's own frame and capture area,
            :mod:`tessetrack.tracking.canonical`; ``up`` and ``floor`` instead of found) or
            ``model`` (the trained volume, in the calibration's world).
        smooth, keep_bones: ``loess`` (default), ``one-euro`` or ``none`` (:mod:`~.smoothing`);
            bones brought back to their track's median lengths (:mod:`tessetrack.tracking.bones`).
        detection_threshold, candidates: the person detector's score a person needs (None: the
            model's); the people scored lower kept where 2D detections show them (None: none;
            :class:`SequenceRunner`).

    Outputs are checked before any work and written atomically. A heatmap model given videos or
    images without ``detections`` runs the built-in detector first (:func:`_open_with_detections`)."""
    _check_output(output, [input, calibration, detections], refine_calibration)
    _check_modes(refine, smooth, volume, detection_threshold)
    dev = resolve_device(device)
    loaded = load_model(checkpoint, device=dev)  # checked first: cheap, and the likeliest error
    selection = {"start": start, "end": end, "stride": stride, "cameras": cameras,
                 "units": units, "image_size": image_size, "trim": trim}  # fmt: skip
    dataset = _open_with_detections(input, calibration, detections, detections_format, selection,
                                loaded.model.reads_detections, output, detect_progress)  # fmt: skip
    dataset, recalibration = _recalibrated(dataset, refine_calibration)
    if on_start is not None:
        on_start(len(dataset))
    dataset, rig = _rig_frame(dataset, loaded.model, volume, up, floor)
    runner = SequenceRunner(loaded.model, image_size=loaded.image_size, tracker=tracker, device=dev,
                            keep_peaks=refine == "triangulate",
                            detection_threshold=detection_threshold, candidates=candidates)  # fmt: skip
    t0 = time.perf_counter()
    tracks = runner.run(dataset, progress=progress)
    tracks = _refine(tracks, dataset, runner) if refine == "triangulate" else tracks
    tracks = _finish(tracks, runner.joint_set.name, rig, keep_bones, smooth)
    seconds = time.perf_counter() - t0
    ids = {p.id for f in tracks.frames for p in f.people}
    written, recalibration = _save(tracks, output, refine_calibration, recalibration)
    return TrackSummary(written, len(tracks.frames), len(ids), seconds, loaded.path, recalibration)
