"""Where the research record finds the repository it runs from: the root of the checkout and its ``data/``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "data_dir", "data_path"]

#: The repository root of the checkout this package is installed from (``paper/src/scorematch_paper/..``).
ROOT = Path(__file__).resolve().parents[3]


def data_dir() -> Path:
    """The repository's data folder: ``$SCOREMATCH_DATA`` if set, else ``data/`` at the repository root.

    Raises
    ------
    FileNotFoundError
        If neither exists (the package was installed without its checkout).

    Examples
    --------
    >>> (data_dir() / "set12").is_dir()
    True
    """
    env = os.environ.get("SCOREMATCH_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT / "data")
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        "the repository's data folder was not found (looked in " + ", ".join(map(str, candidates)) + "); "
        "run the research package from a checkout (pip install -e paper) or set SCOREMATCH_DATA")


def data_path(source: Any) -> Any:
    """A data set of the repository named by its folder (``"train400"``, ``"bsds300-sample"``) as that folder of
    :func:`data_dir`; anything else (an existing folder, a list of files or images) as given.

    The library resolves such names in its own data folder; the experiments pass the folders of the checkout they
    run from.

    Examples
    --------
    >>> data_path("set12") == data_dir() / "set12"
    True
    """
    if isinstance(source, (str, os.PathLike)) and not Path(source).exists() and (data_dir() / str(source)).is_dir():
        return data_dir() / str(source)
    return source
