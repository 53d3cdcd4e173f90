"""What a published artifact records of the code and the models that computed it, and whether it is still current.

A benchmark or experiment that writes a file under ``docs/results/`` stores ``stamp(*modules, models=...)`` in it:
the commit and dirty flag of the checkout, the modules whose code computed it and the fingerprint of their import
closure (:func:`~scorematch_paper.experiments.cache.import_closure`: the files of ``scorematch`` and
``scorematch_paper`` they are made of), and the SHA-256 of each model file it used. :func:`stale` recomputes both
now: a figure rendered from an artifact whose closure or model files changed since is stale, and the results
generator marks it so and fails its check (``paper/scripts/build_results.py --check``, run by CI).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scorematch.provenance import git_state

from .experiments.cache import PACKAGES, code_fingerprint, import_closure

__all__ = ["stamp", "stale", "model_sha256"]


def model_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a model file (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stamp(*modules: str, models: Mapping[str, str | os.PathLike] | None = None,
          roots: tuple[Path, ...] = PACKAGES) -> dict[str, Any]:
    """The provenance of an artifact computed by ``modules`` (dotted names) with the model files ``models``
    (name -> path): ``{"commit", "dirty", "code": {"modules", "fingerprint"}, "models": {name: {"path",
    "sha256"}}}``. ``roots``: the packages whose files make up the import closure (the library and this package;
    another copy of them in tests)."""
    return {**git_state(), "code": {"modules": list(modules), "fingerprint": _closure_fingerprint(modules, roots)},
            "models": {name: {"path": str(path), "sha256": model_sha256(path)} for name, path in (models or {}).items()}}


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
        elif model_sha256(path) != model["sha256"]:
            reasons.append(f"the model file of {name} changed")
    return reasons


def _closure_fingerprint(modules: tuple[str, ...], roots: tuple[Path, ...] = PACKAGES) -> str:
    """The fingerprint of the import closure of ``modules`` as the files are now (not the cached value of an
    earlier call in this process: a file may have changed since)."""
    return code_fingerprint.__wrapped__(tuple(roots), files=import_closure(*modules, roots=tuple(roots)))
