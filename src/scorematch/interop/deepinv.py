"""Our energies as deepinv priors (the optional extra ``scorematch[deepinv]``).

:class:`EnergyPrior` makes any :class:`~scorematch.energies.base.Energy` a ``deepinv.optim.Prior``: ``fn`` is the
energy (with the restoration solvers' boundary rule), ``grad`` its input gradient, so deepinv's solvers and physics
run with our priors. The other way round, :func:`scorematch.tasks.restore` takes a deepinv ``LinearPhysics`` as its
operator (anything with ``A`` and ``A_adjoint``).

Examples
--------
>>> import torch
>>> from scorematch.pretrained import load_pretrained
>>> from scorematch.interop.deepinv import EnergyPrior
>>> prior = EnergyPrior(load_pretrained("foe_5x5x24"))
>>> x = torch.rand(2, 3, 16, 16)  # a colour batch: a grey prior acts on each channel
>>> prior.fn(x).shape, prior.grad(x).shape
(torch.Size([2]), torch.Size([2, 3, 16, 16]))
"""

from __future__ import annotations

from torch import Tensor

from ..energies.base import Energy
from ..tasks._objective import DEFAULT_BOUNDARY, image_energy_and_grad, extend, per_channel, support_of

try:
    from deepinv.optim import Prior
except ImportError as exc:  # the optional extra is missing
    raise ImportError("scorematch.interop.deepinv needs deepinv: pip install 'scorematch[deepinv]'") from exc

__all__ = ["EnergyPrior"]


class EnergyPrior(Prior):
    """A deepinv prior ``g(x) = E(x)`` for images (B, C, H, W) on [0, 1].

    Parameters
    ----------
    energy : Energy
        A prior on [0, 1] images; a grey one (one input channel) is applied to each channel of a colour batch
        and its energies summed per image. It follows the input's dtype and device (a converted copy is kept).
    boundary : str
        How the prior treats the image border, as in :func:`scorematch.tasks.restore`.
    tile : int, optional
        Evaluate the gradient in tiles (bounded memory).
    """

    def __init__(self, energy: Energy, *, boundary: str = DEFAULT_BOUNDARY, tile: int | None = None) -> None:
        super().__init__()
        if not isinstance(energy, Energy):
            raise TypeError(f"energy must be a scorematch Energy, got {type(energy).__name__}")
        self.explicit_prior = True
        self.energy, self.boundary, self.tile = energy, boundary, tile
        self._converted: dict[tuple, Energy] = {}

    def _energy_for(self, x: Tensor) -> Energy:
        p = next(self.energy.parameters(), None)
        if p is None or (p.dtype, p.device) == (x.dtype, x.device):
            return self.energy
        key = (x.dtype, x.device)
        if key not in self._converted:
            self._converted[key] = _frozen_copy(self.energy).to(device=x.device, dtype=x.dtype)
        return self._converted[key]

    def fn(self, x: Tensor, *args, **kwargs) -> Tensor:
        """``E(x)`` per image, shape (B,); differentiable w.r.t. ``x``."""
        energy = self._energy_for(x)
        flat, c = per_channel(energy, x)
        if self.boundary != "valid":
            flat = extend(flat, support_of(energy) - 1, self.boundary)
        return energy.energy(flat).reshape(-1, c).sum(1)

    def grad(self, x: Tensor, *args, **kwargs) -> Tensor:
        """``dE/dx``, shaped like ``x`` (the layers' own gradient pass, no graph)."""
        return image_energy_and_grad(self._energy_for(x), x, tile=self.tile, boundary=self.boundary)[1]


def _frozen_copy(energy: Energy) -> Energy:
    import copy

    out = copy.deepcopy(energy)
    for p in out.parameters():
        p.requires_grad_(False)
    return out
