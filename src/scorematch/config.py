"""Frozen configuration dataclasses, one per concern."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainConfig"]

OPTIMIZERS = ("adam", "lbfgs", "sgd")
SCHEDULES = ("constant", "cosine")


def _check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`scorematch.fit`.

    Attributes
    ----------
    steps : int
        Optimizer steps (for L-BFGS, each step runs up to ``lbfgs_max_iter`` iterations).
    batch_size : int or None
        Minibatch size; None uses the whole data set every step.
    optimizer : {"adam", "lbfgs", "sgd"}
    lr : float
        Learning rate (L-BFGS: initial step length, 1 is usual with the line search).
    schedule : {"constant", "cosine"}
        Learning-rate schedule over ``steps`` (cosine decays to ``lr * final_lr_fraction``).
    final_lr_fraction : float
    seed : int
        Seeds the minibatch sampling and any random probes of the loss.
    log_every : int
        Steps between metric rows.
    checkpoint_every : int
        Steps between checkpoints when a run directory is given (0: only at the end).
    lbfgs_max_iter : int
    """

    steps: int = 1000
    batch_size: int | None = 100
    optimizer: str = "adam"
    lr: float = 1e-2
    schedule: str = "cosine"
    final_lr_fraction: float = 0.01
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 100
    lbfgs_max_iter: int = 20

    def __post_init__(self) -> None:
        # Check types, and store numpy scalars as Python numbers (the config is written as JSON).
        for name in ("steps", "seed", "log_every", "checkpoint_every", "lbfgs_max_iter", "batch_size"):
            value = getattr(self, name)
            if name == "batch_size" and value is None:
                continue
            _check_int(name, value)
            object.__setattr__(self, name, int(value))
        for name in ("lr", "final_lr_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if not 0 <= self.final_lr_fraction <= 1:
            raise ValueError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.log_every < 1 or self.checkpoint_every < 0 or self.lbfgs_max_iter < 1:
            raise ValueError("log_every and lbfgs_max_iter must be >= 1, checkpoint_every >= 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)
