"""Where bundled data lives."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """The bundled data folder: ``$SCOREMATCH_DATA`` if set, else the repository's ``data/``.

    Raises
    ------
    FileNotFoundError
        If neither exists (e.g. a wheel install without the data); pass your own paths then.
    """
    env = os.environ.get("SCOREMATCH_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "data")
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        "bundled data not found (looked in "
        + ", ".join(str(p) for p in candidates)
        + "); set SCOREMATCH_DATA to the repository's data/ folder or pass a path"
    )
