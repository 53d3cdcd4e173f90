"""Cached experiment results, keyed on their settings and on the code that computes them.

Every cached result (a JSON result file, or a model file's metadata) carries a *stamp*::

    {"key": ..., "run": ..., "fingerprint": ..., "commit": ..., "dirty": ..., "computed": ...}

``key`` hashes the result's settings together with :func:`code_fingerprint` (the package's source and
bundled model files), so a change to the code or to a setting misses the cache. ``run`` names the run
that computed it: under ``force`` only results of the current run are reused, so ``scorematch reproduce
--force`` recomputes every level below the stage once (and a result computed earlier in the same run,
such as a model that two tables share, is not computed twice). ``commit`` and ``dirty`` say which
source tree computed it; the report lists them (:func:`provenance_rows`).

A :class:`Cache` is a small frozen value: it travels to worker processes with their jobs.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

from ..io.tables import write_json
from ..parallel import map_jobs
from ..serialization import load_info

__all__ = ["Cache", "cached_units", "code_fingerprint", "import_closure", "git_state", "read_stamp", "describe",
           "provenance_rows"]

_PACKAGE = Path(__file__).resolve().parent.parent
_CODE_SUFFIXES = (".py", ".safetensors")


@functools.lru_cache(maxsize=None)
def code_fingerprint(root: Path = _PACKAGE, files: tuple[str, ...] | None = None) -> str:
    """A hash of every source and bundled-model file below ``root`` (names and bytes), 16 hex digits; of the
    ``files`` (paths relative to ``root``, e.g. an :func:`import_closure`) only, when given."""
    if files is None:
        paths = sorted(p for p in root.rglob("*") if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts)
    else:
        paths = [root / f for f in sorted(files)]
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def import_closure(*modules: str, root: Path = _PACKAGE) -> tuple[str, ...]:
    """The package's source files that ``modules`` (dotted names below the package, such as
    ``"experiments.shootout.compute"``) are made of: theirs and those they import, directly or through others,
    by their static ``import`` statements within the package (sorted paths relative to ``root``).

    A package's ``__init__`` counts where a module imports from the package itself, not where it imports one of
    its submodules, so a result that only some modules compute can be keyed on those modules' code alone.
    """
    todo = [_module_file(root, name.split(".")) for name in modules]
    if None in todo:
        raise ValueError(f"not modules of {root.name}: {[m for m, f in zip(modules, todo) if f is None]}")
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += _imported_files(root, path)
    return tuple(sorted(str(p.relative_to(root)) for p in seen))


def _module_file(root: Path, parts: list[str]) -> Path | None:
    """The file of the module ``parts`` below ``root`` (``a/b.py`` or ``a/b/__init__.py``), None if none."""
    base = root.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if parts and path.is_file():
            return path
    return None


def _imported_files(root: Path, path: Path) -> list[Path]:
    """The package files that the ``from ... import`` statements of the module ``path`` name."""
    package = list(path.relative_to(root).parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:  # relative: from the package of ``path``, ``level - 1`` packages up
            base, name = package[: len(package) - node.level + 1], node.module
        elif (node.module or "").split(".")[0] == root.name:
            base, name = [], node.module.partition(".")[2]
        else:
            continue
        module = base + (name.split(".") if name else [])
        for parts in (module, *(module + [alias.name] for alias in node.names)):
            found = _module_file(root, parts)
            if found is not None:
                out.append(found)
    return out


@functools.lru_cache(maxsize=None)
def git_state(root: Path = _PACKAGE) -> dict[str, Any]:
    """``{"commit": hash or None, "dirty": bool or None}`` of the git checkout that holds ``root``.

    Dirty means uncommitted changes to tracked files or untracked files (not ignored ones). Outside a git
    checkout (an installed package) both are None: the fingerprint still identifies the code.
    """
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Cache:
    """Which cached results may be reused in this run.

    Attributes
    ----------
    force : bool
        Reuse only what this run computed (``--force``).
    run : str
        This run's id (a new one per :class:`Cache` unless given).
    code : str
        The code fingerprint the run started with (:func:`code_fingerprint`); worker processes check that
        their code is still the same (:meth:`check_code`), so a source edit during a run cannot mix code.
    scope : tuple of str, optional
        The source files the fingerprint covers (None: the whole package); see :meth:`scoped`.
    """

    force: bool = False
    run: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:12])
    code: str = dataclasses.field(default_factory=lambda: code_fingerprint())
    scope: tuple[str, ...] | None = None

    def scoped(self, *modules: str) -> "Cache":
        """This cache (same run and ``force``) keyed on the code of ``modules`` alone (:func:`import_closure`):
        for results that take hours, so that an edit elsewhere in the package does not discard them."""
        files = import_closure(*modules)
        return dataclasses.replace(self, code=code_fingerprint(files=files), scope=files)

    def check_code(self) -> None:
        """Raise if the package's code changed since this run started (call it in worker processes)."""
        now = code_fingerprint(files=self.scope)
        if now != self.code:
            raise RuntimeError("the scorematch source changed during this run (code fingerprint "
                               f"{now} != {self.code}); rerun the command to recompute")

    def key(self, settings: Any) -> str:
        """The cache key of a result: its settings plus the code fingerprint."""
        return _hash({"settings": settings, "code": self.code})

    def stamp(self, settings: Any) -> dict[str, Any]:
        """The stamp to store with a result computed now from ``settings``."""
        return {"key": self.key(settings), "run": self.run, "fingerprint": self.code, **git_state(),
                "computed": time.strftime("%Y-%m-%d %H:%M:%S")}

    def is_current(self, stamp: dict[str, Any] | None, settings: Any) -> bool:
        """Whether a stored result with ``stamp`` may be reused for ``settings``."""
        if not isinstance(stamp, dict) or stamp.get("key") != self.key(settings):
            return False
        return not self.force or stamp.get("run") == self.run

    def json(self, path: str | Path, settings: Any, compute: Callable[[], Any]) -> Any:
        """The result stored in ``path`` if current, else ``compute()``, stored there with its stamp."""
        path = Path(path)
        if self.is_current(read_stamp(path), settings):
            return json.loads(path.read_text())["result"]
        result = compute()
        write_json(path, {"stamp": self.stamp(settings), "settings": settings, "result": result})
        return result

    def model_is_current(self, path: str | Path, settings: Any) -> bool:
        """Whether the model file ``path`` was saved with a current stamp for ``settings``."""
        return self.is_current(read_stamp(path), settings)


#: One cached unit of work: ``(fn, kwargs, result file, settings)``; ``fn(**kwargs)`` must be picklable.
Unit = tuple[Callable[..., Any], dict[str, Any], "str | Path", Any]


def _run_unit(job: tuple[Callable[..., Any], dict[str, Any], str, Any, Cache]) -> Any:
    """A worker's job: ``fn(**kwargs)`` through :meth:`Cache.json`, after checking the code is the run's."""
    fn, kwargs, path, settings, cache = job
    cache.check_code()
    return cache.json(path, settings, lambda: fn(**kwargs))


def cached_units(units: Sequence[Unit], cache: Cache, jobs: int = 1) -> list[Any]:
    """Run (or read back) cached units over ``jobs`` worker processes (:func:`~scorematch.parallel.map_jobs`).

    Each unit's result is stored in its file keyed on its settings and the code (:meth:`Cache.json`), so a
    rerun computes only the units whose settings or code changed. Returns the results in the order of ``units``.
    """
    return map_jobs(_run_unit, [(fn, kw, str(path), settings, cache) for fn, kw, path, settings in units], jobs=jobs)


def read_stamp(path: str | Path) -> dict[str, Any] | None:
    """The stamp stored in a JSON result file or a model file's metadata; None if absent or unreadable."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        if path.suffix == ".safetensors":
            return load_info(path)["extra"].get("stamp")
        data = json.loads(path.read_text())
        return data.get("stamp") if isinstance(data, dict) else None
    except Exception:  # noqa: BLE001 - an unreadable cache entry is recomputed
        return None


def describe(stamp: dict[str, Any], run: str | None) -> str:
    """'this run' or 'reused: commit abc1234 (dirty), 2026-11-27 10:00:00'."""
    if not isinstance(stamp, dict):
        return "unknown"
    if run is not None and stamp.get("run") == run:
        return "computed in this run"
    commit = (stamp.get("commit") or "unknown commit")[:10]
    dirty = " + uncommitted changes" if stamp.get("dirty") else ""
    return f"reused from commit {commit}{dirty} ({stamp.get('computed', '?')})"


def provenance_rows(out_dir: str | Path, run: str | None) -> list[tuple[str, str]]:
    """(files, :func:`describe` of their stamps) for the stamped results below ``out_dir``.

    Files of one folder with the same provenance share a row (named one by one up to eight, else counted).
    """
    out_dir = Path(out_dir)
    groups: dict[tuple[str, str], list[str]] = {}
    for path in sorted(out_dir.rglob("*")):
        if path.suffix not in (".json", ".safetensors") or path.name.startswith("."):
            continue
        stamp = read_stamp(path)
        if stamp is not None:
            folder = str(path.parent.relative_to(out_dir))
            groups.setdefault((folder, describe(stamp, run)), []).append(path.name)
    rows = []
    for (folder, text), names in groups.items():
        shown = ", ".join(names) if len(names) <= 8 else f"{len(names)} files"
        rows.append((shown if folder == "." else f"{folder}/: {shown}", text))
    return rows
