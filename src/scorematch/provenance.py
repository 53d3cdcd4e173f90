"""Which code computed a result: a fingerprint of a package's source files and the state of its git checkout.

A benchmark or an experiment stores both beside its numbers, so that a result names the code behind it whether
the package was installed from a wheel (the fingerprint) or runs from a checkout (the commit, and whether the
tree had uncommitted changes).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["PACKAGE", "code_fingerprint", "git_state"]

#: The folder of the ``scorematch`` package.
PACKAGE = Path(__file__).resolve().parent

_CODE_SUFFIXES = (".py", ".safetensors")


def code_fingerprint(root: str | os.PathLike | None = None, files: Sequence[str] | None = None) -> str:
    """A hash of the source and bundled-model files below ``root`` (their names and bytes).

    Parameters
    ----------
    root : path-like, optional
        The folder whose ``.py`` and ``.safetensors`` files are hashed; default :data:`PACKAGE`, this package.
    files : sequence of str, optional
        Only these files (paths relative to ``root``); default every such file below ``root``.

    Returns
    -------
    str
        16 hex digits. Computed once per process and arguments (the files are read at the first call).

    Examples
    --------
    >>> len(code_fingerprint())
    16
    """
    return _fingerprint(Path(root or PACKAGE), None if files is None else tuple(files))


@functools.lru_cache(maxsize=None)
def _fingerprint(root: Path, files: tuple[str, ...] | None) -> str:
    if files is None:
        paths = sorted(p for p in root.rglob("*") if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts)
    else:
        paths = [root / f for f in sorted(files)]
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def git_state(root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The commit of the git checkout that holds ``root``, and whether ``root`` has uncommitted changes.

    Parameters
    ----------
    root : path-like, optional
        A folder inside the checkout (default :data:`PACKAGE`); only changes below it count as dirty.

    Returns
    -------
    dict
        ``{"commit": hash or None, "dirty": bool or None}``. Dirty means uncommitted changes to tracked files or
        untracked files (not ignored ones) below ``root``. Outside a git checkout (an installed package) both are
        None: :func:`code_fingerprint` still identifies the code. Asked once per process and ``root``.

    Examples
    --------
    >>> sorted(git_state())
    ['commit', 'dirty']
    """
    return dict(_git_state(Path(root or PACKAGE)))


@functools.lru_cache(maxsize=None)
def _git_state(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}
