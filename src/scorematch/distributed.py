"""Data-parallel helpers on ``torch.distributed`` (gloo on CPU, NCCL on CUDA).

Launch any script or ``scorematch train`` with ``torchrun --nproc_per_node N``; :func:`init_from_env` joins
the process group that torchrun describes in the environment, and :func:`scorematch.fit` then trains with
DistributedDataParallel: every rank draws the same global batch (same seed), keeps its own slice, and the
gradients are averaged, so N ranks compute what one process computes on the global batch.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist

__all__ = ["init_from_env", "is_distributed", "rank", "world_size", "is_main_process", "barrier", "local_only"]

_LOCAL = contextvars.ContextVar("scorematch_local_only", default=False)


@contextlib.contextmanager
def local_only() -> Iterator[None]:
    """Within this block the process acts alone (``fit`` trains without DDP), e.g. one job of a sweep
    that :func:`scorematch.parallel.map_jobs` spread over the ranks."""
    token = _LOCAL.set(True)
    try:
        yield
    finally:
        _LOCAL.reset(token)


def init_from_env(device: torch.device | str = "cpu") -> bool:
    """Join the process group described by torchrun's environment variables, if any.

    Returns
    -------
    bool
        True when running distributed (``WORLD_SIZE > 1``).
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    device = torch.device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return True


def is_distributed() -> bool:
    """True inside an initialized process group of more than one rank (and not in :func:`local_only`)."""
    return not _LOCAL.get() and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of ranks (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0, the one that writes files and logs."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()
