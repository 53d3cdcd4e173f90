"""The parts of one training step: the data stream, the optimizer and its learning rate, the loss (with the
run's generator, inside DistributedDataParallel under ``torch.distributed``) and the two kinds of update."""

from __future__ import annotations

import inspect
import math
import signal
from collections.abc import Callable
from typing import Any, Union

import torch
from torch import Tensor

from .. import distributed as dist_util
from ..config import TrainConfig
from ..energies import Energy

__all__ = ["DataStream", "LossFn", "data_stream", "check_batch", "make_optimizer", "lr_at", "step_loss",
           "first_order_step", "lbfgs_step", "mean_over_ranks"]

#: A data stream: ``stream(batch_size, generator) -> Tensor`` of shape (batch_size, ...) (what ``fit`` draws
#: batches from; not an MCMC sampler, see :mod:`scorematch.samplers`).
DataStream = Callable[[int, torch.Generator], Tensor]
LossFn = Callable[..., Tensor]


def data_stream(data: Union[Tensor, DataStream]) -> tuple[DataStream, int | None]:
    """``data`` as a data stream, and the size of the data set (None for a user's stream).

    A tensor (N, ...) is checked (non-empty, floating, finite) and sampled with replacement.
    """
    if callable(data) and not isinstance(data, Tensor):
        return data, None
    if not isinstance(data, Tensor):
        raise TypeError(f"data must be a Tensor (N, ...) or a data stream callable, got {type(data).__name__}")
    if data.dim() < 2 or data.shape[0] == 0:
        raise ValueError(
            f"data must be a non-empty tensor of shape (N, ...), got {tuple(data.shape)}; pass at least one sample"
        )
    if not data.is_floating_point():
        raise TypeError(f"data must be floating point, got {data.dtype}")
    if not bool(torch.isfinite(data).all()):
        bad = int((~torch.isfinite(data)).flatten(1).any(1).sum())
        raise ValueError(f"data contains NaN or inf values (in {bad} of {data.shape[0]} samples); remove or fix them")

    def sample(batch_size: int, generator: torch.Generator) -> Tensor:
        idx = torch.randint(0, data.shape[0], (batch_size,), generator=generator)
        return data[idx.to(data.device)]

    return sample, data.shape[0]


def check_batch(batch: Any, batch_size: int, step: int) -> None:
    """A data stream's output must be a finite floating tensor of shape (batch_size, ...)."""
    where = f"the data stream's batch at step {step}"
    if not isinstance(batch, Tensor):
        raise TypeError(f"{where} is a {type(batch).__name__}, not a Tensor")
    if batch.dim() < 2 or batch.shape[0] != batch_size:
        raise ValueError(f"{where} has shape {tuple(batch.shape)}; expected ({batch_size}, ...)")
    if not batch.is_floating_point():
        raise TypeError(f"{where} has dtype {batch.dtype}; expected a floating-point tensor")
    if not bool(torch.isfinite(batch).all()):
        raise ValueError(f"{where} contains NaN or inf values; check the data source")


def make_optimizer(config: TrainConfig, params: list[Tensor]) -> torch.optim.Optimizer:
    """``config.optimizer`` ("adam", "sgd" with momentum 0.9, or "lbfgs" with a strong-Wolfe line search)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    return torch.optim.LBFGS(
        params, lr=config.lr, max_iter=config.lbfgs_max_iter, line_search_fn="strong_wolfe", history_size=20
    )


def lr_at(config: TrainConfig, step: int) -> float:
    """The learning rate of ``step`` (0-based): constant, or cosine from ``lr`` to ``final_lr_fraction * lr``."""
    if config.schedule == "constant" or config.steps == 0:
        return config.lr
    frac = step / config.steps
    lo = config.final_lr_fraction
    return config.lr * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * frac)))


def step_loss(energy: Energy, loss_fn: LossFn, generator: torch.Generator,
              batch_size: int) -> Callable[[Tensor], Tensor]:
    """``batch -> loss_fn(energy, batch[, generator=generator])``; under ``torch.distributed`` the loss of this
    rank's contiguous slice of the global batch, inside DistributedDataParallel (gradients averaged)."""
    if _accepts_generator(loss_fn):
        def compute(batch: Tensor) -> Tensor:
            return loss_fn(energy, batch, generator=generator)
    else:
        def compute(batch: Tensor) -> Tensor:
            return loss_fn(energy, batch)
    world, rank = dist_util.world_size(), dist_util.rank()
    if world == 1:
        return compute
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the world size {world}")
    from torch.nn.parallel import DistributedDataParallel

    ddp = DistributedDataParallel(_LossModule(energy, compute))
    local = batch_size // world

    def sliced(batch: Tensor) -> Tensor:
        return ddp(batch[rank * local : (rank + 1) * local])  # this rank's slice of the global batch

    return sliced


def first_order_step(optimizer: torch.optim.Optimizer, loss: Callable[[Tensor], Tensor], batch: Tensor) -> Tensor:
    """One gradient step (Adam, SGD) on ``loss(batch)``; returns the loss before the step."""
    optimizer.zero_grad()
    value = loss(batch)
    if not isinstance(value, Tensor) or value.dim() != 0:
        raise TypeError(
            "loss_fn must return a scalar tensor, got "
            + (f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__)
        )
    value.backward()
    optimizer.step()
    return value


def lbfgs_step(optimizer: torch.optim.Optimizer, loss: Callable[[Tensor], Tensor], batch: Tensor) -> Tensor:
    """One L-BFGS step (its line search) on ``loss(batch)``; returns the loss at the start."""
    world = dist_util.world_size()

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = loss(batch)
        value.backward()
        if world > 1:  # the line search must see the same (global) loss on every rank
            value = value.detach().clone()
            torch.distributed.all_reduce(value)
            value = value / world
        return value

    return optimizer.step(closure)


def mean_over_ranks(value: float, stop: Any) -> float:
    """Under ``torch.distributed``: the mean loss over the ranks, and ``stop.signum`` set (SIGTERM) when any rank
    was asked to stop, so that all stop at the same step. Without it: ``value``."""
    world = dist_util.world_size()
    if world == 1:
        return value
    shared = torch.tensor([value, float(stop.signum or 0)], dtype=torch.float64)
    torch.distributed.all_reduce(shared)
    if shared[1] and stop.signum is None:
        stop.signum = signal.SIGTERM
    return float(shared[0]) / world


def _accepts_generator(loss_fn: LossFn) -> bool:
    try:
        return "generator" in inspect.signature(loss_fn).parameters
    except (TypeError, ValueError):
        return False


class _LossModule(torch.nn.Module):
    """``forward(batch) = loss_fn(energy, batch)``: the unit DistributedDataParallel wraps.

    DDP syncs the gradients of whatever its wrapped module's forward produced; putting the whole loss
    (including the curvature pass or any inner ``autograd.grad`` w.r.t. the input) inside ``forward``
    keeps the double backward within one DDP forward/backward.
    """

    def __init__(self, energy: Energy, loss: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.energy = energy
        self._loss = loss

    def forward(self, batch: Tensor) -> Tensor:
        return self._loss(batch)
