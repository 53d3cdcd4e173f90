"""What stops a training run: divergence (:class:`DivergenceError`) and SIGINT/SIGTERM (:class:`StopRequest`,
:class:`TrainingInterrupted`)."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..energies import Energy

__all__ = ["DivergenceError", "TrainingInterrupted", "StopRequest", "divergence"]


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
    """SIGINT/SIGTERM stopped :func:`~scorematch.fit` between two steps (after writing a checkpoint if it had a
    run dir).

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


def divergence(value: float, energy: Energy) -> str | None:
    """What diverged (a non-finite loss ``value`` or a parameter with NaN/inf entries), or None."""
    if not math.isfinite(value):
        return f"the loss is {value}"
    bad = next((n for n, p in energy.named_parameters() if not bool(torch.isfinite(p).all())), None)
    return None if bad is None else f"parameter {bad!r} has NaN/inf values"


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps (the loop then checkpoints and stops)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator["StopRequest"]:
        """Catch the two signals while the block runs (in the main thread only; elsewhere nothing changes)."""
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
