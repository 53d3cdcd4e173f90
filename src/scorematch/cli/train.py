"""``scorematch train {poe,foe}``: fit a PoE or FoE by regularized score matching into a run directory.

Settings come from, in increasing priority: the built-in defaults, a TOML file (``--config x.toml``, keys
named like the flags with underscores) and the command-line flags. Every value is checked before anything
is written; the run directory then holds ``train.toml`` (the resolved settings, reusable as ``--config``),
``config.json``, ``metrics.csv``, ``checkpoint.safetensors`` and ``model.safetensors``, each written
atomically. ``--resume`` continues a killed or interrupted run bit-for-bit on the CPU.

Exit codes: 0 done, 2 bad input (one line naming the problem and the fix), 1 training diverged (the last
good checkpoint is kept), 128 + signal number when stopped by SIGINT/SIGTERM after writing a checkpoint.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import TrainConfig
from ..devices import resolve_device
from ..distributed import barrier, init_from_env, is_main_process, world_size
from ..energies import Energy
from ..estimators import score_matching_loss
from ..parallel import map_jobs
from ..io.atomic import atomic_path
from ..serialization import load
from ..checkpoint import load_checkpoint
from ..train.sources import MODELS, check_init, new_energy, on_device, training_data
from ..train import (CHECKPOINT, MODEL, DivergenceError, TrainingInterrupted, check_resumable,
                     fit)

from .train_settings import (BY_NAME, CLI_RESUME_MAY_CHANGE, OPTIONS, TRAIN_FIELDS, Option, SettingsError, read_toml,
                             resolve_settings, to_toml)

__all__ = ["OPTIONS", "BY_NAME", "Option", "SettingsError", "resolve_settings", "read_toml", "to_toml", "prepare",
           "add_parser", "run"]


logger = logging.getLogger(__name__)


SETTINGS_FILE = "train.toml"


#: Files whose presence marks a directory as holding a run.
RUN_FILES = (SETTINGS_FILE, "config.json", CHECKPOINT, MODEL)


EXAMPLES = """examples:
  scorematch train poe --data mnist --lam 0.01 --out runs/poe-mnist
  scorematch train foe --data train400 --lam 1e-5 --scale 255 --whiten 5 --patch-size 15 --out runs/foe
  scorematch train poe --config runs/poe-mnist/train.toml --lam 0.003 --out runs/poe-3e-3
  scorematch train poe --data mnist --lam 0.01 --out runs/poe-mnist --resume   # after a crash or Ctrl-C

exit codes: 0 done, 2 bad input, 1 training diverged (last good checkpoint kept), 130/143 interrupted
(checkpoint written; continue with --resume).
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="fit a PoE or FoE by regularized score matching into a run directory",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1] + " "
        + "Settings: defaults < --config TOML < flags. Model files are safetensors, loadable with "
        "scorematch.load(OUT/model.safetensors).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", choices=sorted(MODELS), help="poe: Product of Experts; foe: Field of Experts")
    p.add_argument("--out", required=True, help="run directory to create (or to continue with --resume)")
    p.add_argument("--config", help="TOML file of settings (keys as the flags, with underscores)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--jobs", type=int, default=1,
                   help="with several --lam values: train them in N local worker processes (default 1); "
                   "under torchrun the ranks share the runs instead")
    for o in OPTIONS:
        default = f" (default {o.default})" if o.default is not None else ""
        if o.name == "lam":  # several values: a sweep, one run directory per value
            p.add_argument(o.flag, type=float, nargs="+", default=None, metavar="LAM",
                           help=o.help + "; several values train one run each, in OUT/lam_<value>")
        elif o.kind is bool:
            p.add_argument(o.flag, action=argparse.BooleanOptionalAction, default=None, help=o.help)
        else:
            p.add_argument(o.flag, type=o.kind, default=None, choices=o.choices, help=o.help + default,
                           metavar=o.name.upper() if o.choices is None else None)
    p.set_defaults(func=run)


def _check_out(out: Path, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        raise SettingsError(f"--out {out} is a file; give a directory path")
    if out.is_dir() and not resume:
        found = [name for name in RUN_FILES if (out / name).exists()]
        if found:
            raise SettingsError(
                f"--out {out} already holds a training run ({', '.join(found)}); "
                "pass --resume to continue it, or choose a new --out"
            )
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise SettingsError(f"--out {out}: {parent} is not writable")


def _check_resume(out: Path, model: str, settings: dict[str, Any]) -> None:
    stored = out / SETTINGS_FILE
    if not stored.is_file():
        return
    before = {**{o.name: o.default for o in OPTIONS}, **read_toml(stored)}
    differ = {
        k: (before.get(k), v)
        for k, v in settings.items()
        if k not in CLI_RESUME_MAY_CHANGE and before.get(k) != v
    }
    if differ:
        text = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(differ.items()))
        raise SettingsError(
            f"--resume: the run in {out} was started with other settings ({text}); "
            f"use the same settings (e.g. --config {stored}) or a new --out"
        )


def _device(name: str) -> torch.device:
    try:
        return resolve_device(name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@dataclass
class Prepared:
    """What :func:`prepare` builds from the settings (nothing is written yet)."""

    energy: Energy
    data: Any  # Tensor (N, ...) or a data stream
    description: dict[str, Any]


def prepare(model: str, s: dict[str, Any]) -> Prepared:
    """Load and check the data and build (or load) the energy, writing nothing."""
    dtype = getattr(torch, s["dtype"])
    device = _device(s["device"])
    try:
        initial = load(s["init"], expect=MODELS[model]) if s["init"] is not None else None  # cheap checks first
        data, shape, description = training_data(model, s["data"], dtype=dtype, scale=s["scale"],
                                                 n_train=s["n_train"], patch_size=s["patch_size"],
                                                 whiten=s["whiten"], kernel_size=s["kernel_size"])
        flags = {"experts": s["experts"], "learn_alpha": s["learn_alpha"]}
        if initial is None:
            energy = new_energy(model, shape, kernel_size=s["kernel_size"], seed=s["seed"], **flags)
        else:
            kernel = s["kernel_size"] if s["kernel_size"] != BY_NAME["kernel_size"].default else None
            energy = check_init(initial, s["init"], model, shape, kernel_size=kernel, **flags)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    energy = energy.to(device=device, dtype=dtype)
    if isinstance(data, torch.Tensor):
        data = data.to(device)
    elif device.type != "cpu":
        data = on_device(data, device)
    # One forward pass on two samples: any shape/dtype mismatch is reported now, before anything is written.
    probe = data[:2] if isinstance(data, torch.Tensor) else data(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        energy.energy(probe)
    return Prepared(energy=energy, data=data, description=description)


def run(args: argparse.Namespace) -> int:
    settings = resolve_settings(args)
    if getattr(args, "jobs", 1) < 1:
        raise SettingsError(f"--jobs must be >= 1, got {args.jobs}")
    distributed = init_from_env(_device(settings["device"]))
    try:
        if isinstance(settings["lam"], list):
            return _sweep(args, settings)
        return _train_one(args.model, settings, Path(args.out), resume=args.resume, progress=args.progress,
                          distributed=distributed)
    finally:
        if distributed:  # leave the process group cleanly (gloo aborts at exit otherwise)
            barrier()
            torch.distributed.destroy_process_group()


def _sweep(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    """One run per lambda in OUT/lam_<value>, over local workers (--jobs) or the torchrun ranks."""
    out = Path(args.out)
    jobs = [(args.model, {**settings, "lam": lam}, out / f"lam_{lam:g}", args.resume) for lam in settings["lam"]]
    for _, s, sub, resume in jobs:  # every run's settings and folder are checked before any starts
        _check_out(sub, resume)
        if resume:
            _check_resume(sub, args.model, s)
    codes = map_jobs(_sweep_job, jobs, jobs=args.jobs)
    for (_, s, sub, _), code in zip(jobs, codes):
        print(f"lam={s['lam']:g}: exit {code}, {sub / MODEL}")
    return max(codes)


def _sweep_job(job: tuple[str, dict[str, Any], Path, bool]) -> int:
    model, settings, out, resume = job
    return _train_one(model, settings, out, resume=resume, progress=False, distributed=False)


def _train_one(model_name: str, settings: dict[str, Any], out: Path, *, resume: bool, progress: bool,
               distributed: bool) -> int:
    """Train one run into ``out`` (under torchrun with ``distributed``: data-parallel, rank 0 writes)."""
    args = argparse.Namespace(model=model_name, out=str(out), resume=resume, progress=progress and is_main_process())
    _check_out(out, args.resume)
    if args.resume:
        _check_resume(out, args.model, settings)
    prepared = prepare(args.model, settings)
    barrier()  # every rank has checked the inputs before rank 0 writes anything
    config = TrainConfig(**{f: settings[f] for f in TRAIN_FIELDS})
    loss = functools.partial(score_matching_loss, lam=settings["lam"], method=settings["method"])
    if args.resume and (out / CHECKPOINT).exists():  # refuse a mismatched checkpoint before writing anything
        check_resumable(load_checkpoint(out / CHECKPOINT), prepared.energy, config, out / CHECKPOINT)
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / SETTINGS_FILE) as tmp:
            tmp.write_text(f"# scorematch train {args.model}: resolved settings (usable as --config)\n"
                           + to_toml(settings))
    metadata = {"cli": {"model": args.model, **settings}, "data": prepared.description}
    try:
        result = fit(prepared.energy, prepared.data, loss, config=config, run_dir=out, resume=args.resume,
                     progress=args.progress, metadata=metadata)
    except DivergenceError as exc:
        print(f"scorematch train: {exc}", file=sys.stderr)
        return 1
    except TrainingInterrupted as exc:
        print(f"scorematch train: {exc} (--resume)", file=sys.stderr)
        return 128 + exc.signum
    if is_main_process():
        world = f" on {world_size()} ranks" if distributed else ""
        print(f"trained {type(result.energy).__name__} for {result.steps} steps{world}, "
              f"final loss {result.final_loss:.6g}; model: {out / MODEL}")
    return 0
