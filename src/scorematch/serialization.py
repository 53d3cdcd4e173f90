"""Safe model files: safetensors holding the parameters plus the configuration that rebuilds the energy.

Loading never unpickles: the file format cannot carry code, and the energy class is looked up by
name in a fixed registry.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from .energies import Energy, FieldOfExperts, GaussianEnergy, ProductOfExperts, TwoLayerEnergy
from .energies.image_prior import ImageFoE

__all__ = ["save", "load", "ENERGY_CLASSES", "ModelFileError", "atomic_path", "FORMAT"]

FORMAT = "scorematch-model/1"

#: Energy classes a model file may name.
ENERGY_CLASSES: dict[str, type[Energy]] = {
    cls.__name__: cls for cls in (ProductOfExperts, FieldOfExperts, TwoLayerEnergy, GaussianEnergy)
}
ENERGY_CLASSES["ImageFoE"] = ImageFoE  # a FoE prior on [0, 1] images (carries its scale and whitening)


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be read as what was asked for."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path`` (never a partial file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_tensors(path: str | os.PathLike, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Write a safetensors file atomically."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata=metadata)


def read_tensors(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Read a safetensors file; a clear :class:`ModelFileError` if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(
            f"{path} is not a scorematch model file (safetensors format expected): {exc}"
        ) from None
    return tensors, metadata


def energy_metadata(energy: Energy) -> dict[str, str]:
    name = type(energy).__name__
    if name not in ENERGY_CLASSES:
        raise TypeError(f"cannot save a {name}: only {sorted(ENERGY_CLASSES)} have a file format")
    return {"format": FORMAT, "energy": name, "config": json.dumps(energy.config())}


def build_energy(metadata: dict[str, str], source: str) -> Energy:
    """Rebuild an (untrained) energy from a file's metadata."""
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{source} is not a scorematch model file (format {metadata.get('format')!r})")
    name = metadata.get("energy", "")
    if name not in ENERGY_CLASSES:
        raise ModelFileError(f"{source} names an unknown energy {name!r}; known: {sorted(ENERGY_CLASSES)}")
    try:
        config = json.loads(metadata["config"])
        return ENERGY_CLASSES[name](**config)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{source} has an invalid {name} configuration: {exc}") from None


def save(energy: Energy, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None) -> Path:
    """Save an energy's parameters and configuration to a safetensors file (atomically).

    Parameters
    ----------
    energy : Energy
        A :class:`ProductOfExperts`, :class:`FieldOfExperts`, :class:`TwoLayerEnergy` or
        :class:`GaussianEnergy`.
    path : path-like
    metadata : dict, optional
        JSON-serializable extras (training settings, lambda, seed, ...), returned by :func:`load_info`.

    Returns
    -------
    Path
    """
    meta = energy_metadata(energy)
    meta["extra"] = json.dumps(metadata or {})
    save_tensors(path, dict(energy.state_dict()), meta)
    return Path(path)


def load(path: str | os.PathLike, *, expect: type[Energy] | None = None) -> Energy:
    """Rebuild a saved energy, without the script that trained it.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save` (a run directory's ``model.safetensors``).
    expect : type, optional
        Raise :class:`ModelFileError` unless the file holds this energy class.

    Returns
    -------
    Energy
        In the file's dtype, on the CPU, in eval mode.
    """
    tensors, metadata = read_tensors(path)
    energy = build_energy(metadata, str(path))
    if expect is not None and not isinstance(energy, expect):
        raise ModelFileError(f"{path} holds a {type(energy).__name__}, not a {expect.__name__}")
    dtypes = {t.dtype for t in tensors.values() if t.is_floating_point()}
    if len(dtypes) == 1:
        energy = energy.to(dtypes.pop())
    try:
        energy.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"{path} does not match its declared {type(energy).__name__}: {exc}") from None
    return energy.eval()


def load_info(path: str | os.PathLike) -> dict[str, Any]:
    """The energy name, configuration and extra metadata stored in a model file."""
    _, metadata = read_tensors(path)
    build_energy(metadata, str(path))
    return {
        "energy": metadata["energy"],
        "config": json.loads(metadata["config"]),
        "extra": json.loads(metadata.get("extra", "{}")),
    }

