"""The solvers' settings, one small object each: :class:`MAP` (L-BFGS), :class:`Tweedie` and the paper's annealed
gradient steps (:class:`PaperSteps`); and how a call's settings are completed from the prior's presets and the
defaults (:func:`resolve`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from torch import Tensor

from ..config import Settings
from ..prior import ImagePrior

__all__ = ["MAP", "Tweedie", "PaperSteps", "Solver", "resolve", "PAPER_ETA", "DEFAULT_ITERATIONS",
           "PAPER_ITERATIONS", "DENOISE_RTOL", "PAPER_STEP_SCALE"]

#: The paper's step-size annealing, first and last step (geometric in between).
PAPER_ETA = (2e-2, 5e-4)
#: L-BFGS iterations when neither the call nor the prior's presets give them, by problem. Denoising: chosen for the
#: bundled foe_5x5x24 on the tuning crops (the estimate no longer improves after 30 iterations at 5/256, 60 at 15/256,
#: 50 at 25/256); super-resolution: the same prior's 2x choice on the tuning crops (``scorematch reproduce
#: restoration`` re-chooses it per model); inpainting without noise: the largest of the beyond stage's grid.
DEFAULT_ITERATIONS = {"denoise": 60, "superres": 80, "noisy": 150, "exact": 500}
#: The paper's steps when the call gives no count, by problem (the paper's 300 with noise, 200 without).
PAPER_ITERATIONS = {"denoise": 300, "superres": 200, "noisy": 300, "exact": 200}
#: L-BFGS relative-decrease tolerance of denoising, chosen on the tuning crops (``paper/benchmarks/denoise_start.py``).
DENOISE_RTOL = 3e-5
#: The paper's super-resolution step scale, chosen on the tuning crops (the restoration experiment re-chooses it).
PAPER_STEP_SCALE = 1e-2


@dataclass(frozen=True)
class MAP(Settings):
    """The MAP estimate by L-BFGS (strong-Wolfe line search): ``argmin_x w E(x) + |A x - y|^2 / (2 sigma^2)``, or
    ``min E(x)`` subject to ``A x = y`` without noise. A field left None comes from the prior's presets, else the
    defaults.

    Attributes
    ----------
    weight : float, optional
        The prior weight ``w`` (default 1).
    level : float, optional
        A noise-conditional prior's field used as the prior, its noise std on [0, 1] (default its lowest level).
    iterations : int, optional
        At most this many iterations (default :data:`DEFAULT_ITERATIONS` of the problem).
    start : {"operator", "tweedie", "lowpass", "bicubic"} or Tensor, optional
        The first estimate: the operator's (default: the noisy image smoothed a little for denoising, the projected
        bicubic upscale for super-resolution, ...), Tweedie's estimate (denoising with a noise-conditional prior),
        a super-resolution's low-pass or bicubic upscale, or an image of the result's shape.
    history : int
        L-BFGS memory (vectors kept).
    tol : float, optional
        Stop when the largest entry of the scaled gradient falls below this (default 1e-6 with noise, 1e-7 without).
    rtol : float, optional
        Stop when the objective stalls (:func:`scorematch.tasks.lbfgs.minimize`; default :data:`DENOISE_RTOL` when
        denoising, else 0: run to the budget).
    """

    weight: float | None = None
    level: float | None = None
    iterations: int | None = None
    start: Union[str, Tensor, None] = None
    history: int = 10
    tol: float | None = None
    rtol: float | None = None

    def __post_init__(self) -> None:
        self._check_ints(history=1)
        if self.iterations is not None:
            self._check_ints(iterations=1)
        for name, strict in (("weight", False), ("level", True), ("tol", True), ("rtol", False)):
            if getattr(self, name) is not None:
                self._check_numbers(strict=strict, **{name: 0.0})
        if isinstance(self.start, str) and self.start not in ("operator", "tweedie", "lowpass", "bicubic"):
            raise ValueError(f"start must be 'operator', 'tweedie', 'lowpass', 'bicubic' or an image, got {self.start!r}")


@dataclass(frozen=True)
class PaperSteps(Settings):
    """The paper's solver: ``iterations`` gradient steps ``x <- x - eta_t * step_scale * grad`` with ``eta_t``
    geometric from ``eta[0]`` to ``eta[1]`` (without noise each step followed by the projection onto ``A x = y``).

    Attributes
    ----------
    weight : float, optional
        The prior weight (default 1).
    iterations : int, optional
        Default :data:`PAPER_ITERATIONS` of the problem.
    eta : (float, float)
    step_scale : float, optional
        Multiplies the raw gradient: default ``sigma^2`` with noise (steps preconditioned by the data term's
        curvature), :data:`PAPER_STEP_SCALE` for super-resolution; required for other problems without noise.
    start : {"operator", "lowpass", "bicubic"} or Tensor, optional
        Default: the noisy image itself when denoising (as in the paper), the low-pass upscale for super-resolution,
        else the operator's start.
    """

    weight: float | None = None
    iterations: int | None = None
    eta: tuple[float, float] = PAPER_ETA
    step_scale: float | None = None
    start: Union[str, Tensor, None] = None

    def __post_init__(self) -> None:
        if self.iterations is not None:
            self._check_ints(iterations=1)
        if self.weight is not None:
            self._check_numbers(weight=0.0)
        if self.step_scale is not None:
            self._check_numbers(step_scale=0.0, strict=True)
        a, b = self.eta
        if not (a > 0 and b > 0):
            raise ValueError(f"eta's steps must be positive, got {self.eta}")


@dataclass(frozen=True)
class Tweedie(Settings):
    """Tweedie's posterior mean ``y - sigma^2 dE_sigma/dy`` of a noise-conditional prior: denoising in one gradient
    evaluation (the minimum-mean-squared-error estimate where the prior fits the noisy images' density)."""


Solver = Union[MAP, PaperSteps, Tweedie]


def resolve(prior: ImagePrior, task: str | None, sigma: float, solver: Solver | None) -> Solver:
    """``solver`` with its unset fields taken from ``prior``'s presets for ``task`` at noise ``sigma``; without a
    solver, the preset's (denoising: Tweedie or MAP by the preset; a noise-conditional prior without presets:
    Tweedie), else :class:`MAP`. The defaults that remain unset are the solvers' own (see :class:`MAP`).

    Raises
    ------
    TypeError
        ``solver`` is not one of :class:`MAP`, :class:`PaperSteps`, :class:`Tweedie`; or a field level is asked of
        a prior that is not noise-conditional.
    """
    if solver is not None and not isinstance(solver, (MAP, PaperSteps, Tweedie)):
        raise TypeError(f"solver must be MAP(...), PaperSteps(...) or Tweedie(), got {solver!r}")
    if isinstance(solver, MAP) and solver.level is not None and not prior.noise_conditional:
        raise TypeError(f"MAP(level=...) takes a field of a noise-conditional prior; {prior.name} is not one")
    if task == "denoise":
        preset = prior.presets.denoising(sigma)
        if solver is None:
            if preset is None:
                return Tweedie() if prior.noise_conditional else MAP()
            if preset.method == "tweedie":
                return Tweedie()
            solver = MAP()
        if isinstance(solver, Tweedie) or preset is None:
            return solver
        level = None if preset.level_ratio is None else preset.level_ratio * sigma
        fill = {"weight": preset.weight, "level": level, "iterations": preset.iterations, "start": preset.start}
    else:
        solver = MAP() if solver is None else solver
        preset = prior.presets.task(task) if task else None
        denoising = prior.presets.denoising(sigma) if sigma > 0 else None
        weight = preset.weight if preset is not None and preset.weight is not None else (
            denoising.weight if denoising is not None else None)
        fill = {"weight": weight} if preset is None else {"weight": weight, "level": preset.level,
                                                         "iterations": preset.iterations}
    fields = {f for f in fill if hasattr(solver, f) and getattr(solver, f) is None and fill[f] is not None}
    if "start" in fields and fill["start"] == "smooth":
        fields.discard("start")  # the operator's start: the noisy image smoothed a little
    return solver.replace(**{f: fill[f] for f in fields}) if fields else solver
