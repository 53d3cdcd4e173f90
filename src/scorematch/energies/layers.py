"""Layers that carry their own curvature rule (Becker & LeCun 1989, Kingma & LeCun 2010, Algorithm 1).

Every layer maps ``h -> g(h)`` in an ordinary ``forward`` and knows how to push the two quantities of
Algorithm 1 back from its output to its input:

.. math::

    \\delta_j = \\sum_k \\delta_k \\frac{\\partial g_k}{\\partial h_j}, \\qquad
    \\delta'_j = \\sum_k \\Big[\\delta'_k \\Big(\\frac{\\partial g_k}{\\partial h_j}\\Big)^2
                 + \\delta_k \\frac{\\partial^2 g_k}{\\partial h_j^2}\\Big].

``delta`` is exactly :math:`\\partial E / \\partial h`. ``delta2`` is the diagonal of
:math:`\\partial^2 E / \\partial h^2` under the rule's assumption that the Hessian at the layer's *output*
is diagonal. That assumption holds for the output of an elementwise expert feeding a weighted sum, so
one-layer models (PoE, FoE) get the exact diagonal; see :class:`~scorematch.energies.base.LayeredEnergy`.

``delta2=None`` stands for an all-zero curvature (the start of the pass) and saves work.
For a curvature pass each layer is first ``frozen()`` (derived weights such as normalized filters are
computed once) and consecutive linear ops are fused into one (``fuse``), which keeps the rule exact
for e.g. a fixed whitening filter followed by learned filters.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CurvatureLayer",
    "Linear",
    "LinearOp",
    "ConvOp",
    "bank_adjoint",
    "Conv2d",
    "Elementwise",
    "StudentT",
    "Square",
    "Log1p",
    "Softplus",
    "Affine",
    "WeightedSum",
    "normalize_rows",
    "standard_normal",
]

Pair = tuple[Tensor, "Tensor | None"]


def standard_normal(*shape: int, generator: torch.Generator | None = None) -> Tensor:
    """``torch.randn(*shape)`` from ``generator`` (default: the global one), for initial weights.

    Without a generator the ``generator`` keyword is left out: passed (even as None) under the ``meta`` device,
    where :func:`scorematch.load` first builds a file's energy to check its shapes, it sends ``randn`` through
    ``torch._refs``, which imports ``torch._dynamo`` (about 2 s of every command's start-up).
    """
    return torch.randn(shape) if generator is None else torch.randn(shape, generator=generator)


def normalize_rows(w: Tensor, eps: float = 1e-12) -> Tensor:
    """Scale each filter ``w[i]`` (all dimensions after the first) to unit L2 norm.

    Parameters
    ----------
    w : Tensor, shape (M, ...)

    Returns
    -------
    Tensor, shape (M, ...), each ``w[i]`` with norm 1.
    """
    norms = w.flatten(1).norm(dim=1).clamp_min(eps)  # (M,)
    return w / norms.view(-1, *([1] * (w.dim() - 1)))


class CurvatureLayer(nn.Module):
    """A feed-forward layer with a curvature-backpropagation rule.

    Subclasses implement ``forward(h)`` and ``backward_curvature(h, delta, delta2)``, where ``h`` is the
    layer's input and ``delta``/``delta2`` are shaped like its output (batch first); :meth:`backward` is the
    first-order part alone (override it where that is cheaper).
    """

    #: True when the layer is linear in its input (its second derivative is zero).
    is_linear: bool = False
    #: True when ``backward_curvature`` reads the values of ``h`` (not just its shape).
    needs_input: bool = False
    #: True when the output has the input's shape (lets the curvature pass skip computing it).
    shape_preserving: bool = False

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        raise NotImplementedError

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        """``delta_in = (d output / d h)^T delta``, shaped like ``h`` (the gradient pass)."""
        return self.backward_curvature(h, delta, None)[0]

    def frozen(self) -> "CurvatureLayer | LinearOp | ConvOp":
        """The layer for one curvature pass, with derived weights computed once (default: itself)."""
        return self

    def fuse(self, nxt: Any) -> Any:
        """Return one op equal to ``nxt(self(h))``, or None when they cannot be fused."""
        return None


class Linear(CurvatureLayer):
    """``g = h W^T (+ b)`` on ``h`` of shape (B, D_in), output (B, D_out).

    Parameters
    ----------
    in_features, out_features : int
    normalize : bool
        Use unit-norm rows of the raw weight as the effective filters (a normalized parameterization).
    bias : bool
        Add a learned bias (it does not change input derivatives).
    weight : Tensor, optional, shape (out_features, in_features)
        Initial raw weight; default is standard normal.
    trainable : bool
        If False the weight is a fixed buffer (e.g. a whitening transform).
    positive : bool
        Parameterize the weight as ``exp(raw)`` (non-negative pooling weights of two-layer models).
    """

    is_linear = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        normalize: bool = False,
        bias: bool = False,
        weight: Tensor | None = None,
        trainable: bool = True,
        positive: bool = False,
    ) -> None:
        super().__init__()
        if weight is None:
            weight = torch.randn(out_features, in_features)
        if weight.shape != (out_features, in_features):
            raise ValueError(f"weight must have shape {(out_features, in_features)}, got {tuple(weight.shape)}")
        self.normalize = normalize
        self.positive = positive
        if trainable:
            self.raw_weight = nn.Parameter(weight.clone())
        else:
            self.register_buffer("raw_weight", weight.clone())
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=weight.dtype)) if bias else None

    @property
    def weight(self) -> Tensor:
        """Effective weight, shape (D_out, D_in)."""
        w = self.raw_weight.exp() if self.positive else self.raw_weight
        return normalize_rows(w) if self.normalize else w

    def forward(self, h: Tensor) -> Tensor:
        return F.linear(h, self.weight, self.bias)

    def frozen(self) -> "LinearOp":
        return LinearOp(self.weight, self.bias)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        return self.frozen().backward_curvature(h, delta, delta2)


class LinearOp:
    """A linear map with fixed (already computed) weight, used inside one curvature pass."""

    is_linear, needs_input, shape_preserving = True, False, False

    def __init__(self, weight: Tensor, bias: Tensor | None = None) -> None:
        self.weight, self.bias = weight, bias  # (D_out, D_in), (D_out,)

    def __call__(self, h: Tensor) -> Tensor:
        return F.linear(h, self.weight, self.bias)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        w = self.weight
        return delta @ w, None if delta2 is None else delta2 @ (w * w)

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        return delta @ self.weight

    def fuse(self, nxt: Any) -> "LinearOp | None":
        if not isinstance(nxt, LinearOp):
            return None
        bias = None if self.bias is None else self.bias @ nxt.weight.T
        if nxt.bias is not None:
            bias = nxt.bias if bias is None else bias + nxt.bias
        return LinearOp(nxt.weight @ self.weight, bias)


def compose_kernels(first: Tensor, second: Tensor) -> Tensor:
    """Kernel of ``conv(conv(x, first), second)`` (cross-correlations, 'valid', stride 1).

    Parameters
    ----------
    first : Tensor, shape (C_mid, C_in, a, a)
    second : Tensor, shape (C_out, C_mid, b, b)

    Returns
    -------
    Tensor, shape (C_out, C_in, a + b - 1, a + b - 1)
    """
    # k[o, i, s] = sum_m sum_q second[o, m, q] * first[m, i, s - q]: a full convolution over space.
    out = F.conv_transpose2d(first.transpose(0, 1), second.transpose(0, 1))  # (C_in, C_out, a+b-1, a+b-1)
    return out.transpose(0, 1)


def flush_subnormal(t: Tensor) -> Tensor:
    """``t`` with its subnormal entries (nonzero, below the dtype's smallest normal number) set to 0."""
    return torch.where(t.abs() < torch.finfo(t.dtype).tiny, torch.zeros_like(t), t)


class Conv2d(CurvatureLayer):
    """Valid 2-D cross-correlation, no bias: ``(B, C_in, H, W) -> (B, C_out, H-k+1, W-k+1)``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
    normalize : bool
        Use unit-norm filters ``weight[o]`` (over input channels and space).
    zero_mean : bool
        Use filters with zero sum (``weight[o]`` minus its mean): the output ignores a constant added to the input.
    weight : Tensor, optional, shape (C_out, C_in, k, k)
    trainable : bool
        If False the kernel is a fixed buffer (e.g. the whitening filter).
    """

    is_linear = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        normalize: bool = False,
        zero_mean: bool = False,
        weight: Tensor | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__()
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        if weight is None:
            weight = torch.randn(shape)
        if tuple(weight.shape) != shape:
            raise ValueError(f"weight must have shape {shape}, got {tuple(weight.shape)}")
        self.normalize, self.zero_mean = normalize, zero_mean
        if trainable:
            self.raw_weight = nn.Parameter(weight.clone())
        else:
            self.register_buffer("raw_weight", weight.clone())

    @property
    def weight(self) -> Tensor:
        """Effective kernel, shape (C_out, C_in, k, k)."""
        w = self.raw_weight
        if self.zero_mean:
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)
        return normalize_rows(w) if self.normalize else w

    def forward(self, h: Tensor) -> Tensor:
        return F.conv2d(h, self.weight)

    def frozen(self) -> "ConvOp":
        return ConvOp(self.weight)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        return self.frozen().backward_curvature(h, delta, delta2)


class ConvOp:
    """A valid correlation with a fixed (already computed) kernel, used inside one curvature pass.

    The correlation is ``F.conv2d``. Its adjoint is ``F.conv_transpose2d`` with autograd on (training: the
    fastest measured for training shapes); outside autograd (the restoration solvers' pass), a bank of filters
    uses :func:`bank_adjoint` and a single filter a full correlation with the flipped kernel, each several
    times faster than ``F.conv_transpose2d`` on these CPU cores (``benchmarks/conv_adjoint.py``).
    """

    is_linear, needs_input, shape_preserving = True, False, False

    def __init__(self, weight: Tensor) -> None:
        # (C_out, C_in, k, k). Outside autograd, subnormal entries (a trained filter that decayed to zero)
        # become 0: products with them are subnormal numbers, which the CPU handles about 4x slower (the
        # bundled foe_5x5x24 has 27), and they change no sum.
        self.weight = weight if torch.is_grad_enabled() else flush_subnormal(weight)

    def __call__(self, h: Tensor) -> Tensor:
        return F.conv2d(h, self.weight)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        # The adjoint of a valid correlation is a full transposed one: (B, C_out, h, w) -> (B, C_in, H, W).
        w = self.weight
        return F.conv_transpose2d(delta, w), None if delta2 is None else F.conv_transpose2d(delta2, w * w)

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        w = self.weight
        if torch.is_grad_enabled():
            return F.conv_transpose2d(delta, w)
        if w.shape[0] == 1:
            return F.conv2d(F.pad(delta, (w.shape[-1] - 1,) * 4), w.transpose(0, 1).flip(-1, -2))
        return bank_adjoint(delta, w)

    def fuse(self, nxt: Any) -> "ConvOp | None":
        return ConvOp(compose_kernels(self.weight, nxt.weight)) if isinstance(nxt, ConvOp) else None


def bank_adjoint(delta: Tensor, w: Tensor) -> Tensor:
    """``F.conv_transpose2d(delta, w)`` as one matrix product ``w^T delta`` over all filters, whose ``k^2``
    planes are then added into the output at their offsets.

    Parameters
    ----------
    delta : Tensor, shape (B, C_out, h, w)
    w : Tensor, shape (C_out, C_in, k, k)

    Returns
    -------
    Tensor, shape (B, C_in, h + k - 1, w + k - 1)
    """
    b, c_out, oh, ow = delta.shape
    _, c_in, k, _ = w.shape
    planes = (w.reshape(c_out, -1).t() @ delta.reshape(b, c_out, oh * ow)).reshape(b, c_in, k, k, oh, ow)
    out = delta.new_zeros(b, c_in, oh + k - 1, ow + k - 1)
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + oh, j : j + ow] += planes[:, :, i, j]
    return out


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
        # Stable at any |h|, with autograd derivatives sigmoid(h) (F.softplus returns h, derivative 1, for h > 20;
        # torch.logaddexp's second derivative overflows).
        return torch.relu(h) + torch.exp(-h.abs()).log1p()

    def derivatives(self, h: Tensor) -> tuple[Tensor, Tensor]:
        s = torch.sigmoid(h)
        return s, s * torch.sigmoid(-h)  # not s (1 - s): 1 - s cancels for large h


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
