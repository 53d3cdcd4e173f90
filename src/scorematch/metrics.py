"""Image quality measures."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["psnr"]


def psnr(x: Tensor, reference: Tensor, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(range^2 / MSE)``, over all elements.

    Parameters
    ----------
    x, reference : Tensor, one shape
        The estimate and the clean image.
    data_range : float
        The pixel range (1 for images on [0, 1]).

    Returns
    -------
    float
        The PSNR in dB (inf when they are equal).
    """
    if x.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} and {tuple(reference.shape)}")
    mse = torch.mean((x.double() - reference.double()) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)
