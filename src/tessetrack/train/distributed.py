"""Training on several processes under ``torchrun`` (``WORLD_SIZE`` > 1): the process group (NCCL on
GPU, gloo on CPU), DDP, the gradients of the parts that run outside DDP, the flags all ranks must
agree on, and the check that every rank holds the same weights."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "Distributed",
    "any_rank",
    "average_gradients",
    "broadcast_buffers",
    "in_main_thread",
    "replica_digests",
    "setup_distributed",
    "teardown_distributed",
    "wrap_ddp",
]


@dataclass(frozen=True)
class Distributed:
    """Where this process runs.

    Attributes:
        world: number of processes (1: not distributed).
        rank: this process's rank; rank 0 writes the files.
        device: this process's device.
        own_group: the process group was started here (and is torn down here).
    """

    world: int
    rank: int
    device: torch.device
    own_group: bool

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str | torch.device | None) -> Distributed:
    """Read ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``, pick the device (default: ``LOCAL_RANK``'s GPU
    when CUDA is available, else the CPU) and start the process group when none runs yet."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if device is None:
        if torch.cuda.is_available():
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        else:
            device = torch.device("cpu")
    device = torch.device(device)
    own_group = world > 1 and not dist.is_initialized()
    if own_group:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return Distributed(world=world, rank=rank, device=device, own_group=own_group)


def teardown_distributed(ctx: Distributed) -> None:
    """Leave together and tear the group down when it was started here: a rank exiting while
    another still talks to it can abort the process (SIGABRT) in the collective library."""
    if ctx.own_group:
        dist.barrier()
        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, ctx: Distributed) -> nn.Module:
    """``model`` in DistributedDataParallel when distributed, else ``model`` itself."""
    if not ctx.enabled:
        return model
    return nn.parallel.DistributedDataParallel(
        model,
        device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
        find_unused_parameters=True,
    )


def average_gradients(params: Iterable[nn.Parameter], world: int) -> None:
    """Average the gradients over the ranks in place, for parts run outside DDP (sum, then / world)."""
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


def any_rank(device: torch.device, *flags: bool) -> tuple[bool, ...]:
    """Each flag, true on every rank when it is true on any (a MAX all-reduce)."""
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def replica_digests(digest: str, ctx: Distributed, step: int) -> list[str]:
    """Every rank's weight digest (``digest`` is this rank's), checked equal.

    Raises:
        RuntimeError: the replicas hold different weights.
    """
    gathered: list[str] = [""] * ctx.world
    dist.all_gather_object(gathered, digest)
    if len(set(gathered)) != 1:
        raise RuntimeError(f"replicas diverged at step {step}: weight digests {gathered}")
    return gathered


def broadcast_buffers(model: nn.Module) -> None:
    """Give every rank rank 0's buffers. DDP re-broadcasts rank 0's buffers (BatchNorm statistics)
    at each forward; after the last one every rank updated its own."""
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def in_main_thread() -> bool:
    """Whether this is the main thread (the only one that may install signal handlers)."""
    return threading.current_thread() is threading.main_thread()
