"""What the benchmark scripts share: the load average and the processor beside their timings, and how they hand out
their JSON."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``; else what :func:`platform.processor` says): the shared machines
    are not all of one kind, so a timing names the one it ran on."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load average (other processes inflate the timings), None where the system has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print ``result`` as JSON, with the processor (``cpu``) unless it names one, and, given ``out``, also write it
    there (folders made as needed)."""
    text = json.dumps({**result, "cpu": result.get("cpu", cpu_model())}, indent=2)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
