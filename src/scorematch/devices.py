"""Where the commands compute: device names from the command line (``cpu``, ``cuda``, ``cuda:N`` or ``auto``)
and the process's memory setting for large CPU arrays."""

from __future__ import annotations

import argparse
import ctypes
import platform

import torch

__all__ = ["resolve_device", "add_device_argument", "reuse_freed_memory"]

#: glibc ``mallopt`` parameters (malloc.h) and the values :func:`reuse_freed_memory` gives them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 1 << 30, (1 << 31) - 1


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


def reuse_freed_memory() -> bool:
    """Let this process reuse the CPU memory it frees instead of handing it back to the system (glibc only).

    By default glibc maps every block over a threshold fresh from the system and unmaps it when freed, so each
    new large tensor (an image-sized array of filter responses is about 25 MB at 512x512) first pays a page
    fault per 4 KB page. A solver that allocates such arrays at every step can spend more time in these
    faults than in its arithmetic (``benchmarks/denoise_vs_bm3d.py`` times one prior evaluation with and
    without this setting). The cost is that the process keeps its peak memory until it exits. The restoration commands call this; a library user may. Returns whether it applied
    (False where the C library is not glibc).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                     _TRIM_THRESHOLD))
