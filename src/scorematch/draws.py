"""Random draws shaped like a tensor, made on the generator's device (so a CUDA generator works) and moved next to it.

Every random number the estimators, samplers and degradation operators use comes from here: with
``generator=None`` the draws are made on the target tensor's device (its default generator); with a
generator, on the generator's device, so a seeded CPU generator gives the same numbers whether the
model runs on the CPU or a GPU.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["rademacher", "gaussian", "uniform"]


def _draw_device(like: Tensor, generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else like.device


def rademacher(shape: tuple[int, ...], *, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Random signs, shape ``shape``, with ``like``'s dtype and device."""
    bits = torch.randint(0, 2, shape, generator=generator, device=_draw_device(like, generator))
    return (2 * bits - 1).to(device=like.device, dtype=like.dtype)


def gaussian(shape: tuple[int, ...], *, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal draws, shape ``shape``, with ``like``'s dtype and device."""
    z = torch.randn(shape, generator=generator, dtype=like.dtype, device=_draw_device(like, generator))
    return z.to(like.device)


def uniform(shape: tuple[int, ...], *, like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Uniform draws on [0, 1), shape ``shape``, with ``like``'s dtype and device."""
    u = torch.rand(shape, generator=generator, dtype=like.dtype, device=_draw_device(like, generator))
    return u.to(like.device)
