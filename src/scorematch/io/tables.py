"""Result tables: JSON and CSV files, written atomically."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from typing import Any

from .atomic import atomic_path

__all__ = ["write_json", "write_csv"]


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, default=str))


def write_csv(path: str | os.PathLike, rows: Sequence[dict[str, Any]], *, columns: Sequence[str] | None = None) -> None:
    """Write ``rows`` as a CSV table with a header, atomically; ``columns`` default to the first row's keys."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns if columns is not None else rows[0]))
        writer.writeheader()
        writer.writerows(rows)
