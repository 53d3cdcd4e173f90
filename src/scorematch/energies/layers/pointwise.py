"""Elementwise layers (experts and activations), per-channel affine maps and the weighted sum that ends an energy."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from .core import Pair, CurvatureLayer


class Elementwise(CurvatureLayer):
    """An elementwise nonlinearity ``g_j = f(h_j)``; subclasses give ``f``, ``f'`` and ``f''``.

    Rule: ``delta_in = f'(h) delta``, ``delta2_in = f'(h)^2 delta2 + f''(h) delta``.
    """

    needs_input = True
    shape_preserving = True

    def f(self, h: Tensor) -> Tensor:
        raise NotImplementedError

    def derivatives(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(f'(h), f''(h))``, each shaped like ``h``."""
        raise NotImplementedError

    def forward(self, h: Tensor) -> Tensor:
        return self.f(h)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        d1, d2 = self.derivatives(h)
        curv = d2 * delta
        if delta2 is not None:
            curv = curv + d1 * d1 * delta2
        return d1 * delta, curv

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        return self.derivatives(h)[0] * delta

    def weighted_sum_and_grad(self, h: Tensor, alpha: Tensor) -> Pair:
        """``E = sum_j alpha_j sum_p f(h_jp)`` (this layer followed by :class:`WeightedSum`) and ``dE/dh``,
        outside autograd.

        Parameters
        ----------
        h : Tensor, shape (B, M, *spatial)
        alpha : Tensor, shape (M,)

        Returns
        -------
        energy : Tensor, shape (B,)
        grad : Tensor, shaped like ``h``
        """
        return _sum_features(self.f(h), alpha), self.derivatives(h)[0] * _per_feature(alpha, h)


def _per_feature(a: Tensor, h: Tensor) -> Tensor:
    """``a`` (M,) shaped to scale dimension 1 of ``h`` (B, M, *spatial): (1, M, 1, ...)."""
    return a.view(1, -1, *([1] * (h.dim() - 2)))


def _sum_features(h: Tensor, alpha: Tensor) -> Tensor:
    """``sum_j alpha_j sum_p h_jp``: (B, M, *spatial) -> (B,)."""
    return h.flatten(2).sum(2) @ alpha if h.dim() > 2 else h @ alpha


class StudentT(Elementwise):
    """The Student-t (Cauchy-like) expert of eq. 8: ``f(z) = log(1 + (c z)^2 / 2)``.

    With ``u = (c z)^2 / 2``: ``f' = c^2 z / (1 + u)`` and ``f'' = c^2 (1 - u) / (1 + u)^2``.

    Parameters
    ----------
    c : float
        Fixed scale, ``exp(1.5)`` in the paper.
    """

    def __init__(self, c: float = math.exp(1.5)) -> None:
        super().__init__()
        if not c > 0:
            raise ValueError(f"c must be positive, got {c}")
        self.c = float(c)

    def f(self, h: Tensor) -> Tensor:
        return (h * h).mul_(0.5 * self.c * self.c).log1p_()  # three passes over h (its size dominates)

    def derivatives(self, h: Tensor) -> tuple[Tensor, Tensor]:
        c2 = self.c * self.c
        u = 0.5 * c2 * h * h
        inv = 1.0 / (1.0 + u)
        d1 = c2 * h * inv
        d2 = c2 * (1.0 - u) * inv * inv
        return d1, d2

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        # Same rule as Elementwise, in the fewest passes over h: with q = 2 / (h^2 + 2 / c^2) = c^2 / (1 + u),
        # f' = q h and f'' = q (2 q / c^2 - 1).
        c2 = self.c * self.c
        q = 2.0 / (h * h + 2.0 / c2)
        s = delta * q
        d_in = s * h  # f'(h) delta
        curv = torch.addcmul(-s, s, q, value=2.0 / c2)  # f''(h) delta
        if delta2 is not None:
            d1 = q * h
            curv = curv + d1 * d1 * delta2
        return d_in, curv

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        c2 = self.c * self.c
        one_plus_u = torch.addcmul(h.new_ones(()), h, h, value=0.5 * c2)
        return (h * c2).mul_(delta).div_(one_plus_u)  # f'(h) delta (delta may be an expanded view)

    def weighted_sum_and_grad(self, h: Tensor, alpha: Tensor) -> Pair:
        # Four passes over h: t = 1 + u, f' = c^2 h / t (times alpha), f = log t (1 + u rounded to the dtype).
        c2 = self.c * self.c
        t = torch.addcmul(h.new_ones(()), h, h, value=0.5 * c2)
        grad = torch.div(h, t).mul_(_per_feature(c2 * alpha, h))
        return _sum_features(t.log_(), alpha), grad

    def extra_repr(self) -> str:
        return f"c={self.c:.6g}"


class Square(Elementwise):
    """``f(h) = h^2`` (energy detectors of two-layer models)."""

    def f(self, h: Tensor) -> Tensor:
        return h * h

    def derivatives(self, h: Tensor) -> tuple[Tensor, Tensor]:
        return 2.0 * h, torch.full_like(h, 2.0)


class Log1p(Elementwise):
    """``f(h) = log(1 + h)`` for ``h >= 0`` (a heavy-tailed pooled nonlinearity)."""

    def f(self, h: Tensor) -> Tensor:
        return torch.log1p(h)

    def derivatives(self, h: Tensor) -> tuple[Tensor, Tensor]:
        inv = 1.0 / (1.0 + h)
        return inv, -inv * inv


class Softplus(Elementwise):
    """``f(h) = log(1 + e^h)``: ``f' = s(h)``, ``f'' = s(h) s(-h)`` with ``s`` the logistic sigmoid."""

    def f(self, h: Tensor) -> Tensor:
        if h.requires_grad:
            # Stable at any |h|, with autograd derivatives sigmoid(h) and its own exactly (F.softplus's second
            # derivative loses digits: 1e-3 relative at h = 30; torch.logaddexp's overflows).
            return torch.relu(h) + torch.exp(-h.abs()).log1p()
        # Outside autograd (the solvers' pass): one pass over h instead of six; the elementwise passes, not the
        # convolutions, set a deep energy's time. Above 40 F.softplus returns h, off by log1p(e^-h) < 5e-18.
        return F.softplus(h, threshold=40.0)

    def derivatives(self, h: Tensor) -> tuple[Tensor, Tensor]:
        s = torch.sigmoid(h)
        return s, s * torch.sigmoid(-h)  # not s (1 - s): 1 - s cancels for large h

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        return torch.sigmoid(h) * delta  # f'(h) delta, without the f'' that derivatives() computes


class Affine(CurvatureLayer):
    """``g = scale * h + shift`` with fixed tensors that broadcast against ``h`` (e.g. shape (B, C, 1, 1):
    one value per sample and channel); either may be None (1 and 0).

    They are tensors, not parameters, so a module can compute them from its own parameters and a
    conditioning input (the noise level of :class:`~scorematch.energies.DeepEnergy`) and the rule stays
    differentiable through them. Rule: ``delta_in = scale delta``, ``delta2_in = scale^2 delta2``.
    """

    is_linear, shape_preserving = True, True

    def __init__(self, scale: Tensor | float | None = None, shift: Tensor | None = None) -> None:
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, h: Tensor) -> Tensor:
        if self.scale is not None:
            h = h * self.scale
        return h if self.shift is None else h + self.shift

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        if self.scale is None:
            return delta, delta2
        return delta * self.scale, None if delta2 is None else delta2 * (self.scale * self.scale)

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        return delta if self.scale is None else delta * self.scale


class WeightedSum(CurvatureLayer):
    """``E = sum_i alpha_i sum_p h_{i,p}``: (B, M, *spatial) -> (B,), with ``alpha = exp(beta)``.

    Parameters
    ----------
    n_features : int
        M, the size of dimension 1 of the input.
    learn_alpha : bool
        If False, alpha is fixed to 1.
    """

    is_linear = True

    def __init__(self, n_features: int, *, learn_alpha: bool = True) -> None:
        super().__init__()
        self.n_features = n_features
        if learn_alpha:
            self.beta = nn.Parameter(torch.zeros(n_features))
        else:
            self.register_buffer("beta", torch.zeros(n_features))

    @property
    def alpha(self) -> Tensor:
        """Expert weights, shape (M,)."""
        return self.beta.exp()


    def forward(self, h: Tensor) -> Tensor:
        return _sum_features(h, self.alpha)  # (B,), one pass over h

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        a = _per_feature(self.alpha, h)
        view = (-1,) + (1,) * (h.dim() - 1)
        d = delta.view(view) * a
        d = d.expand_as(h)
        d2 = None if delta2 is None else (delta2.view(view) * a * a).expand_as(h)
        return d, d2
