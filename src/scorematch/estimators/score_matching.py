"""Score matching (Hyvarinen 2005) and its regularized form (Kingma & LeCun 2010, eqs. 2, 6, 7)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ..derivatives import (
    Method,
    _check_args,
    exact_hessian_rows,
    grad_with_graph,
    hessian_vector_products,
    input_derivatives,
)
from ..draws import rademacher
from ..energies.base import Energy
from ..validation import check_int, check_number

__all__ = ["score_matching_loss"]


def _check_lam(lam: float) -> float:
    return check_number("lam", lam, minimum=0, hint=" (lambda weighs the curvature penalty; 0 turns it off)")


def score_matching_loss(
    energy: Energy,
    x: Tensor,
    *,
    lam: float = 0.0,
    method: Method = "curvature",
    regularizer: Literal["diagonal", "full"] = "diagonal",
    n_probes: int = 1,
    generator: torch.Generator | None = None,
    margin: int = 0,
) -> Tensor:
    """Regularized score-matching loss, averaged over the batch.

    .. math::

        J = \\frac{1}{B} \\sum_b \\sum_i \\Big[ \\tfrac12 \\Big(\\frac{\\partial E}{\\partial x_i}\\Big)^2
            - \\frac{\\partial^2 E}{\\partial x_i^2} + \\lambda R_i \\Big]

    with ``R_i = (d2E/dx_i^2)^2`` (``regularizer="diagonal"``, eq. 7) or
    ``R_i = sum_j (d2E/dx_i dx_j)^2`` (``regularizer="full"``, eq. 6, the whole Hessian's squared
    Frobenius norm). ``lam = 0`` gives plain score matching (eq. 2).

    Parameters
    ----------
    energy : Energy
    x : Tensor, shape (B, ...)
        Data batch.
    lam : float
        Regularization weight, ``>= 0`` (about ``s^2 / 2`` for noise of std ``s``).
    method : {"curvature", "exact", "hutchinson"}
        How the input derivatives are computed (see :func:`scorematch.input_derivatives`).
        ``regularizer="full"`` needs ``"exact"`` or ``"hutchinson"``.
    regularizer : {"diagonal", "full"}
    n_probes : int
        Probes per sample for ``"hutchinson"``.
    generator : torch.Generator, optional
    margin : int
        For images (B, C, H, W) and the diagonal regularizer: sum only over the pixels at least ``margin``
        from the border (score matching of the interior given the border, exact for a field whose cliques
        reach ``margin`` pixels); 0 sums over every pixel.

    Returns
    -------
    Tensor, scalar; differentiable w.r.t. the energy's parameters.

    Examples
    --------
    >>> import torch, scorematch
    >>> poe = scorematch.ProductOfExperts(4, 4)
    >>> loss = scorematch.score_matching_loss(poe, torch.randn(8, 4), lam=0.01)
    >>> loss.shape
    torch.Size([])
    """
    lam = _check_lam(lam)
    _check_args(energy, x, method)
    n_probes = check_int("n_probes", n_probes, minimum=1)
    margin = check_int("margin", margin, minimum=0)
    if margin and (x.dim() != 4 or regularizer != "diagonal" or 2 * margin >= min(x.shape[-2:])):
        raise ValueError(f"margin needs images (B, C, H, W) larger than 2 * margin and the diagonal regularizer; "
                         f"got margin {margin} for shape {tuple(x.shape)}")
    if regularizer == "diagonal":
        grad, diag = input_derivatives(energy, x, method=method, n_probes=n_probes, generator=generator)
        per_dim = 0.5 * grad * grad - diag
        if lam:
            per_dim = per_dim + lam * diag * diag
        if margin:
            per_dim = per_dim[..., margin:-margin, margin:-margin]
        return per_dim.flatten(1).sum(1).mean()
    if regularizer != "full":
        raise ValueError(f'regularizer must be "diagonal" or "full", got {regularizer!r}')
    if method == "exact":
        grad, rows = exact_hessian_rows(energy, x, create_graph=True)  # rows: (D, B, D)
        trace = torch.diagonal(rows, dim1=0, dim2=2).sum(1)  # (B,)
        frob = (rows * rows).sum((0, 2))  # (B,)
    elif method == "hutchinson":
        x_leaf, grad = grad_with_graph(energy, x)
        v = rademacher((n_probes, *x.shape), like=x, generator=generator)
        hv = hessian_vector_products(x_leaf, grad, v)  # (P, B, ...)
        trace = (v * hv).flatten(2).sum(2).mean(0)  # E[v^T H v] = tr H
        frob = (hv * hv).flatten(2).sum(2).mean(0)  # E[|H v|^2] = |H|_F^2
    else:
        raise ValueError('regularizer="full" needs method="exact" or method="hutchinson"')
    return (0.5 * (grad * grad).flatten(1).sum(1) - trace + lam * frob).mean()
