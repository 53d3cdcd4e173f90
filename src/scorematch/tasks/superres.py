"""Super-resolution with an energy prior and an exact block-average constraint (Kingma & LeCun 2010, sec. 4.3)."""

from __future__ import annotations

import logging
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..energies.base import Energy
from ._objective import DEFAULT_BOUNDARY, check_channels, check_image_size
from .operators import Downsample
from .restore import PAPER_ETA, restore

__all__ = ["superresolve", "upscale_start", "LBFGS_ITERS", "PAPER_STEP_SCALE"]

#: Default L-BFGS iterations of :func:`superresolve`, chosen on the central 128x128 crops of the tuning images
#: (Set12 cameraman, couple, man, monarch, starfish, parrot; never a Table 2 image) for the bundled FoE 5x5x24 with
#: the replicate boundary (2x, mean PSNR 26.88 / 26.94 / 27.02 / 27.09 / 27.12 / 27.11 / 27.11 dB after
#: 5 / 10 / 20 / 40 / 80 / 150 / 300 iterations; ``scorematch reproduce restoration`` re-chooses it per model
#: and records the choice in ``choices.json``).
LBFGS_ITERS = 80
#: Default step scale of the paper's super-resolution steps, chosen on the same crops (26.37 / 26.47 / 26.62 /
#: 26.85 / 27.02 / 27.11 / 27.11 / 27.05 dB at 1/255^2, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1).
PAPER_STEP_SCALE = 1e-2

log = logging.getLogger(__name__)


def _binomial_blur(x: Tensor) -> Tensor:
    k1 = torch.tensor([0.25, 0.5, 0.25], dtype=x.dtype, device=x.device)
    k = (k1[:, None] * k1[None, :]).reshape(1, 1, 3, 3)  # (1, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)


def upscale_start(y: Tensor, *, factor: int = 2, kind: Literal["lowpass", "bicubic"] = "lowpass",
                  project: bool = False) -> Tensor:
    """An initial high-resolution image from low-resolution ``y``.

    Parameters
    ----------
    y : Tensor, shape (B, C, h, w)
    factor : int
    kind : {"lowpass", "bicubic"}
        ``"lowpass"``: the paper's start, a linear (bilinear) upscale followed by a low-pass filter (our
        choice of filter: the 3x3 binomial ``[1 2 1]^T [1 2 1] / 16``, replicate borders).
        ``"bicubic"``: bicubic upscale (``align_corners=False``), no filter.
    project : bool
        Then adjust every block so that its average equals the low-resolution pixel.

    Returns
    -------
    Tensor, shape (B, C, h * factor, w * factor)
    """
    if y.dim() != 4:
        raise ValueError(f"y must have shape (B, C, h, w), got {tuple(y.shape)}")
    if kind == "lowpass":
        x = _binomial_blur(F.interpolate(y, scale_factor=factor, mode="bilinear", align_corners=False))
    elif kind == "bicubic":
        x = F.interpolate(y, scale_factor=factor, mode="bicubic", align_corners=False)
    else:
        raise ValueError(f'kind must be "lowpass" or "bicubic", got {kind!r}')
    return Downsample(factor).project(x, y) if project else x


def superresolve(
    y: Tensor,
    energy: Energy,
    *,
    factor: int = 2,
    method: Literal["lbfgs", "paper"] = "lbfgs",
    start: Literal["lowpass", "bicubic"] | Tensor | None = None,
    n_iter: int | None = None,
    eta: tuple[float, float] = PAPER_ETA,
    step_scale: float = PAPER_STEP_SCALE,
    history: int = 10,
    tol: float = 1e-7,
    tile: int | None = None,
    boundary: str = DEFAULT_BOUNDARY,
    progress: bool = False,
) -> Tensor:
    """Most probable high-resolution image whose ``factor x factor`` block averages equal ``y``.

    Solves ``min_x E(x)  s.t.  A x = y`` with ``A`` the block average (:class:`Downsample`).

    Parameters
    ----------
    y : Tensor, shape (B, C, h, w), range [0, 1] (a grey prior acts on each channel)
    energy : Energy
        Prior on [0, 1] images.
    factor : int
    method : {"lbfgs", "paper"}
        ``"paper"``: start from the low-pass start, then ``n_iter`` (default 200) times (1) a gradient step
        ``x <- x - eta_t * step_scale * dE/dx`` with ``eta_t`` geometric from ``eta[0]`` to ``eta[1]``
        (default ``step_scale`` :data:`PAPER_STEP_SCALE`, chosen on the tuning crops; ``1/255**2`` takes the
        step in 0..255 pixel units and barely moves the start) and (2) the projection onto ``A x = y``.
        ``"lbfgs"`` (default): L-BFGS (strong-Wolfe line search) on ``z -> E(P z)``, ``P`` the projection onto
        ``A x = y``, from the bicubic start, ``n_iter`` iterations (default :data:`LBFGS_ITERS`, chosen on the
        tuning crops); returns ``P z``.
    start : {"lowpass", "bicubic"} or Tensor, optional
        Initial image (default: ``"lowpass"`` for the paper's method, ``"bicubic"`` for L-BFGS).
    n_iter, eta, step_scale, history, tol, tile, boundary, progress
        See :func:`~scorematch.tasks.denoise`.

    Returns
    -------
    Tensor, shape (B, C, h * factor, w * factor); its block averages equal ``y`` up to rounding.

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import ImageFoE
    >>> y = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    >>> x = superresolve(y, ImageFoE(4, 3, whitening_size=3).double(), n_iter=3)
    >>> bool(torch.allclose(Downsample(2).A(x), y, atol=1e-12))
    True
    """
    if not isinstance(y, Tensor) or not y.is_floating_point() or y.dim() != 4:
        raise ValueError("y must be a floating-point tensor of shape (B, C, h, w)")
    op = Downsample(factor)
    check_channels(energy, y.shape[1])
    check_image_size(energy, y.shape[-2:], factor=op.factor)
    y = y.detach()
    if method not in ("lbfgs", "paper"):
        raise ValueError(f'method must be "lbfgs" or "paper", got {method!r}')
    if start is None:
        start = "lowpass" if method == "paper" else "bicubic"
    x0 = start.to(y) if isinstance(start, Tensor) else upscale_start(y, factor=factor, kind=start)
    return restore(y, op, energy, sigma=0.0, method=method, start=x0,
                   n_iter=n_iter or (200 if method == "paper" else LBFGS_ITERS), history=history, tol=tol,
                   eta=eta, step_scale=step_scale, tile=tile, boundary=boundary, progress=progress)
