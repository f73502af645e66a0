"""``tessetrack train``: the joint training loop of eq. (4), resumable, distributed-ready.

- Data: clips (T + Δt frames, all views) cut from dataset folders any reader understands, with view
  dropout (:mod:`tessetrack.train.clips`). The clip of step s on rank r is drawn from a generator
  seeded with (seed, s, r): a resumed run sees exactly the clips of an uninterrupted one.
- Optimisation: AdamW or SGD, linear warm-up then cosine decay, gradient clipping, optional bf16
  autocast (``amp``).
- Checkpoints (safetensors + JSON, :mod:`tessetrack.train.checkpoints`) every ``checkpoint_every``
  steps, every ``checkpoint_minutes`` and at exit (also on Ctrl-C / SIGTERM); ``last.safetensors``
  holds weights, optimizer, scheduler, torch RNG and step, so a run resumes exactly.
- Logs: ``log.csv`` (per logged step), ``val.csv``, TensorBoard when the ``tensorboard`` package is
  installed, ``curves.png`` and ``report.json`` at the end.
- Distributed: under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in DDP (NCCL on GPU,
  gloo on CPU); rank 0 writes files; ranks check they hold identical weights at every checkpoint.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from tessetrack.config import Config, LossConfig
from tessetrack.data.base import MultiViewDataset
from tessetrack.errors import CheckpointError, ConfigError, InputError
from tessetrack.eval.pose_metrics import joint_errors_mm
from tessetrack.losses import ClipTargets, LossTerms, keypoint_loss, total_loss
from tessetrack.model.tessetrack import ClipBatch, TesseTrack, build_model
from tessetrack.skeletons import get_joint_set
from tessetrack.structures import MultiViewFrame
from tessetrack.synth.detections_sim import DetectionNoise, detection_noise
from tessetrack.train.checkpoints import (
    config_differences,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from tessetrack.train.clips import (
    ClipSource,
    ClipSpec,
    SimulatedDetections,
    collate_clips,
    make_clip,
    paste_people,
)

__all__ = [
    "STAGES",
    "TrainSettings",
    "TrainResult",
    "train",
    "evaluate_clips",
    "evaluate_keypoint_clips",
    "keypoint_hits",
    "keypoint_step",
    "sample_clips",
    "weights_digest",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` section of a config (all optional; validated on use).

    Attributes:
        data: training dataset folders.
        val_data: validation dataset folders.
        steps: optimizer steps in all.
        batch_size: clips per step and rank.
        optimizer: ``adamw`` or ``sgd`` (paper: lr 0.01).
        lr, weight_decay, momentum: optimizer settings.
        warmup_steps: linear warm-up; then cosine decay to ``lr · min_lr_ratio``.
        grad_clip: max gradient norm (0 disables).
        amp: bf16 autocast (CPU and GPU). On CPU (torch 2.13) its backward gives non-finite
            gradients in many steps, nondeterministically; those updates are skipped with a warning,
            so keep it off on CPU.
        image_size: (W, H) input size of the backbone.
        max_people: person slots per anchor.
        min_views: view dropout keeps at least this many views (a large value disables it).
        single_view_prob: probability that a clip keeps exactly one view (0: off).
        teacher_forcing: build tesseracts on GT centres (else on NMS detections).
        checkpoint_every, checkpoint_minutes: checkpoint cadence.
        val_every, val_clips: validation cadence and size.
        log_every: CSV/TensorBoard cadence.
        seed: data sampling and model initialisation.
        threads: torch intra-op threads (None: leave torch's default).
        init_from: a checkpoint whose weights start a NEW run (warm start; optimizer, step and
            config are not taken from it; its weights must fit this model exactly).
        detection_joint_sets: heatmap-input (H) models train on 2D detections simulated from the
            GT at every clip; each view's simulated detector outputs one of these joint sets.
        detection_noise: the simulated detector's errors: a mapping of a ``profile``
            (:data:`~tessetrack.synth.detections_sim.DETECTOR_PROFILES`: ``openpose``,
            ``blazepose``) and/or fields of :class:`~tessetrack.synth.detections_sim.DetectionNoise`
            (jitter, miss_prob, swap_prob, person_miss_prob, offsets, ...); or a list of such
            mappings, one drawn per view (a model for several detectors).
        stage: ``full`` (the joint loss, eq. 4) or ``keypoints``: 2D pretraining of the backbone alone
            with the auxiliary joint-heatmap loss (needs ``model.backbone.keypoint_head``); only the
            anchor frames' images go through the backbone. It stands in for HRNet's 2D pretraining.
        init_prefixes: with ``init_from``, copy only the weights whose names start with one of these
            (e.g. ``[backbone.]`` to start any variant from a pretrained backbone); each copied
            tensor must fit exactly. Empty: all weights, and they must fit the whole model.
        centre_jitter: σ (metres, per axis) of Gaussian noise added to the teacher-forced GT
            centres the tesseracts are built on (the loss targets keep the true centres). At
            inference the tesseracts sit on the detector's centres, which are off by centimetres;
            without jitter the pose head learns that the root lies exactly at the tesseract's
            centre and the matcher sees only perfect positions. 0 (default): exact GT centres.
        paste_people: models that read 2D detections only (H without ``image_heatmaps``): each
            training clip gets 0 … N people of another random training clip added
            (:func:`~tessetrack.train.clips.paste_people`; their 2D detections are simulated with
            everyone else's). 0 (default): off.
        paste_near: probability that a pasted person is placed 0.5–1.2 m from one of the clip's
            people (the synthetic scenes seldom hold close people; real rigs and the test scenes
            do, and a detector that never saw them returns one blob for two people).
        color_jitter: image models only: per clip and view, a random brightness, contrast and
            per-channel gain, each a factor in [1 − s, 1 + s] (:func:`jitter_colours`), the same
            for all frames of the view (one camera). 0 (default): off.
    """

    data: tuple[str, ...] = ()
    val_data: tuple[str, ...] = ()
    steps: int = 1000
    batch_size: int = 1
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_steps: int = 50
    min_lr_ratio: float = 0.05
    grad_clip: float = 5.0
    amp: bool = False
    image_size: tuple[int, int] = (256, 256)
    max_people: int = 6
    min_views: int = 1
    single_view_prob: float = 0.0
    teacher_forcing: bool = True
    checkpoint_every: int = 200
    checkpoint_minutes: float = 5.0
    val_every: int = 250
    val_clips: int = 8
    log_every: int = 10
    seed: int = 0
    threads: int | None = None
    init_from: str | None = None
    detection_joint_sets: tuple[str, ...] = ("body25", "coco17")
    detection_noise: Mapping[str, Any] | tuple[Mapping[str, Any], ...] = field(default_factory=dict)
    stage: str = "full"
    init_prefixes: tuple[str, ...] = ()
    centre_jitter: float = 0.0
    paste_people: int = 0
    paste_near: float = 0.5
    color_jitter: float = 0.0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrainSettings:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(
                    f"train.{key}: unknown setting; known: {', '.join(sorted(known))}"
                )
            if key in ("data", "val_data"):
                value = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
            elif key == "image_size":
                value = tuple(int(v) for v in value)
            elif key in ("detection_joint_sets", "init_prefixes"):
                value = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
            elif key == "detection_noise":
                many = isinstance(value, list | tuple)
                specs = list(value) if many else [value]
                if not specs:
                    raise ConfigError("train.detection_noise: an empty list")
                for spec in specs:
                    try:
                        detection_noise(spec)
                    except InputError as err:
                        why = str(err).removeprefix("detection noise: ")
                        raise ConfigError(f"train.detection_noise: {why}") from None
                value = tuple(dict(v) for v in specs) if many else dict(specs[0])
            kwargs[key] = value
        s = cls(**kwargs)
        if s.stage not in STAGES:
            raise ConfigError(f"train.stage: expected one of {list(STAGES)}, got {s.stage!r}")
        if s.init_prefixes and not s.init_from:
            raise ConfigError("train.init_prefixes: only used with train.init_from (none given)")
        if s.optimizer not in ("adamw", "sgd"):
            raise ConfigError(f"train.optimizer: expected 'adamw' or 'sgd', got {s.optimizer!r}")
        for key in (
            "steps",
            "batch_size",
            "checkpoint_every",
            "val_every",
            "log_every",
            "max_people",
            "min_views",
        ):
            if int(getattr(s, key)) < 1:
                raise ConfigError(f"train.{key}: must be >= 1, got {getattr(s, key)}")
        if s.lr <= 0:
            raise ConfigError(f"train.lr: must be > 0, got {s.lr}")
        if not 0.0 <= s.single_view_prob <= 1.0:
            raise ConfigError(
                f"train.single_view_prob: must be in [0, 1], got {s.single_view_prob}"
            )
        if not 0.0 <= s.centre_jitter <= 1.0:
            raise ConfigError(f"train.centre_jitter: must be in [0, 1] m, got {s.centre_jitter}")
        if s.paste_people < 0:
            raise ConfigError(f"train.paste_people: must be >= 0, got {s.paste_people}")
        if not 0.0 <= s.color_jitter < 1.0:
            raise ConfigError(f"train.color_jitter: must be in [0, 1), got {s.color_jitter}")
        if not 0.0 <= s.paste_near <= 1.0:
            raise ConfigError(f"train.paste_near: must be in [0, 1], got {s.paste_near}")
        for name in s.detection_joint_sets:
            try:
                get_joint_set(name)
            except Exception as exc:
                raise ConfigError(f"train.detection_joint_sets: {exc}") from None
        if len(s.image_size) != 2 or min(s.image_size) < 16:
            raise ConfigError(f"train.image_size: expected [W, H] >= 16, got {s.image_size}")
        return s


#: ``train.stage`` values: the joint loss, or 2D pretraining of the backbone.
STAGES = ("full", "keypoints")


@dataclass(frozen=True)
class TrainResult:
    """Where a finished (or interrupted) run left things."""

    out_dir: Path
    step: int
    last_loss: float
    val: dict[str, float]
    checkpoint: Path


# --- helpers -------------------------------------------------------------------------------------


def weights_digest(model: nn.Module) -> str:
    """SHA-1 of all parameters' bytes (float32), to compare replicas across ranks."""
    h = hashlib.sha1()
    for _, p in sorted(model.state_dict().items()):
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _lr_lambda(s: TrainSettings) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < s.warmup_steps:
            return (step + 1) / s.warmup_steps
        progress = min(1.0, (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps))
        return s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def _open(paths: Sequence[str]) -> list[MultiViewDataset]:
    from tessetrack.data import open_dataset

    return [open_dataset(p) for p in paths]


def _random_clip_frames(
    sources: Sequence[ClipSource], length: int, rng: np.random.Generator
) -> tuple[ClipSource, list[MultiViewFrame]]:
    """A random source and ``length`` consecutive frames of it from a random start."""
    src = sources[int(rng.integers(len(sources)))]
    start = src.starts[int(rng.integers(len(src.starts)))]
    return src, [src.dataset[start + i] for i in range(length)]


def sample_clips(
    sources: Sequence[ClipSource],
    spec: ClipSpec,
    rng: np.random.Generator,
    n: int,
    with_images: bool,
    paste: int = 0,
    paste_near: float = 0.5,
) -> list[dict[str, torch.Tensor]]:
    """``n`` random clips; with ``paste`` > 0 each gets 0 … ``paste`` people of another clip."""
    clips = []
    for _ in range(n):
        src, frames = _random_clip_frames(sources, spec.length, rng)
        names = sorted(src.dataset.cameras)
        count = int(rng.integers(paste + 1)) if paste > 0 else 0
        if count:
            _, donor = _random_clip_frames(sources, spec.length, rng)
            frames = paste_people(frames, donor, rng, count=count, near_prob=paste_near)
        clips.append(make_clip(frames, spec, rng, names, with_images=with_images))
    return clips


def _to(batch: Any, device: torch.device) -> Any:
    kw = {
        f.name: (getattr(batch, f.name).to(device) if getattr(batch, f.name) is not None else None)
        for f in fields(batch)
    }
    return type(batch)(**kw)


def _noise_models(spec) -> DetectionNoise | tuple[DetectionNoise, ...]:
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


def _validation_batches(
    model: TesseTrack, clips: Sequence[dict[str, torch.Tensor]], device: torch.device
) -> Iterator[tuple[ClipBatch, ClipTargets]]:
    """Each validation clip alone, collated with teacher forcing and moved to ``device``, while the
    model is in eval mode (train mode comes back afterwards, also on an error)."""
    model.eval()
    try:
        for clip in clips:
            batch, targets = collate_clips([clip], teacher_forcing=True)
            yield _to(batch, device), _to(targets, device)
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
    for batch, targets in _validation_batches(model, clips, device):
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
    for batch, targets in _validation_batches(model, clips, device):
        terms, heat = keypoint_step(model, batch, targets, loss_config)
        loss += float(terms.total)
        h, n = keypoint_hits(heat, targets.keypoints, targets.keypoint_mask)
        hits, usable = hits + h, usable + n
    n = max(1, len(clips))
    return {"loss": loss / n, "keypoints": loss / n, "keypoint_hit": 100.0 * hits / max(1, usable)}


def _plot_curves(out_dir: Path) -> None:
    from matplotlib.figure import Figure

    def read(name: str) -> dict[str, tuple[list[float], list[float]]]:
        """column → (steps, values) over the rows where the column is filled."""
        p = out_dir / name
        if not p.is_file():
            return {}
        with p.open() as fh:
            rows = list(csv.DictReader(fh))
        cols = {}
        for k in rows[0] if rows else {}:
            kept = [r for r in rows if r.get(k)]
            if kept:
                cols[k] = ([float(r["step"]) for r in kept], [float(r[k]) for r in kept])
        return cols

    tr, va = read("log.csv"), read("val.csv")
    if "loss" not in tr:
        return
    fig = Figure(figsize=(11, 3.5))
    axes = fig.subplots(1, 3)
    axes[0].plot(*tr["loss"], label="train loss")
    if "loss" in va:
        axes[0].plot(*va["loss"], "o-", label="val loss")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step")
    axes[0].legend()
    panels = (
        (1, "mpjpe_mm", "val MPJPE (mm)"),
        (1, "keypoint_hit", "val 2D joints found (%)"),
        (2, "match_accuracy", "val match accuracy (%)"),
    )
    for i, key, title in panels:
        if key in va:
            axes[i].plot(*va[key], "o-")
            axes[i].set_title(title)
            axes[i].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out_dir / "curves.png", dpi=100)


class _CsvLog:
    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path, self.columns = path, list(columns)
        if path.is_file() and path.stat().st_size:  # resumed: keep the run's own header
            with path.open() as fh:
                self.columns = next(csv.reader(fh), self.columns)
        else:
            with path.open("w", newline="") as fh:
                csv.writer(fh).writerow(self.columns)

    def write(self, row: Mapping[str, Any]) -> None:
        with self.path.open("a", newline="") as fh:
            csv.writer(fh).writerow([row.get(c, "") for c in self.columns])


def _truncate_log(path: Path, step: int) -> None:
    """Drop rows logged after ``step`` (a resumed run repeats them)."""
    if not path.is_file():
        return
    with path.open() as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(float(r[0])) <= step]
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(kept)


# --- the loop ------------------------------------------------------------------------------------


def train(
    config: Config,
    out_dir: str | os.PathLike[str],
    *,
    datasets: Sequence[MultiViewDataset] | None = None,
    val_datasets: Sequence[MultiViewDataset] | None = None,
    resume: bool = True,
    max_steps_this_run: int | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train (or resume training) the model of ``config`` and write everything into ``out_dir``.

    Args:
        config: the full config; ``config.train`` holds :class:`TrainSettings`.
        out_dir: run folder (``last.safetensors``, ``log.csv``, ``val.csv``, ``curves.png``, ``report.json``).
        datasets, val_datasets: readers to use instead of ``train.data`` / ``train.val_data`` folders.
        resume: continue from ``out_dir/last.safetensors`` when present.
        max_steps_this_run: stop (with a checkpoint) after this many steps of this call.
        progress: ``progress(step, total, losses)`` after each step (rank 0).
        device: default CUDA when available (``LOCAL_RANK``'s GPU under torchrun), else CPU.
    """
    s = TrainSettings.from_mapping(config.train)
    out = Path(out_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    distributed = world > 1
    if device is None:
        if torch.cuda.is_available():
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        else:
            device = torch.device("cpu")
    device = torch.device(device)
    own_group = distributed and not dist.is_initialized()
    if own_group:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if s.threads:
        torch.set_num_threads(s.threads)
    is_main = rank == 0
    if is_main:
        out.mkdir(parents=True, exist_ok=True)

    train_sets = list(datasets) if datasets is not None else _open(s.data)
    if not train_sets:
        raise ConfigError("train.data: no training dataset folders given")
    val_sets = list(val_datasets) if val_datasets is not None else _open(s.val_data)

    torch.manual_seed(s.seed)
    model = build_model(config).to(device)
    spec = ClipSpec(
        length=model.config.clip_length,
        anchors=model.anchors,
        image_size=tuple(s.image_size),  # type: ignore[arg-type]
        max_people=s.max_people,
        min_views=s.min_views,
        single_view_prob=s.single_view_prob,
        joint_set=model.config.pose_head.joint_set,
    )
    with_images = not model.reads_detections
    keypoints_stage = s.stage == "keypoints"
    if keypoints_stage and (model.keypoint_head is None or config.loss.keypoint_2d <= 0):
        raise ConfigError(
            "train.stage=keypoints pretrains the backbone's 2D keypoint head: it needs "
            "model.backbone.keypoint_head=true and loss.keypoint_2d > 0 (feature-input variants)"
        )
    if not with_images:  # H models learn from simulated 2D detections (no images needed)
        spec = replace(
            spec,
            detections=SimulatedDetections(
                sigma=model.config.backbone.heatmap_sigma,
                source_joint_sets=s.detection_joint_sets,
                noise=_noise_models(s.detection_noise),
            ),
        )
    if s.paste_people and with_images:
        raise ConfigError(
            "train.paste_people pastes people's poses into clips: only models that read 2D "
            "detections (H without model.backbone.image_heatmaps) "
            "can use it (their 2D detections are simulated from the poses; images cannot be)"
        )
    sources = [ClipSource.build(d, spec.length) for d in train_sets]
    params = [p for p in model.parameters() if p.requires_grad]
    if s.optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(s))

    step = 0
    last_path = out / "last.safetensors"
    config_dict = config.to_dict()
    expected = {k: config_dict[k] for k in ("model", "loss")}
    if resume and last_path.is_file():
        ck = load_checkpoint(last_path, with_state=True)
        # Read through Config so that fields added since the run started take their defaults.
        saved = ck.typed_config().to_dict()
        found = {k: saved[k] for k in ("model", "loss")}
        diffs = config_differences(expected, found)
        if diffs:
            raise CheckpointError(
                f"{last_path}: cannot resume, the run was started with another config: {'; '.join(diffs[:6])}"
            )
        model.load_state_dict(ck.weights)
        opt.load_state_dict(ck.state["optimizer"])
        sched.load_state_dict(ck.state["scheduler"])
        torch.set_rng_state(ck.state["torch_rng"])
        step = int(ck.state["step"])
        log.info("resumed %s at step %d", last_path, step)
        if is_main:
            for name in ("log.csv", "val.csv"):
                _truncate_log(out / name, step)
    elif s.init_from:
        warm = load_checkpoint(resolve_checkpoint(s.init_from))
        if s.init_prefixes:
            _load_prefixed(model, warm.weights, s.init_prefixes, s.init_from)
        else:
            try:
                model.load_state_dict(warm.weights)
            except RuntimeError as exc:
                first = str(exc).splitlines()[0]
                raise CheckpointError(
                    f"{s.init_from}: weights do not fit this model ({first})"
                ) from None
        log.info("warm start from %s (step %s)", s.init_from, warm.meta.get("step"))

    ddp: nn.Module = model
    if distributed:
        ddp = nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )

    tb = None
    if is_main:
        try:
            from torch.utils.tensorboard import SummaryWriter

            tb = SummaryWriter(str(out / "tb"))
        except ImportError:
            log.warning(
                "tensorboard not installed: logging to CSV only "
                '(pip install "tessetrack[tensorboard]" adds the TensorBoard logs)'
            )
    train_log = (
        _CsvLog(
            out / "log.csv",
            ["step", "loss", "detection", "tracking", "pose", "lr", "sec_per_step", "keypoints"],
        )
        if is_main
        else None
    )
    val_log = (
        _CsvLog(
            out / "val.csv",
            [
                "step",
                "loss",
                "detection",
                "tracking",
                "pose",
                "mpjpe_mm",
                "match_accuracy",
                "keypoints",
                "keypoint_hit",
            ],
        )
        if is_main
        else None
    )
    val_clips = (
        sample_clips(
            [ClipSource.build(d, spec.length) for d in val_sets],
            spec,
            np.random.default_rng([s.seed, 999_983]),
            s.val_clips,
            with_images,
        )
        if val_sets and is_main
        else []
    )

    stop = {"flag": False}

    def _on_signal(signum: int, _frame: Any) -> None:
        log.warning("signal %d: checkpointing and stopping", signum)
        stop["flag"] = True

    # Every rank listens: torchrun or a scheduler may signal any of them, and the ranks agree on the
    # stop (and on time-based checkpoints) once per step below, so none is left waiting in a collective.
    old_handler = signal.signal(signal.SIGTERM, _on_signal) if _in_main_thread() else None

    digests: list[str] = []

    def checkpoint(val: dict[str, float] | None = None) -> None:
        nonlocal digests
        if distributed:
            # DDP re-broadcasts rank 0's buffers (BatchNorm statistics) at each forward; after the
            # last one every rank updated its own, so give them rank 0's before comparing replicas
            for buffer in model.buffers():
                dist.broadcast(buffer.data, src=0)
        digest = weights_digest(model)
        if distributed:
            gathered: list[str] = [""] * world
            dist.all_gather_object(gathered, digest)
            if len(set(gathered)) != 1:
                raise RuntimeError(f"replicas diverged at step {step}: weight digests {gathered}")
            digests = gathered
        if not is_main:
            return
        state = {
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
        }
        meta = {
            "step": step,
            "data": list(s.data),
            "world_size": world,
            "weights_sha1": digest,
            "val": val or {},
        }
        save_checkpoint(last_path, model.state_dict(), config_dict, meta, state)

    t_last_ck = time.monotonic()
    end = s.steps if max_steps_this_run is None else min(s.steps, step + max_steps_this_run)
    last_loss = float("nan")
    val: dict[str, float] = {}
    model.train()
    try:
        stopping = False  # the agreed stop: a signal counts once all ranks have heard of it
        while step < end and not stopping:
            t0 = time.monotonic()
            rng = np.random.default_rng([s.seed, step, rank])
            clips = sample_clips(
                sources, spec, rng, s.batch_size, with_images, s.paste_people, s.paste_near
            )
            batch, targets = collate_clips(clips, teacher_forcing=s.teacher_forcing)
            if s.centre_jitter > 0 and not keypoints_stage:
                batch = jitter_centres(batch, s.centre_jitter, rng)
            if s.color_jitter > 0:
                batch = jitter_colours(batch, s.color_jitter, rng)
            batch, targets = _to(batch, device), _to(targets, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=s.amp):
                if keypoints_stage:
                    terms, _ = keypoint_step(model, batch, targets, config.loss)
                else:
                    outputs = ddp(batch)
            if not keypoints_stage:
                terms = total_loss(outputs, targets, model.grid, config.loss)
            opt.zero_grad(set_to_none=True)
            terms.total.backward()
            if keypoints_stage and distributed:  # the backbone runs outside DDP: average by hand
                for p in params:
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= world
            # the gradient norm (clipped to grad_clip when set); a non-finite one (bf16 autocast
            # can overflow) skips the update instead of writing NaN into every weight
            norm = nn.utils.clip_grad_norm_(params, s.grad_clip if s.grad_clip > 0 else math.inf)
            if torch.isfinite(norm):
                opt.step()
            else:
                log.warning("step %d: gradient norm %s, update skipped", step + 1, float(norm))
            sched.step()
            step += 1
            last_loss = float(terms.total.detach())
            losses = {
                "loss": last_loss,
                "detection": float(terms.detection.detach()),
                "tracking": float(terms.tracking.detach()),
                "pose": float(terms.pose.detach()),
                "keypoints": float(terms.keypoints.detach())
                if torch.is_tensor(terms.keypoints)
                else 0.0,
            }
            if is_main:
                if step % s.log_every == 0 or step == end:
                    row = {
                        "step": step,
                        **losses,
                        "lr": sched.get_last_lr()[0],
                        "sec_per_step": time.monotonic() - t0,
                    }
                    train_log.write(row)  # type: ignore[union-attr]
                    if tb is not None:
                        for k, v in losses.items():
                            tb.add_scalar(f"train/{k}", v, step)
                if val_clips and (step % s.val_every == 0 or step == s.steps):
                    evaluate = evaluate_keypoint_clips if keypoints_stage else evaluate_clips
                    val = evaluate(model, val_clips, device, config.loss)
                    val_log.write({"step": step, **val})  # type: ignore[union-attr]
                    if tb is not None:
                        for k, v in val.items():
                            tb.add_scalar(f"val/{k}", v, step)
                if progress is not None:
                    progress(step, s.steps, losses)
            time_due = time.monotonic() - t_last_ck > 60 * s.checkpoint_minutes
            stopping = stop["flag"]
            if distributed:  # one rank's clock or signal decides for all, at the same step
                time_due, stopping = _any_rank(device, time_due, stopping)
            if step % s.checkpoint_every == 0 or time_due:
                checkpoint(val)
                t_last_ck = time.monotonic()
    except KeyboardInterrupt:
        log.warning("interrupted at step %d: checkpointing", step)
    finally:
        checkpoint(val)
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
        if tb is not None:
            tb.close()
    if is_main:
        _plot_curves(out)
        report = {
            "step": step,
            "steps": s.steps,
            "last_loss": last_loss,
            "val": val,
            "world_size": world,
            "weights_sha1_per_rank": digests or [weights_digest(model)],
            "settings": asdict(s),
        }
        (out / "report.json").write_text(json.dumps(report, indent=2))
    if own_group:
        # Leave together and tear the group down: a rank exiting while another still talks to it
        # can abort the process (SIGABRT) in the collective library.
        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(out, step, last_loss, val, last_path)


def _load_prefixed(
    model: nn.Module, weights: Mapping[str, Tensor], prefixes: Sequence[str], source: str
) -> None:
    """Copy the tensors of ``weights`` whose names start with one of ``prefixes`` into ``model``."""
    own = model.state_dict()
    chosen = {k: v for k, v in weights.items() if k.startswith(tuple(prefixes))}
    if not chosen:
        raise CheckpointError(f"{source}: no weights start with {list(prefixes)}")
    for k, v in chosen.items():
        if k not in own:
            raise CheckpointError(f"{source}: weight {k!r} is not in this model")
        if tuple(own[k].shape) != tuple(v.shape):
            raise CheckpointError(
                f"{source}: weight {k!r} has shape {tuple(v.shape)}, this model needs "
                f"{tuple(own[k].shape)}"
            )
    missing = [k for k in own if k.startswith(tuple(prefixes)) and k not in chosen]
    if missing:
        raise CheckpointError(
            f"{source}: lacks {len(missing)} weights of the model, e.g. {missing[0]!r}"
        )
    model.load_state_dict(chosen, strict=False)
    log.info("copied %d tensors (%s) from %s", len(chosen), ", ".join(prefixes), source)


def _any_rank(device: torch.device, *flags: bool) -> tuple[bool, ...]:
    """Each flag, true on every rank when it is true on any (a MAX all-reduce)."""
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
