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

Modules: ``core`` (the contract), ``linear`` (dense and convolutional filters), ``pointwise`` (experts,
activations, affine maps, the weighted sum).
"""

from .core import CurvatureLayer, Pair, normalize_rows, standard_normal
from .linear import ConvChain, ConvOp, Conv2d, Linear, LinearOp, bank_adjoint, compose_kernels, flush_subnormal
from .pointwise import Affine, Elementwise, Log1p, Softplus, Square, StudentT, WeightedSum

__all__ = [
    "CurvatureLayer",
    "Linear",
    "LinearOp",
    "ConvChain",
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
    "compose_kernels",
    "flush_subnormal",
    "Pair",
]
