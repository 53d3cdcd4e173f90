"""The shoot-out's table read back: rows per estimator and budget, and the reference priors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """``shootout.json``: ``config``, ``threads``, ``reference`` (prior -> level -> PSNR) and ``rows`` (estimator,
    budget ``minutes``, ``steps``, the real ``cpu_minutes``, ``heldout_psnr`` per level), rows sorted by budget."""
    table = json.loads((Path(out_dir) / "shootout.json").read_text())
    table["rows"] = sorted(table["rows"], key=lambda r: (r["minutes"], r["estimator"]))
    return table
