"""A prior's presets: how to restore with it, per noise level and task, chosen on tuning images and stored in its
model file (typed, versioned, checked on load)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings

__all__ = ["DenoisePreset", "TaskPreset", "Presets", "PRESETS_VERSION", "TASKS", "PresetsError"]

#: The version of the presets' format in a model file (``metadata["presets"]["version"]``): 2 added ``noise_target``.
PRESETS_VERSION = 2
#: The versions this scorematch reads.
READABLE_VERSIONS = (1, 2)
#: The restoration tasks a preset may name besides denoising (super-resolution by its factor).
TASKS = ("deblur", "inpaint", "superres_2x", "superres_3x", "superres_4x")
#: Denoising methods of a preset.
DENOISE_METHODS = ("tweedie", "map")
#: First estimates of a MAP denoiser.
STARTS = ("smooth", "tweedie")


class PresetsError(ValueError):
    """A model file's presets that cannot be read: the message names the entry and what is wrong."""


@dataclass(frozen=True)
class DenoisePreset(Settings):
    """How a prior denoises at one noise level.

    Attributes
    ----------
    method : {"map", "tweedie"}
        ``"tweedie"``: the posterior mean of a noise-conditional prior, one gradient evaluation. ``"map"``: L-BFGS on
        ``weight * E(x) + |x - y|^2 / (2 sigma^2)``.
    weight : float
        The prior weight of MAP.
    level_ratio : float or None
        MAP with a noise-conditional prior: its field at ``level_ratio * sigma`` (None: its energy at its lowest level).
    iterations : int or None
        L-BFGS iterations at most (None: the solver's default).
    start : {"smooth", "tweedie"}
        MAP's first estimate: the noisy image smoothed a little, or Tweedie's estimate.
    """

    method: str = "map"
    weight: float = 1.0
    level_ratio: float | None = None
    iterations: int | None = None
    start: str = "smooth"

    def __post_init__(self) -> None:
        self._check_choice("method", DENOISE_METHODS)
        self._check_choice("start", STARTS)
        self._check_numbers(weight=0.0)
        if self.level_ratio is not None:
            self._check_numbers(level_ratio=0.0, strict=True)
        if self.iterations is not None:
            self._check_ints(iterations=1)


@dataclass(frozen=True)
class TaskPreset(Settings):
    """How a prior restores in one task (deblurring, inpainting, super-resolution by a factor).

    Attributes
    ----------
    weight : float or None
        The prior weight with noise (None: the denoising preset's weight at the noise level).
    level : float or None
        A noise-conditional prior's field used as the MAP prior, its level on the [0, 1] scale (None: its energy at
        its lowest level).
    iterations : int or None
        L-BFGS iterations at most (None: the solver's default).
    """

    weight: float | None = None
    level: float | None = None
    iterations: int | None = None

    def __post_init__(self) -> None:
        if self.weight is not None:
            self._check_numbers(weight=0.0)
        if self.level is not None:
            self._check_numbers(level=0.0, strict=True)
        if self.iterations is not None:
            self._check_ints(iterations=1)


@dataclass(frozen=True)
class Presets:
    """A prior's presets: denoising per noise level, the other tasks by name, and where they were chosen.

    Attributes
    ----------
    denoise : dict of float to DenoisePreset
        Noise std (on the [0, 1] scale) -> the preset chosen there; :meth:`denoising` takes the nearest level.
    tasks : dict of str to TaskPreset
        :data:`TASKS` -> preset; :meth:`task` takes a super-resolution factor's nearest.
    source : str
        Where they were chosen (script and images), for the model card.
    noise_target : float or None
        A noise-conditional prior's self-consistency ratio at the true noise level, which its noise estimate solves
        for (:func:`~scorematch.tasks.noise_level.energy_sigma`); None: :data:`~scorematch.tasks.noise_level.ENERGY_TARGET`.
    """

    denoise: dict[float, DenoisePreset] = field(default_factory=dict)
    tasks: dict[str, TaskPreset] = field(default_factory=dict)
    source: str = ""
    noise_target: float | None = None

    def __post_init__(self) -> None:
        unknown = set(self.tasks) - set(TASKS)
        if unknown:
            raise PresetsError(f"unknown tasks {sorted(unknown)}; known: {list(TASKS)}")
        if any(not (math.isfinite(s) and s > 0) for s in self.denoise):
            raise PresetsError(f"denoising levels must be positive noise stds, got {sorted(self.denoise)}")
        t = self.noise_target
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.5 <= t <= 2):
            raise PresetsError(f"noise_target must be a ratio between 0.5 and 2, got {t!r}")

    def denoising(self, sigma: float) -> DenoisePreset | None:
        """The denoising preset of the level nearest ``sigma`` (in log sigma); None when there is none."""
        if not self.denoise:
            return None
        return self.denoise[min(self.denoise, key=lambda s: abs(math.log(s / sigma)))]

    def task(self, name: str) -> TaskPreset | None:
        """The preset of task ``name`` (``superres_<f>x`` without one: the nearest factor's); None when none."""
        if name in self.tasks:
            return self.tasks[name]
        factor = _factor(name)
        factors = {_factor(k): v for k, v in self.tasks.items() if _factor(k)}
        if factor is None or not factors:
            return None
        return factors[min(factors, key=lambda f: (abs(f - factor), f))]

    def to_json(self) -> dict[str, Any]:
        """The model file's form: ``{"version", "denoise": [{"sigma", ...}], "tasks": {name: {...}}, "source",
        "noise_target"}`` (the last only when set)."""
        target = {} if self.noise_target is None else {"noise_target": self.noise_target}
        return {"version": PRESETS_VERSION,
                "denoise": [{"sigma": s, **p.to_dict()} for s, p in sorted(self.denoise.items())],
                "tasks": {k: v.to_dict() for k, v in sorted(self.tasks.items())}, "source": self.source, **target}

    @classmethod
    def from_json(cls, data: Any, *, where: str = "the model file") -> "Presets":
        """Read :meth:`to_json`'s form, checking every entry.

        Raises
        ------
        PresetsError
            A wrong version, an unknown key or a value out of range, named with ``where``.
        """
        if not isinstance(data, dict) or data.get("version") not in READABLE_VERSIONS:
            version = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise PresetsError(f"{where}: presets of version {version!r}; this scorematch reads version "
                               f"{' or '.join(map(str, READABLE_VERSIONS))} (a newer scorematch wrote it? upgrade)")
        _only(data, {"version", "denoise", "tasks", "source", "noise_target"}, where)
        try:
            denoise = {}
            for entry in data.get("denoise", []):
                entry = dict(entry)
                sigma = float(entry.pop("sigma"))
                _only(entry, {f.name for f in DenoisePreset.__dataclass_fields__.values()}, f"{where}, denoise")
                denoise[sigma] = DenoisePreset(**entry)
            tasks = {}
            for name, entry in dict(data.get("tasks", {})).items():
                _only(entry, {f.name for f in TaskPreset.__dataclass_fields__.values()}, f"{where}, task {name}")
                tasks[name] = TaskPreset(**entry)
            return cls(denoise, tasks, str(data.get("source", "")), data.get("noise_target"))
        except PresetsError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise PresetsError(f"{where}: unreadable presets ({exc})") from None


def _only(entry: Any, allowed: set[str], where: str) -> None:
    if not isinstance(entry, dict):
        raise PresetsError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = set(entry) - allowed
    if unknown:
        raise PresetsError(f"{where}: unknown preset keys {sorted(unknown)}; known: {sorted(allowed)}")


def _factor(task: str) -> int | None:
    """The factor of a ``superres_<f>x`` task name, else None."""
    digits = task.removeprefix("superres_").removesuffix("x")
    return int(digits) if task.startswith("superres_") and task.endswith("x") and digits.isdigit() else None
