"""Cached experiment results, keyed on their settings and on the code that computes them.

Every cached result (a JSON result file, or a model file's metadata) carries a *stamp*::

    {"key": ..., "run": ..., "fingerprint": ..., "commit": ..., "dirty": ..., "computed": ...}

``key`` hashes the result's settings together with :func:`code_fingerprint` (the source and bundled model files
of the library and of this package), so a change to the code or to a setting misses the cache. ``run`` names the
run that computed it: under ``force`` only results of the current run are reused, so ``scorematch reproduce
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
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

from scorematch import provenance
from scorematch.io.tables import write_json
from scorematch.parallel import map_jobs
from scorematch.serialization import load_info

__all__ = ["Cache", "cached_units", "code_fingerprint", "import_closure", "git_state", "read_stamp", "describe",
           "provenance_rows", "PACKAGES"]

#: The packages whose code a cached result depends on: the library (``scorematch``) and this one
#: (``scorematch_paper``). A file of theirs is named by its path below the packages' parent folder, e.g.
#: ``"scorematch/tasks/denoise.py"`` or ``"scorematch_paper/experiments/shootout/recipe.py"``.
PACKAGES: tuple[Path, ...] = (provenance.PACKAGE, Path(__file__).resolve().parents[1])
_CODE_SUFFIXES = (".py", ".safetensors")


@functools.lru_cache(maxsize=None)
def code_fingerprint(roots: tuple[Path, ...] = PACKAGES, files: tuple[str, ...] | None = None) -> str:
    """A hash of every source and bundled-model file of the packages ``roots`` (names and bytes), 16 hex digits;
    of the ``files`` (named as in :data:`PACKAGES`, e.g. an :func:`import_closure`) only, when given."""
    h = hashlib.sha256()
    for root in roots:
        if files is None:
            paths = sorted(p for p in root.rglob("*") if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts)
        else:
            paths = [root.parent / f for f in sorted(files) if f.split("/")[0] == root.name]
        for path in paths:
            h.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def import_closure(*modules: str, roots: tuple[Path, ...] = PACKAGES) -> tuple[str, ...]:
    """The source files of the packages ``roots`` that ``modules`` (dotted names, such as
    ``"scorematch_paper.experiments.shootout.compute"``) are made of: theirs and those they import, directly or
    through others, by their static ``import`` statements within those packages (sorted, named as in
    :data:`PACKAGES`).

    A package's ``__init__`` counts where a module imports from the package itself, not where it imports one of
    its submodules, so a result that only some modules compute can be keyed on those modules' code alone.
    """
    by_name = {root.name: root for root in roots}
    todo = [_module_file(by_name, name.split(".")) for name in modules]
    if None in todo:
        raise ValueError(f"not modules of {sorted(by_name)}: {[m for m, f in zip(modules, todo) if f is None]}")
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += _imported_files(by_name, path)
    return tuple(sorted(str(p.relative_to(by_name[_package_of(by_name, p)].parent)) for p in seen))


def _package_of(by_name: dict[str, Path], path: Path) -> str:
    """The name of the package of ``by_name`` that holds ``path``."""
    return next(name for name, root in by_name.items() if path.is_relative_to(root))


def _module_file(by_name: dict[str, Path], parts: list[str]) -> Path | None:
    """The file of the module ``parts`` (``pkg/a/b.py`` or ``pkg/a/b/__init__.py`` for ``["pkg", "a", "b"]``)
    of one of the packages, None if none (a package itself, ``["pkg"]``, counts as none)."""
    if len(parts) < 2 or parts[0] not in by_name:
        return None
    base = by_name[parts[0]].joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imported_files(by_name: dict[str, Path], path: Path) -> list[Path]:
    """The package files that the ``from ... import`` statements of the module ``path`` name."""
    name = _package_of(by_name, path)
    package = [name, *path.relative_to(by_name[name]).parts[:-1]]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:  # relative: from the package of ``path``, ``level - 1`` packages up
            module = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
        elif (node.module or "").split(".")[0] in by_name:
            module = node.module.split(".")
        else:
            continue
        for parts in (module, *(module + [alias.name] for alias in node.names)):
            found = _module_file(by_name, parts)
            if found is not None:
                out.append(found)
    return out


@functools.lru_cache(maxsize=None)
def git_state() -> dict[str, Any]:
    """``{"commit": hash or None, "dirty": bool or None}`` of the code of :data:`PACKAGES`
    (:func:`scorematch.provenance.git_state` of each): the commit when both come from one git checkout (else
    None), dirty when either has uncommitted changes (None when either is outside a checkout)."""
    states = [provenance.git_state(root) for root in PACKAGES]
    commits = {s["commit"] for s in states}
    dirty = [s["dirty"] for s in states]
    return {"commit": commits.pop() if len(commits) == 1 else None, "dirty": None if None in dirty else any(dirty)}


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
        The source files the fingerprint covers (None: the whole of :data:`PACKAGES`); see :meth:`scoped`.
    """

    force: bool = False
    run: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:12])
    code: str = dataclasses.field(default_factory=lambda: code_fingerprint())
    scope: tuple[str, ...] | None = None

    def scoped(self, *modules: str) -> "Cache":
        """This cache (same run and ``force``) keyed on the code of ``modules`` (dotted names) alone
        (:func:`import_closure`): for results that take hours, so that an edit elsewhere in the packages does not
        discard them."""
        files = import_closure(*modules)
        return dataclasses.replace(self, code=code_fingerprint(files=files), scope=files)

    def check_code(self) -> None:
        """Raise if the packages' code changed since this run started (call it in worker processes)."""
        now = code_fingerprint(files=self.scope)
        if now != self.code:
            raise RuntimeError("the scorematch or scorematch_paper source changed during this run (code "
                               f"fingerprint {now} != {self.code}); rerun the command to recompute")

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
