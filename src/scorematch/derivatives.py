"""First and (diagonal) second derivatives of an energy with respect to its input.

Three methods, one signature (:func:`input_derivatives`):

- ``"curvature"``: Algorithm 1 of Kingma & LeCun (2010), for energies that provide
  ``curvature_derivatives(x)`` (every :class:`~scorematch.energies.LayeredEnergy`); O(W).
- ``"exact"``: the exact Hessian diagonal by autograd, one Hessian-vector product per input
  dimension; works for any energy.
- ``"hutchinson"``: an unbiased stochastic estimate of the diagonal, the mean of ``v * (H v)`` over
  ``n_probes`` independent Rademacher probes ``v``; ``n_probes`` Hessian-vector products per sample.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .draws import rademacher
from .energies.base import Energy
from .validation import check_int, check_tensor

__all__ = ["input_derivatives", "hessian_vector_products", "METHODS"]

Method = Literal["curvature", "exact", "hutchinson"]
METHODS: tuple[str, ...] = ("curvature", "exact", "hutchinson")


def grad_with_graph(energy: Energy, x: Tensor) -> tuple[Tensor, Tensor]:
    """``(x_leaf, dE/dx)`` with a graph for further differentiation."""
    x = x.detach().requires_grad_(True)
    return x, -energy.score(x)


def hessian_vector_products(
    x_leaf: Tensor, grad: Tensor, probes: Tensor, *, create_graph: bool = True, chunk: int = 64
) -> Tensor:
    """``H v`` for each probe, where ``H`` is the per-sample input Hessian.

    Parameters
    ----------
    x_leaf : Tensor, shape (B, ...)
        The input ``grad`` was computed from (``requires_grad=True``).
    grad : Tensor, shape (B, ...)
        ``dE/dx`` built with ``create_graph=True``.
    probes : Tensor, shape (P, B, ...)
    create_graph : bool
        Keep the result differentiable w.r.t. the parameters.
    chunk : int
        Probes per batched backward pass (bounds memory).

    Returns
    -------
    Tensor, shape (P, B, ...)
    """
    out = []
    for start in range(0, probes.shape[0], chunk):
        v = probes[start : start + chunk]
        (hv,) = torch.autograd.grad(
            grad, x_leaf, grad_outputs=v, is_grads_batched=True, create_graph=create_graph, retain_graph=True
        )
        out.append(hv)
    return torch.cat(out)


def exact_hessian_rows(energy: Energy, x: Tensor, *, create_graph: bool) -> tuple[Tensor, Tensor]:
    """``(dE/dx, H)`` with ``H`` of shape (D, B, D): row ``i`` of every sample's Hessian."""
    x_leaf, g = grad_with_graph(energy, x)
    b, d = x.shape[0], x[0].numel()
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    probes = eye.unsqueeze(1).expand(d, b, d).reshape(d, *x.shape)  # (D, B, ...)
    rows = hessian_vector_products(x_leaf, g, probes, create_graph=create_graph)
    return g, rows.reshape(d, b, d)  # (D, B, D)


def exact_hessian(energy: Energy, x: Tensor, *, create_graph: bool = True) -> tuple[Tensor, Tensor]:
    """Gradient and full per-sample input Hessian.

    Returns
    -------
    grad : Tensor, shape like ``x``
    hessian : Tensor, shape (B, D, D), D = ``x[0].numel()``
    """
    g, rows = exact_hessian_rows(energy, x, create_graph=create_graph)
    return g, rows.permute(1, 0, 2)


def hutchinson_probes(
    energy: Energy, x: Tensor, *, n_probes: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor, Tensor]:
    """``(dE/dx, v, H v)`` for ``n_probes`` independent Rademacher probes ``v`` per sample.

    Each ``v_p * (H v_p)`` is an unbiased estimate of the Hessian diagonal, ``v_p . (H v_p)`` of its trace
    and ``|H v_p|^2`` of its squared Frobenius norm. Costs ``n_probes`` Hessian-vector products per sample.

    Parameters
    ----------
    energy : Energy
    x : Tensor, shape (B, ...)
    n_probes : int
        ``P >= 1``.
    generator : torch.Generator, optional
        For the probes.

    Returns
    -------
    grad : Tensor, shape like ``x``
    probes, hvp : Tensor, each shape (P, B, ...)
    """
    check_int("n_probes", n_probes, minimum=1)
    x_leaf, g = grad_with_graph(energy, x)
    v = rademacher((n_probes, *x.shape), like=x, generator=generator)
    return g, v, hessian_vector_products(x_leaf, g, v)


def check_derivative_args(energy: Energy, x: Tensor, method: str) -> None:
    """Validation shared by the public entries that take ``(energy, x, method)``."""
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be a scorematch Energy, got {type(energy).__name__}")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_tensor("x", x, min_dim=2)


def input_derivatives(
    energy: Energy,
    x: Tensor,
    *,
    method: Method = "curvature",
    n_probes: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """``(dE/dx, diag d2E/dx2)`` of a batch, both shaped like ``x`` and differentiable w.r.t. parameters.

    Parameters
    ----------
    energy : Energy
    x : Tensor, shape (B, ...)
    method : {"curvature", "exact", "hutchinson"}
        See the module docstring.
    n_probes : int
        Rademacher probes per sample for ``"hutchinson"``.
    generator : torch.Generator, optional
        For the probes.

    Returns
    -------
    grad, diag : Tensor, each shaped like ``x``

    Examples
    --------
    >>> import torch, scorematch
    >>> poe = scorematch.ProductOfExperts(3, 3).double()
    >>> x = torch.randn(5, 3, dtype=torch.float64)
    >>> g1, h1 = scorematch.input_derivatives(poe, x, method="curvature")
    >>> g2, h2 = scorematch.input_derivatives(poe, x, method="exact")
    >>> bool(torch.allclose(h1, h2)) and bool(torch.allclose(g1, g2))
    True
    """
    check_derivative_args(energy, x, method)
    if method == "curvature":
        return energy.curvature_derivatives(x)
    if method == "exact":
        g, rows = exact_hessian_rows(energy, x, create_graph=True)
        diag = torch.diagonal(rows, dim1=0, dim2=2).reshape(x.shape)  # (B, D) -> like x
        return g, diag
    if method == "hutchinson":
        g, v, hv = hutchinson_probes(energy, x, n_probes=n_probes, generator=generator)
        return g, (v * hv).mean(0)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
