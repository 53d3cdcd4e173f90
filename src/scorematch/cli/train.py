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
import dataclasses
import functools
import logging
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import OPTIMIZERS, SCHEDULES, TrainConfig
from ..derivatives import METHODS
from ..devices import resolve_device
from ..distributed import barrier, init_from_env, is_main_process, world_size
from ..energies import Energy
from ..estimators import score_matching_loss
from ..parallel import map_jobs
from ..io.atomic import atomic_path
from ..serialization import load
from ..checkpoint import load_checkpoint
from ..train.sources import MODELS, check_init, new_energy, on_device, training_data
from ..train import (CHECKPOINT, MODEL, RESUME_MAY_CHANGE, DivergenceError, TrainingInterrupted, check_resumable,
                     fit)
from ..validation import check_int, check_number

__all__ = ["OPTIONS", "Option", "SettingsError", "resolve_settings", "read_toml", "to_toml", "prepare", "add_parser", "run"]

logger = logging.getLogger(__name__)

SETTINGS_FILE = "train.toml"
#: Files whose presence marks a directory as holding a run.
RUN_FILES = (SETTINGS_FILE, "config.json", CHECKPOINT, MODEL)


class SettingsError(ValueError):
    """Bad command-line or TOML input (reported as one line, exit code 2)."""


@dataclass(frozen=True)
class Option:
    """One setting: a ``--flag``, a TOML key and a validation rule."""

    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    strict: bool = False
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


#: TrainConfig's defaults, which the trainer's options share (one place for each default).
_TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
#: The options that are TrainConfig fields.
TRAIN_FIELDS = ("steps", "batch_size", "optimizer", "lr", "schedule", "seed", "log_every", "checkpoint_every")

OPTIONS: tuple[Option, ...] = (
    Option("data", str, None, "training data: mnist, train400, set12, or a folder of images (or of MNIST idx files)"),
    Option("lam", float, None, "regularization weight lambda >= 0 (required; about 0.01 for MNIST on [0, 1])",
           minimum=0.0),
    Option("steps", int, _TRAIN_DEFAULTS["steps"], "optimizer steps", minimum=1),
    Option("batch_size", int, _TRAIN_DEFAULTS["batch_size"], "minibatch size", minimum=1),
    Option("lr", float, _TRAIN_DEFAULTS["lr"], "learning rate", minimum=0.0, strict=True),
    Option("optimizer", str, _TRAIN_DEFAULTS["optimizer"], "optimizer", choices=OPTIMIZERS),
    Option("schedule", str, _TRAIN_DEFAULTS["schedule"], "learning-rate schedule", choices=SCHEDULES),
    Option("seed", int, _TRAIN_DEFAULTS["seed"], "seeds the initial filters, the minibatches and any random probes", minimum=0),
    Option("method", str, "curvature", "how the input derivatives are computed", choices=METHODS),
    Option("experts", int, None, "number of experts (default: the input dimension for poe, 24 for foe)", minimum=1),
    Option("kernel_size", int, 5, "FoE filter size", minimum=1),
    Option("patch_size", int, None, "side of the training patches drawn from image folders "
           "(default 8 for poe, 15 for foe; MNIST digits are used whole)", minimum=1),
    Option("scale", float, 1.0, "multiply pixel values (e.g. 255 to train on the 0..255 scale)",
           minimum=0.0, strict=True),
    Option("whiten", int, 0, "Laplacian whitening filter size for image patches (odd, e.g. 5; 0: none)", minimum=0),
    Option("n_train", int, None, "use only the first N digits or images", minimum=1),
    Option("learn_alpha", bool, None, "learn the expert weights alpha (default: no for poe, yes for foe)"),
    Option("dtype", str, "float32", "floating-point precision", choices=("float32", "float64")),
    Option("device", str, "cpu", "cpu, cuda, cuda:N or auto (cuda when available)"),
    Option("checkpoint_every", int, _TRAIN_DEFAULTS["checkpoint_every"], "steps between checkpoints (also written on SIGINT/SIGTERM)", minimum=1),
    Option("log_every", int, _TRAIN_DEFAULTS["log_every"], "steps between rows of metrics.csv", minimum=1),
    Option("init", str, None, "start from this model file (a run's model.safetensors) instead of random filters"),
)
BY_NAME = {o.name: o for o in OPTIONS}
#: Settings that may differ when a run is resumed: the trainer's, and the device it runs on.
CLI_RESUME_MAY_CHANGE = RESUME_MAY_CHANGE + ("device",)

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


# ----------------------------------------------------------------------------------------- settings


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Settings from a TOML file: flat ``key = value`` pairs named like :data:`OPTIONS`, type-checked."""
    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"--config {path}: no such file")
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise SettingsError("--config needs Python >= 3.11 (tomllib) or the tomli package") from None
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"--config {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise SettingsError(f"--config {path}: not a UTF-8 text file") from None
    out = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in BY_NAME:
            raise SettingsError(
                f"--config {path}: unknown setting {key!r}; known: {', '.join(o.name for o in OPTIONS)}"
            )
        out[name] = _typed(BY_NAME[name], value, f"--config {path}: {key}")
    return out


def _typed(o: Option, value: Any, where: str) -> Any:
    want = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[o.kind]
    ok = (
        isinstance(value, bool) if o.kind is bool
        else isinstance(value, int) and not isinstance(value, bool) if o.kind is int
        else isinstance(value, (int, float)) and not isinstance(value, bool) if o.kind is float
        else isinstance(value, str)
    )
    if not ok:
        raise SettingsError(f"{where} must be {want}, got {value!r}")
    return float(value) if o.kind is float else value


def to_toml(settings: dict[str, Any]) -> str:
    """Flat settings as TOML text (None values are left out); :func:`read_toml` reads it back."""
    lines = []
    for name, value in settings.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value) if isinstance(value, int) or math.isfinite(value) else None
            if text is None:
                raise ValueError(f"{name} = {value} cannot be written to TOML")
        else:
            text = _toml_string(str(value))
        lines.append(f"{name} = {text}")
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    """A TOML basic string: escape the quote, the backslash and the control characters."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults < TOML (``args.config``) < flags, then every value validated.

    Returns
    -------
    dict
        One entry per :data:`OPTIONS` name (None where the model's default applies).

    Raises
    ------
    SettingsError
        With one line naming the setting, the problem and the fix.
    """
    settings = {o.name: o.default for o in OPTIONS}
    if getattr(args, "config", None):
        settings.update(read_toml(args.config))
    for o in OPTIONS:
        value = getattr(args, o.name, None)
        if value is not None:
            settings[o.name] = value
    lams = settings["lam"] if isinstance(settings["lam"], list) else None
    if lams is not None:
        settings["lam"] = lams[0] if len(lams) == 1 else None
    for o in OPTIONS:
        settings[o.name] = _validate(o, settings[o.name])
    if lams is not None and len(lams) > 1:
        settings["lam"] = [_validate(BY_NAME["lam"], v) for v in dict.fromkeys(lams)]
    if settings["data"] is None:
        raise SettingsError("--data is required: mnist, train400, set12 or a folder of images")
    if settings["lam"] is None:
        raise SettingsError("--lam is required: the regularization weight lambda (e.g. 0.01 for MNIST on [0, 1])")
    if settings["whiten"] and (settings["whiten"] < 3 or settings["whiten"] % 2 == 0):
        raise SettingsError(f"--whiten must be 0 or an odd size >= 3 (e.g. 5), got {settings['whiten']}")
    return settings


def _validate(o: Option, value: Any) -> Any:
    if value is None:
        return None
    try:
        if o.kind is int:
            value = check_int(o.flag, value, minimum=None if o.minimum is None else int(o.minimum))
        elif o.kind is float:
            value = check_number(o.flag, value, minimum=o.minimum, strict=o.strict)
    except (TypeError, ValueError) as exc:
        raise SettingsError(str(exc)) from None
    if o.choices is not None and value not in o.choices:
        raise SettingsError(f"{o.flag} must be one of {', '.join(o.choices)}; got {value!r}")
    return value


# ----------------------------------------------------------------------------------------- checks


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


# ----------------------------------------------------------------------------------------- data and model


@dataclass
class Prepared:
    """What :func:`prepare` builds from the settings (nothing is written yet)."""

    energy: Energy
    data: Any  # Tensor (N, ...) or sampler
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


# ----------------------------------------------------------------------------------------- run


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
