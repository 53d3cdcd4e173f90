"""Super-resolution with an energy prior and an exact block-average constraint (Kingma & LeCun 2010, sec. 4.3)."""

from __future__ import annotations

from torch import Tensor

from ..energies.base import Energy
from ..prior import ImagePrior, as_prior
from .operators import Downsample
from .restore import restore
from .solvers import MAP, PaperSteps

__all__ = ["superresolve"]


def superresolve(y: Tensor, prior: ImagePrior | Energy, *, factor: int = 2, solver: MAP | PaperSteps | None = None,
                 progress: bool = False) -> Tensor:
    """Most probable high-resolution image whose ``factor x factor`` block averages equal ``y``.

    Solves ``min_x E(x)  s.t.  A x = y`` with ``A`` the block average (:class:`Downsample`): :func:`restore`
    without noise. L-BFGS by default (from the projected bicubic upscale); :class:`PaperSteps`, the paper's method,
    starts from the low-pass upscale and projects after each gradient step.

    Parameters
    ----------
    y : Tensor, shape (B, C, h, w), range [0, 1] (a grey prior acts on each channel)
    prior : ImagePrior or Energy
    factor : int
    solver : MAP or PaperSteps, optional
        Unset fields from the prior's ``superres_<factor>x`` preset, then the defaults.
    progress : bool

    Returns
    -------
    Tensor, shape (B, C, h * factor, w * factor); its block averages equal ``y`` up to rounding.

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import ImageFoE
    >>> from scorematch.tasks import MAP
    >>> y = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    >>> x = superresolve(y, ImageFoE(4, 3, whitening_size=3).double(), solver=MAP(iterations=3))
    >>> bool(torch.allclose(Downsample(2).A(x), y, atol=1e-12))
    True
    """
    if not isinstance(y, Tensor) or not y.is_floating_point() or y.dim() != 4:
        raise ValueError("y must be a floating-point tensor of shape (B, C, h, w)")
    op, prior = Downsample(factor), as_prior(prior)
    prior.field().check(y.shape[1], tuple(y.shape[-2:]), factor=op.factor)
    return restore(y, op, prior, sigma=0.0, solver=solver, progress=progress)
