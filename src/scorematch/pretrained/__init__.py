"""Pretrained models shipped with the package, each ``NAME.safetensors`` beside a model card ``NAME.md``.

``scorematch models`` lists them; every ``--model`` option accepts a name from this folder or a path.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, NamedTuple

from ..energies import Energy
from ..serialization import load, load_info
from .roth_black import ROTH_BLACK_FILE, roth_black_3x3

__all__ = ["models_dir", "available", "resolve", "load_pretrained", "recommended_weight", "recommended_level",
           "recommended_denoiser", "MapDenoiser",
           "roth_black_3x3",
           "ROTH_BLACK_FILE", "DEFAULT_PRIOR",
           "DEFAULT_COLOUR_PRIOR", "DEFAULT_COLOUR_DENOISER", "default_prior"]

#: The bundled prior every restoration command uses by default.
DEFAULT_PRIOR = "foe_5x5x24"
#: The bundled prior the restoration commands but ``denoise`` use by default for colour input
#: (``scorematch.experiments.restoration.colour_model``).
DEFAULT_COLOUR_PRIOR = "foe_colour_5x5x24"
#: The bundled prior ``scorematch denoise`` uses by default for colour input: the grey noise-conditional deep energy
#: on the luminance and two opponent channels, each at its own noise level
#: (:func:`scorematch.tasks.recommended.recommended_denoise`). On the colour tuning crops it scored above the colour
#: FoE and above a deep energy trained on colour patches (``docs/results/benchmarks/deep_energy_colour_map.json``);
#: held-out figures in ``docs/results/beyond``.
DEFAULT_COLOUR_DENOISER = "deep_energy"


def models_dir() -> Path:
    """The folder holding the bundled model files and their cards."""
    return Path(__file__).resolve().parent


def available() -> list[dict[str, Any]]:
    """One entry per bundled model: name, path, energy class, size in bytes, card summary."""
    out = []
    for path in sorted(models_dir().glob("*.safetensors")):
        card = path.with_suffix(".md")
        summary = ""
        if card.is_file():
            lines = [ln.strip() for ln in card.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
            summary = lines[0] if lines else ""
        info = load_info(path)
        out.append({"name": path.stem, "path": path, "energy": info["energy"], "bytes": path.stat().st_size,
                    "summary": summary, "card": card if card.is_file() else None})
    return out


def default_prior(channels: int = 1, command: str | None = None) -> str:
    """The name of the bundled prior the restoration ``command`` (``"denoise"``, ``"deblur"``, ...) uses for images
    of ``channels`` channels: for colour (3) :data:`DEFAULT_COLOUR_DENOISER` when denoising, else
    :data:`DEFAULT_COLOUR_PRIOR`; for grey :data:`DEFAULT_PRIOR`."""
    if channels != 3:
        return DEFAULT_PRIOR
    return DEFAULT_COLOUR_DENOISER if command == "denoise" else DEFAULT_COLOUR_PRIOR


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A bundled model's file by name (``foe_5x5x24``), or the given path if it is a file.

    Raises
    ------
    FileNotFoundError
        Neither a bundled name nor an existing file; the message lists the bundled names.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = models_dir() / f"{name_or_path}.safetensors"
    if bundled.is_file():
        return bundled
    names = ", ".join(m["name"] for m in available()) or "none"
    raise FileNotFoundError(f"no model file or bundled model named {str(name_or_path)!r} (bundled: {names})")


def load_pretrained(name_or_path: str | os.PathLike) -> Energy:
    """Load a bundled model by name, or any model file by path."""
    return load(resolve(name_or_path))


def recommended_weight(name_or_path: str | os.PathLike, sigma: float) -> float:
    """The prior weight a model file recommends at noise level ``sigma`` (on the [0, 1] scale).

    Its metadata's ``prior_weights`` (noise level in 1/256 units -> weight, chosen on tuning images) gives the
    entry of the nearest level (in log sigma); a single ``prior_weight`` is used at every level; else 1.
    """
    extra = load_info(resolve(name_or_path)).get("extra", {})
    table = extra.get("prior_weights")
    if isinstance(table, dict) and table:
        return float(_nearest_level(table, sigma))
    w = extra.get("prior_weight")
    return float(w) if isinstance(w, (int, float)) else 1.0


class MapDenoiser(NamedTuple):
    """The settings of :func:`scorematch.tasks.field_denoise` that a model file recommends at one noise level:
    the prior ``weight * E_level`` (``level`` on the [0, 1] scale), at most ``n_iter`` L-BFGS iterations (None:
    the solver's default) from the first estimate ``start`` (``"smooth"`` or ``"tweedie"``)."""

    level: float
    weight: float
    n_iter: int | None = None
    start: str = "smooth"


def recommended_denoiser(name_or_path: str | os.PathLike, sigma: float) -> MapDenoiser | None:
    """The MAP denoiser at noise ``sigma`` that a noise-conditional model file recommends; None when it
    recommends none (then Tweedie's estimate serves).

    Its metadata's ``denoise_map`` (noise level in 1/256 units -> ``{"level_ratio": a, "weight": w}``, and
    optionally ``"iterations"`` and ``"start"``; chosen on tuning images) gives the entry of the nearest level
    (in log sigma), and ``level = a * sigma``.
    """
    table = load_info(resolve(name_or_path)).get("extra", {}).get("denoise_map")
    if not isinstance(table, dict) or not table:
        return None
    entry = _nearest_level(table, sigma)
    n_iter = entry.get("iterations")
    return MapDenoiser(float(entry["level_ratio"]) * sigma, float(entry["weight"]),
                       None if n_iter is None else int(n_iter), str(entry.get("start", "smooth")))


def _nearest_level(table: dict[str, Any], sigma: float) -> Any:
    """The entry of a table keyed by noise level (1/256 units) nearest to ``sigma`` (in log sigma)."""
    levels = {float(k) / 256: v for k, v in table.items()}
    return levels[min(levels, key=lambda s: abs(math.log(s / sigma)))]


def recommended_level(name_or_path: str | os.PathLike, task: str) -> float | None:
    """The noise level (on the [0, 1] scale) at which a noise-conditional model file recommends its field ``E_s``
    as the MAP prior of ``task``; None when it gives none (then its ``energy`` at its lowest level serves).

    Its metadata's ``map_levels`` (task -> level in 1/256 units, chosen on tuning images) is keyed by ``deblur``,
    ``inpaint`` and ``superres_<f>x``; a super-resolution factor without an entry takes the nearest factor's.
    """
    table = load_info(resolve(name_or_path)).get("extra", {}).get("map_levels")
    if not isinstance(table, dict) or not table:
        return None
    if task in table:
        return float(table[task]) / 256
    factors = {_factor(k): v for k, v in table.items() if _factor(k)}
    if _factor(task) and factors:
        f = _factor(task)
        return float(factors[min(factors, key=lambda g: (abs(g - f), g))]) / 256
    return None


def _factor(task: str) -> int | None:
    """The factor of a ``superres_<f>x`` task name, else None."""
    digits = task.removeprefix("superres_").removesuffix("x")
    return int(digits) if task.startswith("superres_") and task.endswith("x") and digits.isdigit() else None
