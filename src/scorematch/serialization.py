"""Safe model files: safetensors holding the parameters plus the configuration that rebuilds the energy.

Loading never unpickles: the file format cannot carry code, and the energy class is looked up by
name in a fixed registry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from .energies import DeepEnergy, Energy, FieldOfExperts, GaussianEnergy, ProductOfExperts, TwoLayerEnergy
from .energies.colour_prior import ColourFoE
from .energies.image_prior import ImageFoE
from .energies.unet import UNetEnergy
from .io.atomic import atomic_path

__all__ = ["save", "load", "ENERGY_CLASSES", "ModelFileError", "FORMAT"]

FORMAT = "scorematch-model/1"

#: Energy classes a model file may name.
ENERGY_CLASSES: dict[str, type[Energy]] = {
    cls.__name__: cls for cls in (ProductOfExperts, FieldOfExperts, TwoLayerEnergy, GaussianEnergy)
}
ENERGY_CLASSES["ImageFoE"] = ImageFoE  # a FoE prior on [0, 1] images (carries its scale and whitening)
ENERGY_CLASSES["ColourFoE"] = ColourFoE  # a FoE prior on [0, 1] colour images (3-channel filters)
ENERGY_CLASSES["DeepEnergy"] = DeepEnergy  # noise-conditional, on [0, 1] images
ENERGY_CLASSES["UNetEnergy"] = UNetEnergy  # noise-conditional, on [0, 1] images


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be read as what was asked for."""




#: File openings of formats that can carry code (pickle protocols 2-5, torch.save's zip archive).
_CODE_FORMATS = ((b"\x80", "a Python pickle"), (b"PK\x03\x04", "a zip archive (torch.save)"))


def save_tensors(path: str | os.PathLike, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Write a safetensors file atomically."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata=metadata)


def read_tensors(path: str | os.PathLike) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Read a safetensors file; a clear :class:`ModelFileError` if it is not one."""
    path = Path(path)
    if path.is_dir():
        hint = " (pass its model.safetensors)" if (path / "model.safetensors").is_file() else ""
        raise ModelFileError(f"{path} is a directory, not a model file{hint}")
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    with open(path, "rb") as f:
        head = f.read(9)
    size = path.stat().st_size
    header_len = int.from_bytes(head[:8], "little") if len(head) == 9 else -1
    looks_safetensors = 0 < header_len <= size - 8 and head[8:9] == b"{"
    if not looks_safetensors:
        for magic, what in _CODE_FORMATS:
            if head.startswith(magic):
                raise ModelFileError(
                    f"{path} looks like {what}, a format that can run code when loaded; it was not opened. "
                    "Only safetensors model files written by scorematch.save are accepted"
                )
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


def build_energy(
    metadata: dict[str, str], source: str, *, shapes: dict[str, tuple[int, ...]] | None = None
) -> Energy:
    """Rebuild an (untrained) energy from a file's metadata.

    Parameters
    ----------
    metadata : dict
        The file's safetensors metadata.
    source : str
        Named in error messages.
    shapes : dict, optional
        The file's tensor shapes. A damaged or hostile configuration (e.g. a huge ``dim``) is refused before
        anything is allocated: every integer of a configuration is a size, the length of some axis of the
        energy's tensors, so none may exceed the file's longest axis. The built energy's state-dict schema is
        then compared with them.
    """
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{source} is not a scorematch model file (format {metadata.get('format')!r})")
    name = metadata.get("energy", "")
    if name not in ENERGY_CLASSES:
        raise ModelFileError(f"{source} names an unknown energy {name!r}; known: {sorted(ENERGY_CLASSES)}")
    try:
        config = json.loads(metadata["config"])
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{source} has an unreadable {name} configuration: {exc}") from None
    if not isinstance(config, dict) or not all(isinstance(k, str) and _plain(v) for k, v in config.items()):
        raise ModelFileError(f"{source}: the {name} configuration must map names to numbers, booleans, strings "
                             "or lists of numbers")
    if shapes is not None:
        _check_sizes(config, shapes, source, name)
    try:
        with torch.random.fork_rng(devices=[]):  # building draws random filters: leave the global RNG alone
            energy = ENERGY_CLASSES[name](**config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{source} has an invalid {name} configuration: {exc}") from None
    if shapes is not None:
        _check_schema(energy, shapes, source, name, config)
    return energy


def _plain(value: Any) -> bool:
    """A configuration value: None, a bool, number or string, or a list of numbers."""
    if isinstance(value, list):
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _check_sizes(config: dict[str, Any], shapes: dict[str, tuple[int, ...]], source: str, name: str) -> None:
    """Refuse a configuration with a size (an integer entry, or one in a list) longer than the file's longest
    tensor axis."""
    longest = max((n for shape in shapes.values() for n in shape), default=1)

    def too_big(v: Any) -> bool:
        if isinstance(v, list):
            return any(too_big(u) for u in v)
        return isinstance(v, int) and not isinstance(v, bool) and v > longest

    huge = {k: v for k, v in config.items() if too_big(v)}
    if huge:
        raise ModelFileError(f"{source}: its tensors do not match its declared {name}{config} (sizes {huge} exceed "
                             f"the longest axis of its tensors, {longest}); the file is damaged")


def _check_schema(energy: Energy, shapes: dict[str, tuple[int, ...]], source: str, name: str,
                  config: dict[str, Any]) -> None:
    """Refuse a file whose tensors are not those of the energy its configuration builds."""
    expected = {k: tuple(v.shape) for k, v in energy.state_dict().items()}
    if expected != {k: tuple(v) for k, v in shapes.items()}:
        missing = sorted(set(expected) - set(shapes))
        extra = sorted(set(shapes) - set(expected))
        wrong = sorted(k for k in set(expected) & set(shapes) if expected[k] != tuple(shapes[k]))
        raise ModelFileError(
            f"{source}: its tensors do not match its declared {name}{config} "
            f"(missing {missing}, unexpected {extra}, wrong shape {wrong}); the file is damaged"
        )


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
    energy = build_energy(metadata, str(path), shapes={k: tuple(v.shape) for k, v in tensors.items()})
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

