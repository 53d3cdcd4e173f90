"""What the benchmark scripts share: the load average beside their timings, and how they hand out their JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def load_average() -> float | None:
    """The 1-minute load average (other processes inflate the timings), None where the system has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print ``result`` as JSON and, given ``out``, also write it there (folders made as needed)."""
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
