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

import logging
import math
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tessetrack.config import Config
from tessetrack.data.base import MultiViewDataset
from tessetrack.errors import ConfigError
from tessetrack.model.tessetrack import TesseTrack, build_model
from tessetrack.train.augment import jitter_centres, jitter_colours, noise_models
from tessetrack.train.checkpointing import (
    TrainingCheckpoint,
    resume_run,
    warm_start,
    weights_digest,
)
from tessetrack.train.clips import (
    ClipSource,
    ClipSpec,
    SimulatedDetections,
    collate_clips,
    sample_clips,
)
from tessetrack.train.distributed import (
    Distributed,
    any_rank,
    average_gradients,
    in_main_thread,
    setup_distributed,
    teardown_distributed,
    wrap_ddp,
)
from tessetrack.train.evaluation import evaluate_clips, evaluate_keypoint_clips, keypoint_hits
from tessetrack.train.run_logs import RunLogs, plot_curves, write_report
from tessetrack.train.settings import STAGES, TrainSettings
from tessetrack.train.steps import keypoint_step, loss_terms, loss_values, to_device

__all__ = [
    "STAGES",
    "TrainSettings",
    "TrainResult",
    "train",
    "evaluate_clips",
    "evaluate_keypoint_clips",
    "jitter_centres",
    "jitter_colours",
    "keypoint_hits",
    "keypoint_step",
    "sample_clips",
    "weights_digest",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """Where a finished (or interrupted) run left things."""

    out_dir: Path
    step: int
    last_loss: float
    val: dict[str, float]
    checkpoint: Path


@dataclass(frozen=True)
class _Run:
    """What one call of :func:`train` holds while it runs (built by :func:`_start_run`)."""

    s: TrainSettings
    config: Config
    ctx: Distributed
    model: TesseTrack
    ddp: nn.Module
    params: list[nn.Parameter]
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    spec: ClipSpec
    sources: list[ClipSource]
    val_clips: list[dict[str, torch.Tensor]]
    logs: RunLogs | None
    checkpoint: TrainingCheckpoint

    @property
    def keypoints_stage(self) -> bool:
        return self.s.stage == "keypoints"

    @property
    def with_images(self) -> bool:
        return not self.model.reads_detections


# --- set-up --------------------------------------------------------------------------------------


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


def _clip_spec(model: TesseTrack, s: TrainSettings, config: Config) -> ClipSpec:
    """The clips of this model and settings; refuses a stage or option the model cannot train."""
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
    if s.stage == "keypoints" and (model.keypoint_head is None or config.loss.keypoint_2d <= 0):
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
                noise=noise_models(s.detection_noise),
            ),
        )
    if s.paste_people and with_images:
        raise ConfigError(
            "train.paste_people pastes people's poses into clips: only models that read 2D "
            "detections (H without model.backbone.image_heatmaps) "
            "can use it (their 2D detections are simulated from the poses; images cannot be)"
        )
    return spec


def _optimizer(
    params: list[nn.Parameter], s: TrainSettings
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW or SGD with linear warm-up then cosine decay."""
    if s.optimizer == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(s))


def _start_run(
    config: Config,
    s: TrainSettings,
    ctx: Distributed,
    out: Path,
    datasets: Sequence[MultiViewDataset] | None,
    val_datasets: Sequence[MultiViewDataset] | None,
    resume: bool,
) -> tuple[_Run, int]:
    """Model, data, optimizer, resumed or warm-started state, logs and validation clips; the step
    the run starts at."""
    train_sets = list(datasets) if datasets is not None else _open(s.data)
    if not train_sets:
        raise ConfigError("train.data: no training dataset folders given")
    val_sets = list(val_datasets) if val_datasets is not None else _open(s.val_data)
    torch.manual_seed(s.seed)
    model = build_model(config).to(ctx.device)
    spec = _clip_spec(model, s, config)
    sources = [ClipSource.build(d, spec.length) for d in train_sets]
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = _optimizer(params, s)
    step, last_path, config_dict = 0, out / "last.safetensors", config.to_dict()
    resumed = resume and last_path.is_file()
    if resumed:
        step = resume_run(last_path, config_dict, model, opt, sched)
    elif s.init_from:
        warm_start(model, s.init_from, s.init_prefixes)
    val_clips = []
    if val_sets and ctx.is_main:
        val_sources = [ClipSource.build(d, spec.length) for d in val_sets]
        val_rng = np.random.default_rng([s.seed, 999_983])  # the validation stream
        val_clips = sample_clips(
            val_sources, spec, val_rng, s.val_clips, not model.reads_detections
        )
    run = _Run(
        s=s, config=config, ctx=ctx, model=model, ddp=wrap_ddp(model, ctx), params=params,
        opt=opt, sched=sched, spec=spec, sources=sources, val_clips=val_clips,
        logs=RunLogs(out, step if resumed else None) if ctx.is_main else None,
        checkpoint=TrainingCheckpoint(last_path, model, opt, sched, config_dict, s.data, ctx),
    )  # fmt: skip
    return run, step


# --- one step ------------------------------------------------------------------------------------


def _train_step(run: _Run, step: int) -> dict[str, float]:
    """Step ``step`` → ``step + 1``: this rank's clips (drawn from (seed, step, rank)), forward,
    backward, clipped update (skipped on a non-finite gradient norm); returns the loss values."""
    s, device = run.s, run.ctx.device
    rng = np.random.default_rng([s.seed, step, run.ctx.rank])
    clips = sample_clips(
        run.sources, run.spec, rng, s.batch_size, run.with_images, s.paste_people, s.paste_near
    )
    batch, targets = collate_clips(clips, teacher_forcing=s.teacher_forcing)
    if s.centre_jitter > 0 and not run.keypoints_stage:
        batch = jitter_centres(batch, s.centre_jitter, rng)
    if s.color_jitter > 0:
        batch = jitter_colours(batch, s.color_jitter, rng)
    batch, targets = to_device(batch, device), to_device(targets, device)
    terms = loss_terms(run.ddp, run.model, batch, targets, run.config.loss, device=device,
                       keypoints_stage=run.keypoints_stage, amp=s.amp)  # fmt: skip
    run.opt.zero_grad(set_to_none=True)
    terms.total.backward()
    if run.keypoints_stage and run.ctx.enabled:  # the backbone runs outside DDP
        average_gradients(run.params, run.ctx.world)
    # the gradient norm (clipped to grad_clip when set); a non-finite one (bf16 autocast
    # can overflow) skips the update instead of writing NaN into every weight
    norm = nn.utils.clip_grad_norm_(run.params, s.grad_clip if s.grad_clip > 0 else math.inf)
    if torch.isfinite(norm):
        run.opt.step()
    else:
        log.warning("step %d: gradient norm %s, update skipped", step + 1, float(norm))
    run.sched.step()
    return loss_values(terms)


def _log_and_validate(
    run: _Run, step: int, end: int, losses: dict[str, float], t0: float, val: dict[str, float]
) -> dict[str, float]:
    """Rank 0 logs the step (every ``log_every`` and at ``end``) and validates (every
    ``val_every`` and at the last step); returns the latest validation."""
    s, logs = run.s, run.logs
    if logs is None:
        return val
    if step % s.log_every == 0 or step == end:
        lr = run.sched.get_last_lr()[0]
        logs.write_train(step, losses, lr=lr, sec_per_step=time.monotonic() - t0)
    if run.val_clips and (step % s.val_every == 0 or step == s.steps):
        evaluate = evaluate_keypoint_clips if run.keypoints_stage else evaluate_clips
        val = evaluate(run.model, run.val_clips, run.ctx.device, run.config.loss)
        logs.write_val(step, val)
    return val


class _StopSignal:
    """Within its block, SIGTERM sets :attr:`flag` instead of ending the process. Every rank
    listens: torchrun or a scheduler may signal any of them, and the ranks agree on the stop once
    per step, so none is left waiting in a collective."""

    def __init__(self) -> None:
        self.flag = False
        self._old: Any = None

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.warning("signal %d: checkpointing and stopping", signum)
        self.flag = True

    def __enter__(self) -> _StopSignal:
        if in_main_thread():
            self._old = signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


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
        config: the full config; ``config.train`` holds its :class:`TrainSettings`.
        out_dir: run folder (``last.safetensors``, ``log.csv``, ``val.csv``, ``curves.png``, ``report.json``).
        datasets, val_datasets: readers to use instead of ``train.data`` / ``train.val_data`` folders.
        resume: continue from ``out_dir/last.safetensors`` when present.
        max_steps_this_run: stop (with a checkpoint) after this many steps of this call.
        progress: ``progress(step, total, losses)`` after each step (rank 0).
        device: default CUDA when available (``LOCAL_RANK``'s GPU under torchrun), else CPU.
    """
    s = config.train
    out = Path(out_dir)
    ctx = setup_distributed(device)
    if s.threads:
        torch.set_num_threads(s.threads)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    run, step = _start_run(config, s, ctx, out, datasets, val_datasets, resume)
    end = s.steps if max_steps_this_run is None else min(s.steps, step + max_steps_this_run)
    last_loss, val = float("nan"), {}
    t_last_ck = time.monotonic()
    run.model.train()
    with _StopSignal() as stop:
        try:
            stopping = False  # the agreed stop: a signal counts once all ranks have heard of it
            while step < end and not stopping:
                t0 = time.monotonic()
                losses = _train_step(run, step)
                step, last_loss = step + 1, losses["loss"]
                val = _log_and_validate(run, step, end, losses, t0, val)
                if progress is not None and ctx.is_main:
                    progress(step, s.steps, losses)
                time_due = time.monotonic() - t_last_ck > 60 * s.checkpoint_minutes
                stopping = stop.flag
                if ctx.enabled:  # one rank's clock or signal decides for all, at the same step
                    time_due, stopping = any_rank(ctx.device, time_due, stopping)
                if step % s.checkpoint_every == 0 or time_due:
                    run.checkpoint.save(step, val)
                    t_last_ck = time.monotonic()
        except KeyboardInterrupt:
            log.warning("interrupted at step %d: checkpointing", step)
        finally:
            run.checkpoint.save(step, val)
            if run.logs is not None:
                run.logs.close()
    if ctx.is_main:
        plot_curves(out)
        write_report(out, {
            "step": step, "steps": s.steps, "last_loss": last_loss, "val": val,
            "world_size": ctx.world,
            "weights_sha1_per_rank": run.checkpoint.digests or [weights_digest(run.model)],
            "settings": asdict(s),
        })  # fmt: skip
    teardown_distributed(ctx)
    return TrainResult(out, step, last_loss, val, run.checkpoint.path)
