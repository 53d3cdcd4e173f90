"""What the Product of Experts and the Field of Experts share: filters -> Student-t experts -> weighted sum."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from .base import LayeredEnergy
from .layers import CurvatureLayer, StudentT, WeightedSum

__all__ = ["StudentTExperts", "DEFAULT_C"]

#: The paper's fixed expert scale ``c = e^1.5``.
DEFAULT_C = math.exp(1.5)


class StudentTExperts(LayeredEnergy):
    """``E = sum_i alpha_i g(filter_i(x))``: the given filter layers, Student-t experts, a weighted sum.

    Parameters
    ----------
    filter_layers : sequence of CurvatureLayer
        Maps the input to M expert inputs along dimension 1 (fixed front layers, then the learned filters).
    n_experts : int
    c, normalize_filters, learn_alpha
        The expert scale and the settings recorded in :meth:`config`.
    """

    def __init__(self, filter_layers: Sequence[CurvatureLayer], n_experts: int, *, c: float,
                 normalize_filters: bool, learn_alpha: bool) -> None:
        super().__init__([*filter_layers, StudentT(c), WeightedSum(n_experts, learn_alpha=learn_alpha)])
        self.n_experts, self.c = n_experts, float(c)
        self.normalize_filters, self.learn_alpha = normalize_filters, learn_alpha

    def config(self) -> dict[str, Any]:
        return {"n_experts": self.n_experts, "c": self.c, "normalize_filters": self.normalize_filters,
                "learn_alpha": self.learn_alpha}

    @property
    def filter_layer(self) -> CurvatureLayer:
        """The learned filters: the layer just before the experts."""
        return self.layers[-3]

    @property
    def expert(self) -> StudentT:
        """The Student-t nonlinearity ``g``."""
        return self.layers[-2]

    @property
    def weighting(self) -> WeightedSum:
        """The weighted sum over the experts (its ``beta`` is ``log alpha``)."""
        return self.layers[-1]

    @property
    def alpha(self) -> Tensor:
        """Expert weights, shape (M,)."""
        return self.weighting.alpha
