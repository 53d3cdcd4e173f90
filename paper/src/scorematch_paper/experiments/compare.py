"""When is a measured difference resolved? The one verdict rule shared by the report and the results pages.

A difference smaller than :data:`RESOLVE_SIGMAS` (two) standard deviations is **not resolved**: neither a win nor
a tie, since the draws behind it cannot tell it from zero. The standard deviation is that of the difference over
the random draws (noise draws, training subsets, images) behind it. :func:`paired_difference` gives both from
per-draw values, :func:`is_unresolved` applies the rule and :func:`describe` writes the verdict as a short string.
The protocol the rule belongs to (tuning, validation and test images; paired differences) is
``docs/evaluation.md``.

Examples
--------
>>> mean, std = paired_difference([37.33, 37.30, 37.34], [37.31, 37.31, 37.31])
>>> describe(mean, std)
'not resolved (+0.01 ± 0.02 dB)'
>>> describe(0.19, 0.03)
'+0.19 dB'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["RESOLVE_SIGMAS", "TIE_SIGMAS", "paired_difference", "std_of_mean", "is_unresolved", "is_tie",
           "describe", "UNRESOLVED"]

#: A difference smaller than this many standard deviations is not resolved.
RESOLVE_SIGMAS = 2.0
#: The former name of :data:`RESOLVE_SIGMAS`.
TIE_SIGMAS = RESOLVE_SIGMAS
#: The verdict's words for a difference under :data:`RESOLVE_SIGMAS` standard deviations.
UNRESOLVED = "not resolved"


def paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean and standard deviation of the per-draw differences ``a[i] - b[i]``.

    Parameters
    ----------
    a, b : sequence of float, length n >= 1
        One value per draw; ``a[i]`` and ``b[i]`` come from the same draw (same noise, same subset).

    Returns
    -------
    mean : float
        Mean of ``a[i] - b[i]``.
    std : float
        Their sample standard deviation (``ddof=1``); ``nan`` when n = 1, since one draw says nothing
        about the spread.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_difference needs two non-empty sequences of one length, got {len(a)} and {len(b)}")
    diffs = [float(x) - float(y) for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    if len(diffs) == 1:
        return mean, math.nan
    return mean, math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))


def std_of_mean(stds: Sequence[float]) -> float:
    """Standard deviation over the draws of the mean of n quantities with independent draws.

    Parameters
    ----------
    stds : sequence of float, length n >= 1
        Each quantity's standard deviation over its draws (e.g. one image's PSNR over its noise draws).

    Returns
    -------
    float
        ``sqrt(sum(stds**2)) / n``: the spread over the draws of the mean over the n quantities (e.g. the
        mean PSNR over images, when every image has its own noise draws).
    """
    if not stds:
        raise ValueError("std_of_mean needs at least one standard deviation")
    return math.sqrt(sum(float(s) ** 2 for s in stds)) / len(stds)


def is_unresolved(diff: float, std: float, *, nan_std_unresolved: bool = False) -> bool:
    """Whether ``diff`` is not resolved: ``|diff| < RESOLVE_SIGMAS * std``.

    Parameters
    ----------
    diff : float
        The measured difference (finite).
    std : float
        Its standard deviation over the draws (>= 0), or ``nan`` when unknown (a single draw).
    nan_std_unresolved : bool
        The verdict when ``std`` is ``nan``. With one draw the rule cannot decide: calling the difference
        unresolved would claim it is noise, calling it resolved would claim it is not, and neither is measured.
        The default (False) reports the measured difference as it is, and :func:`describe` then says that its
        spread is unknown; pass True where an unreplicated difference must not be claimed as a win.

    Returns
    -------
    bool
    """
    if not math.isfinite(diff):
        raise ValueError(f"the difference must be a finite number, got {diff!r}")
    if math.isnan(std):
        return nan_std_unresolved
    if std < 0 or math.isinf(std):
        raise ValueError(f"the standard deviation must be finite and >= 0 (or nan), got {std!r}")
    return abs(diff) < RESOLVE_SIGMAS * std


def is_tie(diff: float, std: float, *, nan_std_is_tie: bool = False) -> bool:
    """The former name of :func:`is_unresolved` (a difference under two standard deviations is not a tie, it is
    not resolved); kept for the benchmarks that still call it."""
    return is_unresolved(diff, std, nan_std_unresolved=nan_std_is_tie)


def describe(diff: float, std: float, unit: str = "dB", *, nan_std_unresolved: bool = False) -> str:
    """The verdict of :func:`is_unresolved` as text, two decimals.

    Parameters
    ----------
    diff, std, nan_std_unresolved
        As for :func:`is_unresolved`.
    unit : str
        Appended after the numbers ("" for none).

    Returns
    -------
    str
        ``"+0.19 dB"`` for a resolved difference, ``"not resolved (+0.01 ± 0.02 dB)"`` for one under two standard
        deviations; with ``std`` nan, ``"+0.19 dB (std unknown)"`` or, under ``nan_std_unresolved``,
        ``"not resolved (+0.19 dB, std unknown)"``.
    """
    suffix = f" {unit}" if unit else ""
    unknown = math.isnan(std)
    if is_unresolved(diff, std, nan_std_unresolved=nan_std_unresolved):
        inner = f"{diff:+.2f}{suffix}, std unknown" if unknown else f"{diff:+.2f} ± {std:.2f}{suffix}"
        return f"{UNRESOLVED} ({inner})"
    return f"{diff:+.2f}{suffix}" + (" (std unknown)" if unknown else "")
