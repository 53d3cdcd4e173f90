"""The settings of ``scorematch train``: one option table (flag, TOML key, default, check), read from defaults,
a TOML file and the flags, and written back as TOML."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ..config import OPTIMIZERS, SCHEDULES, TrainConfig
from ..derivatives import METHODS
from ..train import (RESUME_MAY_CHANGE)
from ..validation import check_int, check_number


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
        settings[o.name] = validate_option(o, settings[o.name])
    if lams is not None and len(lams) > 1:
        settings["lam"] = [validate_option(BY_NAME["lam"], v) for v in dict.fromkeys(lams)]
    if settings["data"] is None:
        raise SettingsError("--data is required: mnist, train400, set12 or a folder of images")
    if settings["lam"] is None:
        raise SettingsError("--lam is required: the regularization weight lambda (e.g. 0.01 for MNIST on [0, 1])")
    if settings["whiten"] and (settings["whiten"] < 3 or settings["whiten"] % 2 == 0):
        raise SettingsError(f"--whiten must be 0 or an odd size >= 3 (e.g. 5), got {settings['whiten']}")
    return settings


def validate_option(o: Option, value: Any) -> Any:
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
