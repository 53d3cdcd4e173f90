"""Product of Student-t experts (Kingma & LeCun 2010, eq. 8)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..validation import check_int, check_number
from .experts import DEFAULT_C, StudentTExperts
from .layers import Linear, standard_normal

__all__ = ["ProductOfExperts", "DEFAULT_C", "student_t_log_normalizer"]



def student_t_log_normalizer(c: float) -> float:
    """``log integral exp(-log(1 + (c z)^2 / 2)) dz = log(pi * sqrt(2) / c)``."""
    return math.log(math.pi * math.sqrt(2.0) / c)


class ProductOfExperts(StudentTExperts):
    """``E(x) = sum_i alpha_i g(w_i^T x)`` with ``g(z) = log(1 + (c z)^2 / 2)`` and ``alpha = exp(beta)``.

    Parameters
    ----------
    dim : int
        D, the input dimension.
    n_experts : int
        M, the number of experts (filters).
    c : float
        The experts' fixed scale (``e^1.5`` in the paper).
    normalize_filters : bool
        Use unit-norm filters (a normalized parameterization, as in Hyvarinen 2005).
    learn_alpha : bool
        Learn ``beta``; if False, ``alpha = 1``.
    generator : torch.Generator, optional
        For the random initial filters.

    Examples
    --------
    >>> import torch, scorematch
    >>> poe = scorematch.ProductOfExperts(4, 4, learn_alpha=False)
    >>> poe.energy(torch.zeros(3, 4))
    tensor([0., 0., 0.], grad_fn=<MvBackward0>)
    """

    def __init__(
        self,
        dim: int,
        n_experts: int,
        *,
        c: float = DEFAULT_C,
        normalize_filters: bool = True,
        learn_alpha: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        dim = check_int("dim", dim, minimum=1)
        n_experts = check_int("n_experts", n_experts, minimum=1)
        c = check_number("c", c, minimum=0, strict=True)
        w = standard_normal(n_experts, dim, generator=generator) / math.sqrt(dim)
        super().__init__([Linear(dim, n_experts, normalize=normalize_filters, weight=w)], n_experts, c=c,
                         normalize_filters=normalize_filters, learn_alpha=learn_alpha)
        self.dim = dim

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, **super().config()}

    @property
    def filters(self) -> Tensor:
        """Effective filters ``W``, shape (M, D) (unit-norm rows if ``normalize_filters``)."""
        return self.filter_layer.weight

    def energy(self, x: Tensor) -> Tensor:
        """Energies of a batch.

        Parameters
        ----------
        x : Tensor, shape (B, D)

        Returns
        -------
        Tensor, shape (B,)
        """
        return super().energy(x)

    def _check(self, x: Tensor) -> None:
        self.check_input(x, 1)
        if x.shape[1] != self.dim:
            raise ValueError(
                f"x must have shape (B, {self.dim}) for this {self.dim}-dimensional PoE, got {tuple(x.shape)}"
                + (" (flatten the patches first: x.flatten(1))" if x.dim() > 2 else "")
            )

    def log_likelihood(self, x: Tensor) -> Tensor:
        """Exact ``log p(x)`` of a square PoE with ``alpha = 1`` (SPEC section 3).

        .. math:: \\log p(x) = \\log|\\det W| - \\sum_i [g(w_i^T x) + \\log(\\pi \\sqrt{2} / c)]

        Parameters
        ----------
        x : Tensor, shape (B, D)

        Returns
        -------
        Tensor, shape (B,), in nats.
        """
        if self.n_experts != self.dim:
            raise ValueError(
                f"the exact likelihood needs a square model (n_experts == dim), got {self.n_experts} x {self.dim}"
            )
        if self.learn_alpha and bool((self.weighting.beta != 0).any()):
            raise ValueError(
                "the exact likelihood needs alpha = 1; build the model with learn_alpha=False"
            )
        logdet = torch.linalg.slogdet(self.filters).logabsdet
        return logdet - self.energy(x) - self.n_experts * student_t_log_normalizer(self.c)
