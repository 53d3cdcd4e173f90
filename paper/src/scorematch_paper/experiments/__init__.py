"""Experiments: one module per paper figure/table, run by ``scorematch reproduce``.

Each module provides ``run(out_dir, *, quick=False, progress=True) -> dict`` (computes, writes JSON/CSV/models
into ``out_dir``, skipping finished stages, and draws its figures) and ``report(out_dir) -> str`` (a markdown
section that links the figures by paths relative to the report's folder).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: reproduce name -> module, in report order.
EXPERIMENTS: dict[str, str] = {
    "mnist": "scorematch_paper.experiments.mnist",
    "patches": "scorematch_paper.experiments.patches",
    "restoration": "scorematch_paper.experiments.restoration",
    "speed": "scorematch_paper.experiments.speed",
    "beyond": "scorematch_paper.experiments.beyond",
    "shootout": "scorematch_paper.experiments.shootout",
}


def get(name: str) -> ModuleType:
    """Import an experiment module by its reproduce name."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])
