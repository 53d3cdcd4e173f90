"""Device names from the command line: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``."""

from __future__ import annotations

import argparse

import torch

__all__ = ["resolve_device", "add_device_argument"]


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else the CPU; other names are checked against this machine.

    Raises
    ------
    ValueError
        An unknown name, or CUDA asked for where there is none (the message says what to pass instead).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {name!r} is not a device name; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s); use cuda:0")
    elif device.type != "cpu":
        raise ValueError(f"--device {name}: only cpu and cuda are supported")
    return device


def add_device_argument(parser: argparse.ArgumentParser, default: str = "cpu") -> None:
    """Add the shared ``--device`` option."""
    parser.add_argument("--device", default=default,
                        help=f"cpu, cuda, cuda:N or auto (cuda when available; default {default})")
