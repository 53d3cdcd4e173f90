"""One generic training loop, used by every experiment: :func:`fit`."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import torch
from torch import Tensor

from . import distributed as dist_util
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .energies import Energy
from .io.atomic import atomic_path
from .io.tables import write_csv
from .serialization import energy_metadata, save

__all__ = ["fit", "FitResult", "DivergenceError", "TrainingInterrupted", "Sampler", "check_resumable",
           "RESUME_MAY_CHANGE"]

logger = logging.getLogger(__name__)

#: A data source: ``sampler(batch_size, generator) -> Tensor`` of shape (batch_size, ...).
Sampler = Callable[[int, torch.Generator], Tensor]
LossFn = Callable[..., Tensor]

CHECKPOINT = "checkpoint.safetensors"
MODEL = "model.safetensors"


class DivergenceError(RuntimeError):
    """The loss or the parameters became NaN/inf; the last good checkpoint is kept.

    Attributes
    ----------
    step : int
        The step whose update diverged (0-based).
    checkpoint : Path or None
        The last good checkpoint left untouched on disk, if any.
    """

    def __init__(self, step: int, what: str, checkpoint: Path | None = None) -> None:
        kept = (
            f"the last good checkpoint {checkpoint} is kept"
            if checkpoint is not None
            else "no checkpoint had been written yet"
        )
        super().__init__(
            f"training diverged at step {step}: {what}. Start again with a lower learning rate or a larger lam; {kept}."
        )
        self.step = step
        self.checkpoint = checkpoint


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM stopped :func:`fit` between two steps (after writing a checkpoint if it had a run dir).

    Attributes
    ----------
    signum : int
        The signal received.
    step : int
        Steps completed.
    checkpoint : Path or None
        The checkpoint written at ``step`` (None without a run directory).
    """

    def __init__(self, signum: int, step: int, checkpoint: Path | None) -> None:
        where = f"checkpoint written to {checkpoint}; continue with resume=True" if checkpoint else "no run directory, nothing saved"
        super().__init__(f"stopped by {signal.Signals(signum).name} after step {step}; {where}")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


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


def _make_sampler(data: Union[Tensor, Sampler]) -> tuple[Sampler, int | None]:
    if callable(data) and not isinstance(data, Tensor):
        return data, None
    if not isinstance(data, Tensor):
        raise TypeError(f"data must be a Tensor (N, ...) or a sampler callable, got {type(data).__name__}")
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


def _make_optimizer(config: TrainConfig, params: list[Tensor]) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    return torch.optim.LBFGS(
        params, lr=config.lr, max_iter=config.lbfgs_max_iter, line_search_fn="strong_wolfe", history_size=20
    )


def _lr_at(config: TrainConfig, step: int) -> float:
    if config.schedule == "constant" or config.steps == 0:
        return config.lr
    frac = step / config.steps
    lo = config.final_lr_fraction
    return config.lr * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * frac)))


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps (the loop then checkpoints and stops)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator["_StopRequest"]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: Any) -> None:
            if self.signum is not None:  # a second signal: stop at once
                raise KeyboardInterrupt
            self.signum = signum

        for s in old:
            signal.signal(s, handler)
        try:
            yield self
        finally:
            for s, h in old.items():
                # getsignal() gives None for a handler not installed from Python: restore the default then.
                signal.signal(s, h if h is not None else signal.SIG_DFL)


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


def fit(
    energy: Energy,
    data: Union[Tensor, Sampler],
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
        A data set sampled with replacement, or ``sampler(batch_size, generator) -> (batch_size, ...)``.
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
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be a scorematch Energy, got {type(energy).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(energy, batch), got {type(loss_fn).__name__}")
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    config = (config or TrainConfig()).replace(**overrides) if overrides else (config or TrainConfig())
    sampler, n_data = _make_sampler(data)
    batch_size = config.batch_size if config.batch_size is not None else n_data
    if batch_size is None:
        raise ValueError("batch_size=None (full batch) needs a data tensor, not a sampler")
    full_batch = config.batch_size is None and isinstance(data, Tensor)

    params = [p for p in energy.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the energy has no trainable parameters")
    if isinstance(data, Tensor):  # fail on a shape/dtype mismatch before anything is written
        with torch.no_grad():
            energy.energy(data[:2])
    optimizer = _make_optimizer(config, params)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    start_step = 0
    run_path = Path(run_dir) if run_dir is not None else None
    writer = dist_util.is_main_process()  # only rank 0 writes to the run directory
    ckpt_file = run_path / CHECKPOINT if run_path is not None else None
    last_good: Path | None = None
    if run_path is not None:
        energy_metadata(energy)  # fail early if this energy has no file format
        if run_path.exists() and not run_path.is_dir():
            raise NotADirectoryError(f"run_dir {run_path} exists and is not a directory; choose another path")
        if resume:
            _remove_stale_temporaries(run_path)
        if resume and ckpt_file.exists():
            ckpt = load_checkpoint(ckpt_file)
            check_resumable(ckpt, energy, config, ckpt_file)
            energy.load_state_dict(ckpt.energy.state_dict())
            optimizer.load_state_dict(ckpt.optimizer_state)
            generator.set_state(ckpt.generator_state)
            start_step, history = ckpt.step, ckpt.history
            last_good = ckpt_file
            logger.info("resumed from %s at step %d", ckpt_file, start_step)
        if writer:
            run_path.mkdir(parents=True, exist_ok=True)
            with atomic_path(run_path / "config.json") as tmp:
                tmp.write_text(json.dumps({"train": config.to_dict(), "energy": _describe(energy)}, indent=2))

    def checkpoint(step: int) -> None:
        nonlocal last_good
        if ckpt_file is not None and writer:
            save_checkpoint(
                ckpt_file,
                energy=energy,
                optimizer=optimizer,
                generator=generator,
                step=step,
                train_config=config.to_dict(),
                history=history,
            )
            last_good = ckpt_file

    pass_generator = _accepts_generator(loss_fn)

    def compute_loss(batch: Tensor) -> Tensor:
        return loss_fn(energy, batch, generator=generator) if pass_generator else loss_fn(energy, batch)

    world, rank = dist_util.world_size(), dist_util.rank()
    if world > 1:
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} must be divisible by the world size {world}")
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(_LossModule(energy, compute_loss))
        local = batch_size // world

        def step_loss(batch: Tensor) -> Tensor:
            return ddp(batch[rank * local : (rank + 1) * local])  # this rank's slice of the global batch

    else:
        step_loss = compute_loss

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, initial=start_step, desc="fit", leave=False)
    t0 = time.perf_counter()
    step = start_step
    energy.train()
    with _StopRequest().installed() as stop:
        try:
            while step < config.steps:
                for group in optimizer.param_groups:
                    group["lr"] = _lr_at(config, step)
                if full_batch:
                    batch = data
                else:
                    batch = sampler(batch_size, generator)
                    if n_data is None:
                        _check_batch(batch, batch_size, step)
                if config.optimizer == "lbfgs":

                    def closure() -> Tensor:
                        optimizer.zero_grad()
                        value = step_loss(batch)
                        value.backward()
                        if world > 1:  # the line search must see the same (global) loss on every rank
                            value = value.detach().clone()
                            torch.distributed.all_reduce(value)
                            value = value / world
                        return value

                    loss = optimizer.step(closure)
                else:
                    optimizer.zero_grad()
                    loss = step_loss(batch)
                    if not isinstance(loss, Tensor) or loss.dim() != 0:
                        raise TypeError(
                            "loss_fn must return a scalar tensor, got "
                            + (f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__)
                        )
                    loss.backward()
                    optimizer.step()
                value = float(loss.detach())
                if world > 1:  # the mean loss over ranks, and a stop requested on any rank
                    shared = torch.tensor([value, float(stop.signum or 0)], dtype=torch.float64)
                    torch.distributed.all_reduce(shared)
                    value = float(shared[0]) / world
                    if shared[1] and stop.signum is None:
                        stop.signum = signal.SIGTERM
                what = None
                if not math.isfinite(value):
                    what = f"the loss is {value}"
                else:
                    bad = next((n for n, p in energy.named_parameters() if not bool(torch.isfinite(p).all())), None)
                    if bad is not None:
                        what = f"parameter {bad!r} has NaN/inf values"
                if what is not None:
                    logger.warning("step %d: %s; stopping", step, what)
                    if run_path is not None and writer:
                        _write_metrics(run_path / "metrics.csv", history)
                    raise DivergenceError(step, what, last_good)
                step += 1
                if step % config.log_every == 0 or step == config.steps:
                    row = {"step": step, "loss": value, "lr": _lr_at(config, step - 1),
                           "seconds": time.perf_counter() - t0}
                    history.append(row)
                    if callback is not None:
                        callback(step, value, energy)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4g}")
                if stop.signum is not None and step < config.steps:
                    checkpoint(step)
                    if run_path is not None and writer:
                        _write_metrics(run_path / "metrics.csv", history)
                    raise TrainingInterrupted(stop.signum, step, ckpt_file)
                if config.checkpoint_every and step % config.checkpoint_every == 0 and step < config.steps:
                    checkpoint(step)
        finally:
            if bar is not None:
                bar.close()
    seconds = time.perf_counter() - t0
    if run_path is not None and writer:
        checkpoint(step)
        _write_metrics(run_path / "metrics.csv", history)
        extra = {"train": config.to_dict(), "steps": step}
        extra.update(metadata or {})
        save(energy, run_path / MODEL, metadata=extra)
    dist_util.barrier()  # the run directory is complete for every rank once fit returns
    energy.eval()
    return FitResult(energy=energy, history=history, steps=step, seconds=seconds, run_dir=run_path)


#: TrainConfig fields that may differ between a checkpoint and the run resuming it.
RESUME_MAY_CHANGE = ("steps", "log_every", "checkpoint_every")


def check_resumable(ckpt: Any, energy: Energy, config: TrainConfig, path: Path) -> None:
    """Refuse to continue a checkpoint of another model or other settings (it would not be the same run)."""
    fix = "use a new run directory, or the settings the run was started with"
    mine = {"class": type(energy).__name__, "config": energy.config()}
    theirs = {"class": type(ckpt.energy).__name__, "config": ckpt.energy.config()}
    if mine != theirs:
        raise ValueError(f"{path} is a checkpoint of {theirs}, not of the energy given ({mine}); {fix}")
    dt_mine = next(energy.parameters()).dtype
    dt_theirs = next(ckpt.energy.parameters()).dtype
    if dt_mine != dt_theirs:
        raise ValueError(f"{path} holds {dt_theirs} parameters but the energy is {dt_mine}; {fix}")
    now = config.to_dict()
    differ = {
        k: (ckpt.train_config.get(k), now[k])
        for k in now
        if k not in RESUME_MAY_CHANGE and ckpt.train_config.get(k) != now[k]
    }
    if differ:
        text = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(differ.items()))
        raise ValueError(f"{path} was written with other training settings ({text}); {fix}")
    if ckpt.train_config.get("steps") != config.steps and config.schedule != "constant":
        logger.warning("resuming with steps=%d instead of %s changes the %s schedule", config.steps,
                       ckpt.train_config.get("steps"), config.schedule)


def _remove_stale_temporaries(run_path: Path) -> None:
    """Delete the temporary files a hard kill during an atomic write leaves behind (``.NAME.*.tmp``)."""
    for name in (CHECKPOINT, MODEL, "metrics.csv", "config.json"):
        for tmp in run_path.glob(f".{name}.*.tmp"):
            logger.info("removing %s, left by an interrupted write", tmp)
            tmp.unlink(missing_ok=True)


def _check_batch(batch: Any, batch_size: int, step: int) -> None:
    """A sampler's output must be a finite floating tensor of shape (batch_size, ...)."""
    where = f"the sampler's batch at step {step}"
    if not isinstance(batch, Tensor):
        raise TypeError(f"{where} is a {type(batch).__name__}, not a Tensor")
    if batch.dim() < 2 or batch.shape[0] != batch_size:
        raise ValueError(f"{where} has shape {tuple(batch.shape)}; expected ({batch_size}, ...)")
    if not batch.is_floating_point():
        raise TypeError(f"{where} has dtype {batch.dtype}; expected a floating-point tensor")
    if not bool(torch.isfinite(batch).all()):
        raise ValueError(f"{where} contains NaN or inf values; check the data source")


def _describe(energy: Energy) -> dict[str, Any]:
    try:
        return {"class": type(energy).__name__, "config": energy.config()}
    except NotImplementedError:
        return {"class": type(energy).__name__}


def _write_metrics(path: Path, history: list[dict[str, float]]) -> None:
    if not history:
        return
    write_csv(path, history)
