"""What a published artifact records of the code and the models that computed it, and whether it is still current.

A benchmark or experiment that writes a file under ``docs/results/`` stores ``stamp(*modules, models=...)`` in it:
the commit and dirty flag of the checkout, the modules whose code computed it and the fingerprint of their import
closure (:func:`~scorematch_paper.experiments.cache.import_closure`: the files of ``scorematch`` and
``scorematch_paper`` they are made of), and the SHA-256 of each model file it used: of the whole file, or of the
parts it read (``parts``: its tensors and named sections of its presets), so that writing a choice into a
model's presets does not make the artifact that chose it, nor one that never reads that preset, stale. :func:`stale` recomputes both
now: a figure rendered from an artifact whose closure or model files changed since is stale, and the results
generator marks it so and fails its check (``paper/scripts/build_results.py --check``, run by CI).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scorematch.provenance import git_state

from .experiments.cache import PACKAGES, code_fingerprint, import_closure

__all__ = ["stamp", "stale", "model_sha256", "MODEL_PARTS", "DENOISING"]

#: The parts of a model file an artifact may depend on: its energy (``"weights"``: its class, configuration and
#: tensors) and the sections of its presets (:class:`scorematch.prior.Presets`).
MODEL_PARTS = ("weights", "denoise", "tasks", "noise_target")
#: What denoising at a given noise level reads of a model file.
DENOISING = ("weights", "denoise")


def model_sha256(path: str | os.PathLike, parts: Sequence[str] | None = None) -> str:
    """The SHA-256 of a model file (hex): of its bytes, or of the ``parts`` (:data:`MODEL_PARTS`) only."""
    data = Path(path).read_bytes()
    if parts is None:
        return hashlib.sha256(data).hexdigest()
    unknown = set(parts) - set(MODEL_PARTS)
    if unknown:
        raise ValueError(f"unknown model parts {sorted(unknown)}; known: {list(MODEL_PARTS)}")
    n = int.from_bytes(data[:8], "little")  # safetensors: the header's length, the JSON header, the tensors' bytes
    header = json.loads(data[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    presets = json.loads(metadata.get("extra", "{}")).get("presets", {})
    energy = {k: metadata.get(k) for k in ("format", "energy", "config")}  # what builds the energy
    h = hashlib.sha256()
    for part in sorted(parts):
        h.update(part.encode() + b"\0")
        if part == "weights":
            h.update(json.dumps([energy, header], sort_keys=True).encode() + data[8 + n :])
        else:
            h.update(json.dumps(presets.get(part), sort_keys=True).encode())
    return h.hexdigest()


def stamp(*modules: str, models: Mapping[str, str | os.PathLike] | None = None,
          parts: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
          roots: tuple[Path, ...] = PACKAGES, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The provenance of an artifact computed by ``modules`` (dotted names) with the model files ``models``
    (name -> path): ``{"commit", "dirty", "code": {"modules", "fingerprint"}, "models": {name: {"path",
    "sha256"[, "parts"]}}}``. ``parts``: what the artifact reads of each model file (:data:`MODEL_PARTS`), for all
    of them or by name; default (and for a name not given) the whole file. ``roots``: the packages whose files make
    up the import closure (the library and this package; another copy of them in tests). ``root``: the folder that
    relative model paths are relative to (as for :func:`stale`; default the working directory)."""
    by_name = parts if isinstance(parts, Mapping) else {name: parts for name in models or {}}
    return {**git_state(), "code": {"modules": list(modules), "fingerprint": _closure_fingerprint(modules, roots)},
            "models": {name: _model_record(path, by_name.get(name), root) for name, path in (models or {}).items()}}


def _model_record(path: str | os.PathLike, parts: Sequence[str] | None,
                  root: str | os.PathLike | None) -> dict[str, Any]:
    use = {} if parts is None else {"parts": sorted(parts)}
    file = Path(path) if Path(path).is_absolute() or root is None else Path(root) / path
    return {"path": str(path), "sha256": model_sha256(file, parts), **use}


def stale(record: Mapping[str, Any], *, root: str | os.PathLike | None = None,
          roots: tuple[Path, ...] = PACKAGES) -> list[str]:
    """Why an artifact's figures no longer describe today's code and models (empty when they do).

    Parameters
    ----------
    record : mapping
        The artifact's :func:`stamp`.
    root : path-like, optional
        The folder that relative model paths are relative to (the repository root).
    roots : tuple of Path
        The packages whose files make up the import closure, as for :func:`stamp`.

    Returns
    -------
    list of str
        One line per reason: the code of its modules changed, a model file changed or is missing, or the stamp
        itself is missing.
    """
    if "code" not in record or "models" not in record:
        return ["it records no code fingerprint and model hashes (no stamp)"]
    reasons = []
    modules = tuple(record["code"]["modules"])
    now = _closure_fingerprint(modules, roots)
    if now != record["code"]["fingerprint"]:
        reasons.append(f"the code of {', '.join(modules)} changed (fingerprint {record['code']['fingerprint']} -> "
                       f"{now})")
    for name, model in record["models"].items():
        path = Path(model["path"])
        path = path if path.is_absolute() or root is None else Path(root) / path
        if not path.is_file():
            reasons.append(f"the model file of {name} ({model['path']}) is gone")
        elif model_sha256(path, model.get("parts")) != model["sha256"]:
            what = f" ({', '.join(model['parts'])})" if model.get("parts") else ""
            reasons.append(f"the model file of {name} changed{what}")
    return reasons


def _closure_fingerprint(modules: tuple[str, ...], roots: tuple[Path, ...] = PACKAGES) -> str:
    """The fingerprint of the import closure of ``modules`` as the files are now (not the cached value of an
    earlier call in this process: a file may have changed since)."""
    return code_fingerprint.__wrapped__(tuple(roots), files=import_closure(*modules, roots=tuple(roots)))
