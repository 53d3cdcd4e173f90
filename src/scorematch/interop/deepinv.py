"""Our energies as deepinv priors (the optional extra ``scorematch[deepinv]``).

:class:`EnergyPrior` makes any :class:`~scorematch.prior.ImagePrior` (or energy) a ``deepinv.optim.Prior``: ``fn`` is
the energy (with the prior's own boundary rule), ``grad`` its input gradient, so deepinv's solvers and physics
run with our priors. The other way round, :func:`scorematch.tasks.restore` takes a deepinv ``LinearPhysics`` as its
operator (anything with ``A`` and ``A_adjoint``).

Examples
--------
>>> import torch
>>> from scorematch import load_prior
>>> from scorematch.interop.deepinv import EnergyPrior
>>> prior = EnergyPrior(load_prior("foe_5x5x24"))
>>> x = torch.rand(2, 3, 16, 16)  # a colour batch: a grey prior acts on each channel
>>> prior.fn(x).shape, prior.grad(x).shape
(torch.Size([2]), torch.Size([2, 3, 16, 16]))
"""

from __future__ import annotations

from torch import Tensor

from ..energies.base import Energy
from ..prior import ImagePrior, as_prior
from ..prior.evaluation import energy_with_boundary

try:
    from deepinv.optim import Prior
except ImportError as exc:  # the optional extra is missing
    raise ImportError("scorematch.interop.deepinv needs deepinv: pip install 'scorematch[deepinv]'") from exc

__all__ = ["EnergyPrior"]


class EnergyPrior(Prior):
    """A deepinv prior ``g(x) = E(x)`` for images (B, C, H, W) on [0, 1].

    Parameters
    ----------
    prior : ImagePrior or Energy
        A prior on [0, 1] images (an energy gets the default rules of :class:`~scorematch.prior.ImagePrior`); a grey
        one (one input channel) is applied to each channel of a colour batch and its energies summed per image; a
        noise-conditional one at its lowest level (``prior.at(level)`` for another). Its boundary rule and tiling
        are the prior's. It follows the input's dtype and device (a converted copy is kept).
    """

    def __init__(self, prior: ImagePrior | Energy) -> None:
        super().__init__()
        self.explicit_prior = True
        self.prior = as_prior(prior).field()
        self._converted: dict[tuple, ImagePrior] = {}

    def _prior_for(self, x: Tensor) -> ImagePrior:
        p = next(self.prior.energy.parameters(), None)
        if p is None or (p.dtype, p.device) == (x.dtype, x.device):
            return self.prior
        key = (x.dtype, x.device)
        if key not in self._converted:
            self._converted[key] = _frozen_copy(self.prior).to(device=x.device, dtype=x.dtype)
        return self._converted[key]

    def fn(self, x: Tensor, *args, **kwargs) -> Tensor:
        """``E(x)`` per image, shape (B,); differentiable w.r.t. ``x`` (the prior's boundary rule, untiled)."""
        prior = self._prior_for(x)
        return energy_with_boundary(prior.energy, x, prior.boundary)

    def grad(self, x: Tensor, *args, **kwargs) -> Tensor:
        """``dE/dx``, shaped like ``x`` (:meth:`scorematch.prior.ImagePrior.energy_and_grad`, no graph)."""
        return self._prior_for(x).energy_and_grad(x)[1]


def _frozen_copy(prior: ImagePrior) -> ImagePrior:
    import copy

    return ImagePrior(copy.deepcopy(prior.energy), presets=prior.presets, boundary=prior.boundary, tile=prior.tile,
                      name=prior.name)
