"""Score matching (Hyvarinen 2005) and its regularized form (Kingma & LeCun 2010, eqs. 2, 6, 7)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ..derivatives import (
    Method,
    check_derivative_args,
    exact_hessian_rows,
    hutchinson_probes,
    input_derivatives,
)
from ..energies.base import Energy
from ..validation import check_int, check_number
from .interior import check_margin, interior

__all__ = ["score_matching_loss"]


def _check_lam(lam: float) -> float:
    return check_number("lam", lam, minimum=0, hint=" (lambda weighs the curvature penalty; 0 turns it off)")


def _product_of_independent(d: Tensor) -> Tensor:
    """Unbiased estimate of ``diag(H)**2`` from ``P >= 2`` independent unbiased estimates ``d_p`` of ``diag(H)``.

    The mean of ``d_p * d_q`` over the ``P (P - 1)`` ordered pairs ``p != q`` (a U-statistic): independence
    makes each pair's expectation ``diag(H)**2``, and averaging over every pair has no more variance than
    multiplying the means of two halves of the probes. (``mean(d)**2`` is biased upwards by ``Var(mean(d))``.)

    Parameters
    ----------
    d : Tensor, shape (P, B, ...)

    Returns
    -------
    Tensor, shape (B, ...)
    """
    p = d.shape[0]
    total = d.sum(0)  # (B, ...)
    return (total * total - (d * d).sum(0)) / (p * (p - 1))


def _diagonal_per_dim(
    energy: Energy, x: Tensor, *, lam: float, method: Method, n_probes: int, generator: torch.Generator | None
) -> Tensor:
    """``1/2 (dE/dx_i)^2 - h_ii + lam * h_ii^2`` (or its unbiased estimate), shape like ``x``."""
    if method != "hutchinson":
        grad, diag = input_derivatives(energy, x, method=method)
        return 0.5 * grad * grad - diag + lam * diag * diag
    grad, v, hv = hutchinson_probes(energy, x, n_probes=n_probes, generator=generator)
    d = v * hv  # (P, B, ...): one unbiased estimate of diag H per probe
    per_dim = 0.5 * grad * grad - d.mean(0)
    return per_dim + lam * _product_of_independent(d) if lam else per_dim


def _full_per_sample(
    energy: Energy, x: Tensor, *, lam: float, method: Method, n_probes: int, generator: torch.Generator | None
) -> Tensor:
    """``1/2 |dE/dx|^2 - tr H + lam * |H|_F^2`` (or its unbiased estimate) of each sample, shape (B,)."""
    if method == "exact":
        grad, rows = exact_hessian_rows(energy, x, create_graph=True)  # rows: (D, B, D)
        trace = torch.diagonal(rows, dim1=0, dim2=2).sum(1)  # (B,)
        frob = (rows * rows).sum((0, 2))  # (B,)
    else:
        grad, v, hv = hutchinson_probes(energy, x, n_probes=n_probes, generator=generator)  # v, hv: (P, B, ...)
        trace = (v * hv).flatten(2).sum(2).mean(0)  # E[v^T H v] = tr H
        frob = (hv * hv).flatten(2).sum(2).mean(0)  # E[|H v|^2] = |H|_F^2 since E[v v^T] = I
    return 0.5 * (grad * grad).flatten(1).sum(1) - trace + lam * frob


def _check_combination(lam: float, method: str, regularizer: str, n_probes: int) -> None:
    """Refuse the combinations the loss cannot compute, or cannot estimate without bias."""
    if regularizer not in ("diagonal", "full"):
        raise ValueError(f'regularizer must be "diagonal" or "full", got {regularizer!r}')
    if regularizer == "full" and method == "curvature":
        raise ValueError('regularizer="full" needs method="exact" or method="hutchinson"')
    if regularizer == "diagonal" and method == "hutchinson" and lam and n_probes < 2:
        raise ValueError(f'method="hutchinson" estimates the diagonal regularizer without bias from two or more '
                         f'independent probes (the square of one probe\'s estimate averages to the full Frobenius '
                         f'norm); got n_probes={n_probes}: pass n_probes >= 2, or lam=0')


def score_matching_loss(
    energy: Energy,
    x: Tensor,
    *,
    lam: float = 0.0,
    method: Method = "curvature",
    regularizer: Literal["diagonal", "full"] = "diagonal",
    n_probes: int = 2,
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
        Data batch, ``D = x[0].numel()`` inputs per sample.
    lam : float
        Regularization weight, ``>= 0`` (about ``s^2 / 2`` for noise of std ``s``).
    method : {"curvature", "exact", "hutchinson"}
        How the input derivatives are computed (see :func:`scorematch.input_derivatives`):

        - ``"curvature"``: Algorithm 1, one forward and one curvature-backpropagation pass, O(W); ``J`` is
          exact where the energy's curvature rule is (one-layer models such as PoE and FoE) and the
          Becker-LeCun approximation otherwise. Diagonal regularizer only.
        - ``"exact"``: ``J`` exactly, from the whole Hessian: ``D`` Hessian-vector products per sample.
        - ``"hutchinson"``: an unbiased stochastic estimate of ``J`` (its expectation over the probes is
          the ``"exact"`` loss, and so is that of its parameter gradient), from ``n_probes`` independent
          Rademacher probes ``v_p``: ``n_probes`` Hessian-vector products per sample. The trace term is
          the mean of ``v_p . H v_p``; the full regularizer the mean of ``|H v_p|^2``; the diagonal one
          the mean over pairs ``p != q`` of ``sum_i d_pi d_qi`` with ``d_p = v_p * H v_p``, since the
          square of one estimate of the diagonal is biased (by the off-diagonal squares over ``n_probes``).
          The diagonal regularizer therefore needs ``n_probes >= 2`` when ``lam > 0``.
    regularizer : {"diagonal", "full"}
    n_probes : int
        Probes per sample for ``"hutchinson"`` (ignored otherwise); the default 2 is the fewest that the
        diagonal regularizer's unbiased estimate allows.
    generator : torch.Generator, optional
    margin : int
        Leave the ``margin`` outer rows and columns of each image out of the sum over ``i`` (see
        :func:`~scorematch.estimators.interior.interior`; diagonal regularizer only); x must then be images,
        shape (B, ..., H, W).

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
    check_derivative_args(energy, x, method)
    n_probes = check_int("n_probes", n_probes, minimum=1)
    _check_combination(lam, method, regularizer, n_probes)
    margin = check_margin(margin, x)
    if margin and regularizer == "full":
        raise ValueError('margin needs regularizer="diagonal" (the full regularizer couples every pixel)')
    options = dict(lam=lam, method=method, n_probes=n_probes, generator=generator)
    if regularizer == "full":
        return _full_per_sample(energy, x, **options).mean()
    return interior(_diagonal_per_dim(energy, x, **options), margin).flatten(1).sum(1).mean()
