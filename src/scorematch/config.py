"""The config family: frozen dataclasses that check their fields through :mod:`scorematch.validation` and share
one small interface (:class:`Settings`): ``to_dict`` (JSON-ready), ``settings(*fields)`` (the subset a cached result
depends on) and ``replace``. :class:`TrainConfig` is the trainer's; the recipes and the experiments' configs
(``priors.FoERecipe``; in the research package beside the library, ``scorematch_paper.experiments.mnist.MnistConfig``,
``...patches.Condition``, ``...restoration.RestorationConfig``) are its siblings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .validation import check_int, check_number

__all__ = ["Settings", "TrainConfig"]

OPTIMIZERS = ("adam", "lbfgs", "sgd")
SCHEDULES = ("constant", "cosine")


def _jsonable(value: Any) -> Any:
    """Tuples as lists, recursively (what JSON stores)."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class Settings:
    """What every config dataclass of the family shares. Subclasses are frozen dataclasses; their
    ``__post_init__`` checks fields with :meth:`check_ints`, :meth:`check_numbers` and :meth:`check_choice`
    (also reachable as ``_check_ints``, ``_check_numbers`` and ``_check_choice``, the names the library's own
    configs use)."""

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (tuples as lists)."""
        return _jsonable(dataclasses.asdict(self))  # type: ignore[call-overload]

    def settings(self, *fields: str) -> dict[str, Any]:
        """The named fields (e.g. the ones a cached result depends on)."""
        d = self.to_dict()
        return {f: d[f] for f in fields}

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` (unknown field names refused)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        if unknown:
            raise TypeError(f"unknown {type(self).__name__} fields: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def check_ints(self, **minimums: int | None) -> None:
        """Check that each named field is an integer of at least its minimum, and store it as ``int``.

        Parameters
        ----------
        **minimums : int or None
            Field name -> its smallest allowed value (None: no minimum).

        Raises
        ------
        TypeError, ValueError
            If a field is not an integer or is below its minimum (the message names the field).
        """
        for name, minimum in minimums.items():
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=minimum))

    def check_numbers(self, strict: bool = False, **minimums: float | None) -> None:
        """Check that each named field is a finite number of at least its minimum, and store it as ``float``.

        Parameters
        ----------
        strict : bool
            Require each field to be above its minimum, not at least it.
        **minimums : float or None
            Field name -> its minimum (None: no minimum).

        Raises
        ------
        TypeError, ValueError
            If a field is not a finite number or is below (``strict``: not above) its minimum.
        """
        for name, minimum in minimums.items():
            object.__setattr__(self, name, check_number(name, getattr(self, name), minimum=minimum, strict=strict))

    def check_choice(self, name: str, choices: tuple[Any, ...]) -> None:
        """Check that the field ``name`` is one of ``choices``.

        Parameters
        ----------
        name : str
            The field.
        choices : tuple
            Its allowed values.

        Raises
        ------
        ValueError
            If it is not one of them.
        """
        if getattr(self, name) not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")

    _check_ints = check_ints
    _check_numbers = check_numbers
    _check_choice = check_choice

@dataclass(frozen=True)
class TrainConfig(Settings):
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
        # Checked, and stored as Python numbers (numpy scalars too: the config is written as JSON).
        self._check_ints(steps=0, log_every=1, checkpoint_every=0, lbfgs_max_iter=1, seed=0)
        if self.batch_size is not None:
            self._check_ints(batch_size=1)
        self._check_numbers(lr=0.0, strict=True)
        self._check_numbers(final_lr_fraction=0.0)
        if self.final_lr_fraction > 1:
            raise ValueError(f"final_lr_fraction must be in [0, 1], got {self.final_lr_fraction}")
        if self.seed >= 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")
        self._check_choice("optimizer", OPTIMIZERS)
        self._check_choice("schedule", SCHEDULES)
