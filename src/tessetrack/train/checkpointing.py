"""A run's checkpoints: resuming exactly where ``last.safetensors`` stopped, warm starts from another
checkpoint (whole, or the tensors under some name prefixes), and saving the training state with a
check that every rank holds the same weights."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from tessetrack.errors import CheckpointError
from tessetrack.train.checkpoints import (
    config_differences,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from tessetrack.train.distributed import Distributed, broadcast_buffers, replica_digests

__all__ = ["TrainingCheckpoint", "load_prefixed", "resume_run", "warm_start", "weights_digest"]

log = logging.getLogger(__name__)


def weights_digest(model: nn.Module) -> str:
    """SHA-1 of all parameters' bytes (float32), to compare replicas across ranks."""
    h = hashlib.sha1()
    for _, p in sorted(model.state_dict().items()):
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def resume_run(
    path: Path,
    config_dict: Mapping[str, Any],
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
) -> int:
    """Load weights, optimizer, scheduler and torch RNG of ``path`` into the run; returns its step.

    Raises:
        CheckpointError: the run was started with another ``model`` or ``loss`` config.
    """
    expected = {k: config_dict[k] for k in ("model", "loss")}
    ck = load_checkpoint(path, with_state=True)
    # Read through Config so that fields added since the run started take their defaults.
    saved = ck.typed_config().to_dict()
    found = {k: saved[k] for k in ("model", "loss")}
    diffs = config_differences(expected, found)
    if diffs:
        raise CheckpointError(
            f"{path}: cannot resume, the run was started with another config: {'; '.join(diffs[:6])}"
        )
    model.load_state_dict(ck.weights)
    opt.load_state_dict(ck.state["optimizer"])
    sched.load_state_dict(ck.state["scheduler"])
    torch.set_rng_state(ck.state["torch_rng"])
    step = int(ck.state["step"])
    log.info("resumed %s at step %d", path, step)
    return step


def warm_start(model: nn.Module, source: str, prefixes: Sequence[str]) -> None:
    """Start from the weights of checkpoint ``source`` (a path or shipped name): all of them, or
    with ``prefixes`` only the tensors whose names start with one of them (:func:`load_prefixed`).

    Raises:
        CheckpointError: the weights do not fit the model.
    """
    warm = load_checkpoint(resolve_checkpoint(source))
    if prefixes:
        load_prefixed(model, warm.weights, prefixes, source)
    else:
        try:
            model.load_state_dict(warm.weights)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CheckpointError(f"{source}: weights do not fit this model ({first})") from None
    log.info("warm start from %s (step %s)", source, warm.meta.get("step"))


def load_prefixed(
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


class TrainingCheckpoint:
    """Saves ``path`` (weights, optimizer, scheduler, torch RNG, step) from rank 0, after checking
    under ``torchrun`` that every rank holds the same weights.

    Attributes:
        digests: every rank's weight digest at the last save (empty until a distributed save).
    """

    def __init__(
        self,
        path: Path,
        model: nn.Module,
        opt: torch.optim.Optimizer,
        sched: torch.optim.lr_scheduler.LRScheduler,
        config_dict: Mapping[str, Any],
        data: Sequence[str],
        ctx: Distributed,
    ) -> None:
        self.path, self.model, self.opt, self.sched = path, model, opt, sched
        self.config_dict, self.data, self.ctx = config_dict, list(data), ctx
        self.digests: list[str] = []

    def save(self, step: int, val: Mapping[str, float] | None = None) -> None:
        """Checkpoint the run at ``step`` with its last validation ``val`` (every rank calls it)."""
        if self.ctx.enabled:
            # give every rank rank 0's buffers before comparing replicas
            broadcast_buffers(self.model)
        digest = weights_digest(self.model)
        if self.ctx.enabled:
            self.digests = replica_digests(digest, self.ctx, step)
        if not self.ctx.is_main:
            return
        state = {
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
        }
        meta = {
            "step": step,
            "data": list(self.data),
            "world_size": self.ctx.world,
            "weights_sha1": digest,
            "val": dict(val or {}),
        }
        save_checkpoint(self.path, self.model.state_dict(), self.config_dict, meta, state)
