"""Training for a budget of CPU time: the shoot-out's runs stop on the process's measured CPU time, not on a step
count, and leave a snapshot of the energy at every point of the curve.

A run directory holds ``fit``'s files (checkpoints, ``metrics.csv``), ``clock.csv`` (step, CPU seconds of
training, loss at every logged step), ``points/<cpu minutes>.safetensors`` (the energy when the run's CPU time
first reached each point) and ``diverged.json`` when the loss or the parameters became non-finite. A run resumes
from ``fit``'s last checkpoint with the CPU time it had then (what ran after it is dropped and redone), so an
interrupted run, or one given a larger budget later, continues where it was.
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scorematch.io.atomic import atomic_path
from scorematch.serialization import load_info, save
from scorematch.train import DivergenceError, fit
from scorematch_paper.experiments.shootout.recipe import setup

#: Steps between the clock's readings (and the budget checks); a step takes at most about a second here.
LOG_EVERY = 5
#: Steps between ``fit``'s checkpoints (what an interrupted run loses at most).
CHECKPOINT_EVERY = 50
#: An upper bound on the steps of any run (the budget stops it first; the schedule is constant).
MAX_STEPS = 10**9


class _BudgetSpent(Exception):
    """Raised by the clock to end ``fit`` once the budget is used."""


def train_for(run: str | Path, *, minutes: float, point_minutes: float, arch: dict[str, int], estimator: str,
              lam: float, lr: float, seed: int, patch: int, batch: int) -> dict[str, Any]:
    """Train (or continue) the run in ``run`` until it has used ``minutes`` of CPU time.

    Returns ``{"points": [{"minutes", "cpu_seconds", "step", "file"}], "clock": [[step, cpu_seconds, loss], ...],
    "diverged": None or {"step", "cpu_seconds", "what"}}``: a point every ``point_minutes`` up to the budget (the
    last at the budget; none after a divergence).
    """
    run = Path(run)
    (run / "points").mkdir(parents=True, exist_ok=True)
    readings = _read_clock(run)
    spent = bool(readings) and readings[-1][1] >= minutes * 60  # trained that far already
    if not (run / "diverged.json").is_file() and not spent:
        energy, stream, loss, metadata = setup(estimator=estimator, seed=seed, arch=arch, patch=patch, lam=lam)
        clock = _Clock(run, minutes * 60, point_minutes * 60)
        try:
            fit(energy, stream, loss, run_dir=run, resume=True, steps=MAX_STEPS, schedule="constant", lr=lr,
                batch_size=batch, seed=seed, log_every=LOG_EVERY, checkpoint_every=CHECKPOINT_EVERY,
                metadata=metadata, callback=clock)
        except _BudgetSpent:
            pass
        except DivergenceError as e:
            rows = _read_clock(run)
            with atomic_path(run / "diverged.json") as tmp:
                tmp.write_text(json.dumps({"step": e.step, "cpu_seconds": rows[-1][1] if rows else 0.0,
                                           "what": str(e)}))
    diverged = json.loads((run / "diverged.json").read_text()) if (run / "diverged.json").is_file() else None
    return {"points": _points(run, minutes), "clock": _read_clock(run), "diverged": diverged}


@dataclass
class _Clock:
    """``fit``'s callback: adds up the training's CPU time from the run's last checkpoint on, writes the clock,
    saves the snapshots and stops the run at the budget."""

    run: Path
    budget: float
    every: float
    offset: float | None = None
    started: float = field(default_factory=time.process_time)

    def __call__(self, step: int, loss: float, energy: Any) -> None:
        if self.offset is None:  # the first reading of this process: resume the clock at fit's starting step
            self.offset = self._resume(step - LOG_EVERY)
        seconds = self.offset + time.process_time() - self.started
        with open(self.run / "clock.csv", "a", newline="") as f:
            csv.writer(f).writerow([step, f"{seconds:.3f}", repr(loss)])
        due = [m for m in _point_seconds(self.budget, self.every) if m <= seconds and not _point_file(self.run, m)]
        for m in due:
            save(energy, self.run / "points" / _point_name(m), metadata={"step": step, "cpu_seconds": seconds})
        if seconds >= self.budget:
            raise _BudgetSpent

    def _resume(self, start: int) -> float:
        """The CPU seconds at step ``start``; the clock rows and snapshots after it are dropped."""
        rows = [r for r in _read_clock(self.run) if r[0] <= start]
        with atomic_path(self.run / "clock.csv") as tmp:
            tmp.write_text("".join(f"{s},{t:.3f},{v!r}\n" for s, t, v in rows))
        for p in (self.run / "points").glob("*.safetensors"):
            if _snapshot_step(p) > start:
                p.unlink()
        return rows[-1][1] if rows and start > 0 else 0.0


def _read_clock(run: Path) -> list[list[float]]:
    path = run / "clock.csv"
    if not path.is_file():
        return []
    return [[int(r[0]), float(r[1]), float(r[2])] for r in csv.reader(path.read_text().splitlines()) if r]


def _point_seconds(budget: float, every: float) -> list[float]:
    """The CPU seconds of the points: every ``every`` up to the budget, and the budget."""
    n = math.floor(budget / every + 1e-9)
    return sorted({round(every * k, 6) for k in range(1, n + 1)} | {round(budget, 6)})


def _point_name(seconds: float) -> str:
    return f"{seconds / 60:.4f}.safetensors"


def _point_file(run: Path, seconds: float) -> Path | None:
    path = run / "points" / _point_name(seconds)
    return path if path.is_file() else None


def _snapshot_step(path: Path) -> int:
    return int(load_info(path)["extra"]["step"])


def _points(run: Path, minutes: float) -> list[dict[str, Any]]:
    """The run's snapshots up to ``minutes``, in order."""
    out = []
    for path in sorted((run / "points").glob("*.safetensors"), key=lambda p: float(p.stem)):
        if float(path.stem) <= minutes + 1e-6:
            extra = load_info(path)["extra"]
            out.append({"minutes": float(path.stem), "cpu_seconds": round(float(extra["cpu_seconds"]), 3),
                        "step": int(extra["step"]), "file": path.name})
    return out
