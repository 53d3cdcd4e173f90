"""Training checkpoints: model, optimizer and RNG state in one safetensors file, written atomically."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .energies import Energy
from .serialization import ModelFileError, build_energy, energy_metadata, read_tensors, save_tensors

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint"]


def _flatten(obj: Any, prefix: str, tensors: dict[str, Tensor]) -> Any:
    """Replace every tensor in a nested dict/list by a reference, collecting the tensors."""
    if isinstance(obj, Tensor):
        key = f"{prefix}"
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_key(k), _flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} in the optimizer state")


def _key(k: Any) -> Any:
    if not isinstance(k, (int, str)):
        raise TypeError(f"cannot checkpoint an optimizer-state key of type {type(k).__name__}")
    return k


def _unflatten(obj: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    energy: Energy
    optimizer_state: dict[str, Any]
    generator_state: Tensor
    step: int
    train_config: dict[str, Any]
    history: list[dict[str, float]]


def save_checkpoint(
    path: str | os.PathLike,
    *,
    energy: Energy,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    step: int,
    train_config: dict[str, Any],
    history: list[dict[str, float]],
) -> None:
    """Write everything needed to continue training bit-for-bit (atomically)."""
    tensors: dict[str, Tensor] = {f"model.{k}": v for k, v in energy.state_dict().items()}
    skeleton = _flatten(optimizer.state_dict(), "optim", tensors)
    tensors["rng"] = generator.get_state()
    meta = energy_metadata(energy)
    meta.update(
        kind="checkpoint",
        step=str(step),
        train_config=json.dumps(train_config),
        optimizer=json.dumps(skeleton),
        history=json.dumps(history),
    )
    save_tensors(path, tensors, meta)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (no code is executed)."""
    tensors, meta = read_tensors(path)
    if meta.get("kind") != "checkpoint":
        raise ModelFileError(f"{path} is not a training checkpoint (a run directory's checkpoint.safetensors)")
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    energy = build_energy(meta, str(path), shapes={k: tuple(v.shape) for k, v in model_state.items()})
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    dtypes = {t.dtype for t in model_state.values() if t.is_floating_point()}
    if len(dtypes) == 1:
        energy = energy.to(dtypes.pop())
    try:
        energy.load_state_dict(model_state, strict=True)
        return Checkpoint(
            energy=energy,
            optimizer_state=_unflatten(json.loads(meta["optimizer"]), tensors),
            generator_state=tensors["rng"],
            step=int(meta["step"]),
            train_config=json.loads(meta["train_config"]),
            history=json.loads(meta["history"]),
        )
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path} is a damaged checkpoint: {exc}") from None
