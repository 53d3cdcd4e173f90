"""The training loop :func:`fit`, assembled from the run directory, the step parts and the guards."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import torch
from torch import Tensor

from .. import distributed as dist_util
from ..config import TrainConfig
from ..energies import Energy
from .guards import DivergenceError, StopRequest, TrainingInterrupted, divergence
from .run_dir import RunDirectory
from .steps import (LossFn, DataStream, check_batch, data_stream, first_order_step, lbfgs_step, lr_at, make_optimizer,
                    mean_over_ranks, step_loss)

__all__ = ["fit", "FitResult"]

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What :func:`fit` returns."""

    energy: Energy
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    run_dir: Path | None = None

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else math.nan


def fit(
    energy: Energy,
    data: Union[Tensor, DataStream],
    loss_fn: LossFn,
    *,
    config: TrainConfig | None = None,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = False,
    callback: Callable[[int, float, Energy], None] | None = None,
    metadata: dict[str, Any] | None = None,
    **overrides: Any,
) -> FitResult:
    """Fit an energy by minimizing ``loss_fn(energy, batch)`` over minibatches.

    Parameters
    ----------
    energy : Energy
        Trained in place.
    data : Tensor, shape (N, ...), or callable
        A data set sampled with replacement, or a data stream ``stream(batch_size, generator) -> (batch_size, ...)``.
    loss_fn : callable
        ``loss_fn(energy, batch) -> scalar``, e.g. ``functools.partial(score_matching_loss, lam=0.01)``.
        If it takes a ``generator`` keyword, it gets the run's seeded generator.
    config : TrainConfig, optional
        Defaults to ``TrainConfig()``; keyword ``overrides`` replace its fields.
    run_dir : path-like, optional
        Writes ``config.json``, ``metrics.csv``, ``checkpoint.safetensors`` (every
        ``checkpoint_every`` steps, on SIGINT/SIGTERM and at the end) and ``model.safetensors``,
        each atomically (a temporary file renamed into place), so a crash never leaves a partial file.
    resume : bool
        Continue from ``run_dir/checkpoint.safetensors`` if present (else start afresh). The checkpoint
        must come from the same energy (class, configuration, dtype) and the same settings (``steps``,
        ``log_every`` and ``checkpoint_every`` may change); the result then equals an uninterrupted run with
        the same seed, bitwise on the CPU, even after a hard kill (SIGKILL) at any point. Only the run's own
        generator is checkpointed: a ``loss_fn`` that draws from torch's global RNG is not reproduced.
    progress : bool
        Show a tqdm progress bar.
    callback : callable, optional
        ``callback(step, loss, energy)`` after each logged step.
    metadata : dict, optional
        JSON-serializable extras stored in ``model.safetensors`` (read back by :func:`scorematch.load_info`).

    Returns
    -------
    FitResult

    Notes
    -----
    Under ``torch.distributed`` (e.g. launched by ``torchrun`` after :func:`scorematch.distributed.init_from_env`)
    the loss runs inside DistributedDataParallel: every rank draws the same global batch of ``batch_size``
    (which must divide by the world size), trains on its own contiguous slice and averages gradients, so the
    parameters equal a single-process run's on the same global batches (up to float summation order). Only
    rank 0 writes to ``run_dir``; every rank reads the checkpoint when resuming.

    Raises
    ------
    DivergenceError
        On a NaN/inf loss or parameter; the last good checkpoint is left as it was.
    TrainingInterrupted
        After SIGINT/SIGTERM, once the checkpoint (and ``metrics.csv``) is written. It is a
        :class:`KeyboardInterrupt`.
    """
    config = _config(energy, loss_fn, config, overrides)
    stream, n_data = data_stream(data)
    batch_size = config.batch_size if config.batch_size is not None else n_data
    if batch_size is None:
        raise ValueError("batch_size=None (full batch) needs a data tensor, not a data stream")
    full_batch = config.batch_size is None and isinstance(data, Tensor)
    params = [p for p in energy.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the energy has no trainable parameters")
    if isinstance(data, Tensor):  # fail on a shape/dtype mismatch before anything is written
        with torch.no_grad():
            energy.energy(data[:2])
    optimizer = make_optimizer(config, params)
    generator = torch.Generator().manual_seed(config.seed)
    run = RunDirectory(Path(run_dir), energy) if run_dir is not None else None
    start_step, history = _resume(run, energy, config, optimizer, generator) if resume and run else (0, [])
    if run is not None:
        run.write_settings(energy, config)
    record = _Record(run, energy, optimizer, generator, config, history)
    loss = step_loss(energy, loss_fn, generator, batch_size)
    update = lbfgs_step if config.optimizer == "lbfgs" else first_order_step
    batches = _batches(data if full_batch else None, stream, batch_size, generator, checked=n_data is None)
    t0 = time.perf_counter()
    energy.train()
    with _progress_bar(progress, config.steps, start_step) as bar, StopRequest().installed() as stop:
        step = start_step
        while step < config.steps:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(config, step)
            value = mean_over_ranks(float(update(optimizer, loss, batches(step)).detach()), stop)
            what = divergence(value, energy)
            if what is not None:
                record.diverged(step, what)
            step += 1
            if step % config.log_every == 0 or step == config.steps:
                history.append({"step": step, "loss": value, "lr": lr_at(config, step - 1),
                                "seconds": time.perf_counter() - t0})
                if callback is not None:
                    callback(step, value, energy)
            bar.advance(value)
            if stop.signum is not None and step < config.steps:
                record.interrupted(step, stop.signum)
            if config.checkpoint_every and step % config.checkpoint_every == 0 and step < config.steps:
                record.checkpoint(step)
    seconds = time.perf_counter() - t0
    record.finish(step, metadata)
    dist_util.barrier()  # the run directory is complete for every rank once fit returns
    energy.eval()
    return FitResult(energy=energy, history=history, steps=step, seconds=seconds,
                     run_dir=run.path if run else None)


def _batches(full: Tensor | None, stream: DataStream, batch_size: int, generator: torch.Generator, *,
             checked: bool) -> Callable[[int], Tensor]:
    """step -> the step's batch: ``full`` every step (full-batch training), else a draw of ``stream``
    (``checked``: a user's stream, whose batches are checked)."""
    def batch(step: int) -> Tensor:
        if full is not None:
            return full
        x = stream(batch_size, generator)
        if checked:
            check_batch(x, batch_size, step)
        return x

    return batch


@dataclass
class _Record:
    """What a run writes to its directory (nothing without one): checkpoints, metrics and the final model,
    and the files left behind when it stops on a divergence or a signal."""

    run: RunDirectory | None
    energy: Energy
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    config: TrainConfig
    history: list[dict[str, float]]

    def checkpoint(self, step: int) -> None:
        if self.run is not None:
            self.run.checkpoint(step, energy=self.energy, optimizer=self.optimizer, generator=self.generator,
                                config=self.config, history=self.history)

    def diverged(self, step: int, what: str) -> None:
        """Write the metrics and raise :class:`DivergenceError` (the last good checkpoint is kept)."""
        logger.warning("step %d: %s; stopping", step, what)
        if self.run is not None:
            self.run.write_metrics(self.history)
        raise DivergenceError(step, what, self.run.last_good if self.run else None)

    def interrupted(self, step: int, signum: int) -> None:
        """Write a checkpoint and the metrics, then raise :class:`TrainingInterrupted`."""
        self.checkpoint(step)
        if self.run is not None:
            self.run.write_metrics(self.history)
        raise TrainingInterrupted(signum, step, self.run.checkpoint_file if self.run else None)

    def finish(self, step: int, metadata: dict[str, Any] | None) -> None:
        """The final checkpoint, metrics and model file."""
        if self.run is not None:
            self.checkpoint(step)
            self.run.write_metrics(self.history)
            self.run.save_model(self.energy, {"train": self.config.to_dict(), "steps": step, **(metadata or {})})


def _config(energy: Energy, loss_fn: LossFn, config: TrainConfig | None, overrides: dict[str, Any]) -> TrainConfig:
    """The arguments checked, and the run's settings: ``config`` (default ``TrainConfig()``) with ``overrides``."""
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be a scorematch Energy, got {type(energy).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(energy, batch), got {type(loss_fn).__name__}")
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    return (config or TrainConfig()).replace(**overrides) if overrides else (config or TrainConfig())


def _resume(run: RunDirectory, energy: Energy, config: TrainConfig, optimizer: torch.optim.Optimizer,
            generator: torch.Generator) -> tuple[int, list[dict[str, float]]]:
    """Load the run's checkpoint into the energy, optimizer and generator: (its step, its history); (0, [])
    when there is none."""
    ckpt = run.resumable(energy, config)
    if ckpt is None:
        return 0, []
    energy.load_state_dict(ckpt.energy.state_dict())
    optimizer.load_state_dict(ckpt.optimizer_state)
    generator.set_state(ckpt.generator_state)
    logger.info("resumed from %s at step %d", run.checkpoint_file, ckpt.step)
    return ckpt.step, ckpt.history


class _progress_bar:
    """A tqdm bar of the steps when ``enabled`` (else nothing), as a context manager; ``advance(loss)``."""

    def __init__(self, enabled: bool, total: int, initial: int) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc="fit", leave=False)

    def __enter__(self) -> "_progress_bar":
        return self

    def advance(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4g}")

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
