"""The layer contract of Algorithm 1 (:class:`CurvatureLayer`) and the helpers every layer uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

if TYPE_CHECKING:  # the frozen operators of the linear layers
    from .linear import ConvOp, LinearOp


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
