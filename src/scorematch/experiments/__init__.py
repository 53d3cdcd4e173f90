"""Experiments: one module per paper figure/table, each with ``run(out_dir, *, quick, progress)`` and ``plot``."""
