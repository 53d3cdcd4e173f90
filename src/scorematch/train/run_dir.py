"""A training run's directory: settings, metrics, checkpoints and the final model, each written atomically."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from .. import distributed as dist_util
from ..checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ..config import TrainConfig
from ..energies import Energy
from ..io.atomic import atomic_path
from ..io.tables import write_csv
from ..serialization import energy_metadata, save

__all__ = ["RunDirectory", "check_resumable", "CHECKPOINT", "MODEL", "METRICS", "SETTINGS", "RESUME_MAY_CHANGE"]

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.safetensors"
MODEL = "model.safetensors"
METRICS = "metrics.csv"
SETTINGS = "config.json"
#: TrainConfig fields that may differ between a checkpoint and the run resuming it.
RESUME_MAY_CHANGE = ("steps", "log_every", "checkpoint_every")


class RunDirectory:
    """The files of one run under ``path``; only the main process (rank 0) writes them.

    ``last_good`` is the newest checkpoint on disk (None before the first), the one a diverged run leaves.
    """

    def __init__(self, path: Path, energy: Energy) -> None:
        energy_metadata(energy)  # fail early if this energy has no file format
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"run_dir {path} exists and is not a directory; choose another path")
        self.path = path
        self.checkpoint_file = path / CHECKPOINT
        self.writer = dist_util.is_main_process()
        self.last_good: Path | None = None

    def resumable(self, energy: Energy, config: TrainConfig) -> Checkpoint | None:
        """The run's checkpoint, checked to continue this energy with these settings (None if there is none);
        temporaries that an interrupted write left are removed first."""
        _remove_stale_temporaries(self.path)
        if not self.checkpoint_file.exists():
            return None
        ckpt = load_checkpoint(self.checkpoint_file)
        check_resumable(ckpt, energy, config, self.checkpoint_file)
        self.last_good = self.checkpoint_file
        return ckpt

    def write_settings(self, energy: Energy, config: TrainConfig) -> None:
        """Create the directory and write ``config.json`` (the training settings and the energy)."""
        if not self.writer:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path / SETTINGS) as tmp:
            tmp.write_text(json.dumps({"train": config.to_dict(), "energy": _describe(energy)}, indent=2))

    def checkpoint(self, step: int, *, energy: Energy, optimizer: torch.optim.Optimizer,
                   generator: torch.Generator, config: TrainConfig, history: list[dict[str, float]]) -> None:
        """Write the checkpoint of ``step`` (what resuming needs to continue bitwise)."""
        if not self.writer:
            return
        save_checkpoint(self.checkpoint_file, energy=energy, optimizer=optimizer, generator=generator, step=step,
                        train_config=config.to_dict(), history=history)
        self.last_good = self.checkpoint_file

    def write_metrics(self, history: list[dict[str, float]]) -> None:
        """``metrics.csv``: one row per logged step (nothing before the first)."""
        if self.writer and history:
            write_csv(self.path / METRICS, history)

    def save_model(self, energy: Energy, metadata: dict[str, Any]) -> None:
        """The trained energy as ``model.safetensors`` with ``metadata`` (read back by ``load_info``)."""
        if self.writer:
            save(energy, self.path / MODEL, metadata=metadata)


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
    for name in (CHECKPOINT, MODEL, METRICS, SETTINGS):
        for tmp in run_path.glob(f".{name}.*.tmp"):
            logger.info("removing %s, left by an interrupted write", tmp)
            tmp.unlink(missing_ok=True)


def _describe(energy: Energy) -> dict[str, Any]:
    try:
        return {"class": type(energy).__name__, "config": energy.config()}
    except NotImplementedError:
        return {"class": type(energy).__name__}
