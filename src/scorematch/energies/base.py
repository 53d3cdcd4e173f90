"""The energy contract and feed-forward energies with a curvature-backpropagation fast path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..validation import all_finite
from .layers import CurvatureLayer, Elementwise, WeightedSum

__all__ = ["Energy", "LayeredEnergy", "NoiseConditionalEnergy", "PaddedImageEnergy"]


class Energy(nn.Module):
    """Unnormalized negative log-density: ``p(x) = exp(-E(x)) / Z``.

    Subclasses implement :meth:`energy`, mapping a batch ``x`` of shape (B, ...) to energies of
    shape (B,). :meth:`score` is ``-dE/dx`` by autograd.

    An energy of images (B, C, H, W) declares :attr:`in_channels` (``C``) and, when it sums a term over the image's
    windows (a field), :attr:`support`; the image priors (:class:`scorematch.prior.ImagePrior`) read them for the
    boundary rule, tiling and the channel policy.
    """

    #: Side of the window one term of a field energy sees (what tiling overlaps and the boundary rule extends by);
    #: None for an energy that is not a field.
    support: int | None = None
    #: Channels of the images the energy takes (1 grey, 3 colour); None for an energy of vectors.
    in_channels: int | None = None

    def energy(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.energy(x)

    def score(self, x: Tensor) -> Tensor:
        """``-dE/dx``, shaped like ``x``; differentiable (built with ``create_graph=True``)."""
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(self.energy(x).sum(), x, create_graph=True)
        return -g

    def energy_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(E(x), dE/dx)`` without a graph (by autograd here), shapes (B,) and like ``x``; the parameters
        get no gradient. The restoration solvers and samplers call this once per step."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            e = self.energy(x)
            (g,) = torch.autograd.grad(e.sum(), x)
        return e.detach(), g.detach()

    def curvature_derivatives(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(dE/dx, diag d2E/dx2)`` by a curvature rule (Algorithm 1), for energies that have one
        (:class:`LayeredEnergy`); TypeError otherwise."""
        raise TypeError(f"{type(self).__name__} has no curvature rule (build it from scorematch.energies.layers); "
                        'use method="exact" or method="hutchinson"')

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this energy (used by :func:`scorematch.save`)."""
        raise NotImplementedError(f"{type(self).__name__} does not describe its configuration")

    def check_input(self, x: Tensor, event_dims: int) -> None:
        """Raise a clear error unless ``x`` is a finite floating tensor of shape (B, ...) matching the parameters
        (dtype and device); ``event_dims`` is the number of dimensions after the batch one."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
        if x.dim() != event_dims + 1:
            raise ValueError(
                f"{type(self).__name__} expects a batch of shape (B, ...) with {event_dims + 1} dimensions, "
                f"got shape {tuple(x.shape)}"
            )
        if x.shape[0] == 0:
            raise ValueError(f"x is an empty batch (shape {tuple(x.shape)}); pass at least one sample")
        p = next(self.parameters(), None)
        if p is not None and p.dtype != x.dtype:
            raise TypeError(
                f"x has dtype {x.dtype} but the energy's parameters are {p.dtype}; "
                f"convert one of them (e.g. energy.to({x.dtype}))"
            )
        if p is not None and p.device != x.device:
            raise ValueError(f"x is on {x.device} but the energy is on {p.device}; move one (e.g. x.to({str(p.device)!r}))")
        if all_finite(x) is False:
            raise ValueError(
                f"x contains NaN or inf values (in {int((~torch.isfinite(x)).flatten(1).any(1).sum())} of "
                f"{x.shape[0]} samples); clean the data, or check the step size of the computation producing x"
            )


class LayeredEnergy(Energy):
    """An energy computed by a chain of :class:`~scorematch.energies.layers.CurvatureLayer`.

    The last layer must output shape (B,). Such an energy gets Algorithm 1 of Kingma & LeCun (2010)
    for free: :meth:`curvature_derivatives` returns ``dE/dx`` exactly and the Becker-LeCun diagonal of
    ``d2E/dx2`` in one forward and one backward pass, as differentiable tensor operations.

    Notes
    -----
    The diagonal rule is exact when, after fusing consecutive linear layers, every nonlinearity feeds
    the energy through a linear map with no further nonlinearity that mixes its outputs: then the
    Hessian w.r.t. each hidden layer is diagonal. That covers the PoE and FoE (linear filters, an
    elementwise expert, a weighted sum) with or without a fixed linear whitening in front. For deeper
    energies (e.g. :class:`~scorematch.energies.TwoLayerEnergy`, where squared filter outputs are
    pooled and passed through a second nonlinearity) the off-diagonal Hessian terms of the hidden
    layers are dropped and the diagonal is an approximation.
    """

    def __init__(self, layers: Sequence[CurvatureLayer]) -> None:
        super().__init__()
        if not layers:
            raise ValueError("a LayeredEnergy needs at least one layer")
        self.layers = nn.ModuleList(layers)

    def _check(self, x: Tensor) -> None:
        """Raise a clear error for an input this energy cannot take (subclasses check shapes; default: none)."""

    def energy(self, x: Tensor) -> Tensor:
        self._check(x)
        h = x
        for layer in self.layers:
            h = layer(h)
        return h

    def energy_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(E(x), dE/dx)`` by one forward and one backward pass of the layers' own rules
        (:meth:`~scorematch.energies.layers.CurvatureLayer.backward`), without autograd: about half the time
        of the autograd pass on an image FoE. An elementwise expert followed by the weighted sum (the FoE's and
        PoE's head) is one step (:meth:`~scorematch.energies.layers.Elementwise.weighted_sum_and_grad`). Not
        differentiable; shapes (B,) and like ``x``."""
        self._check(x)
        with torch.no_grad():
            ops = [layer.frozen() for layer in self.layers]
            head = ops[-2:] if len(ops) > 1 and isinstance(ops[-1], WeightedSum) and isinstance(
                ops[-2], Elementwise) else []
            body = ops[: len(ops) - len(head)]
            inputs, h = [], x
            for op in body:
                inputs.append(h)
                h = op(h)
            e, delta = head[0].weighted_sum_and_grad(h, head[1].alpha) if head else (h, torch.ones_like(h))
            for op, h_in in zip(reversed(body), reversed(inputs)):
                delta = op.backward(h_in, delta)
        return e, delta

    def fused_layers(self) -> list[Any]:
        """The layers ``frozen()`` for one pass, with each run of consecutive linear ops fused into one."""
        out: list[Any] = []
        for layer in self.layers:
            op = layer.frozen()
            fused = out[-1].fuse(op) if out else None
            if fused is not None:
                out[-1] = fused
            else:
                out.append(op)
        return out

    def curvature_derivatives(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Algorithm 1: ``(dE/dx, diag d2E/dx2)``, both shaped like ``x``.

        Parameters
        ----------
        x : Tensor, shape (B, ...)

        Returns
        -------
        grad, diag : Tensor, each shaped like ``x``; differentiable w.r.t. the parameters.
        """
        self._check(x)
        layers = self.fused_layers()
        last_needed = max((i for i, op in enumerate(layers) if op.needs_input), default=-1)
        inputs = [x]
        h = x
        for i, op in enumerate(layers[:-1]):  # forward pass, keeping each layer's input (not the energy)
            if i >= last_needed and op.shape_preserving:
                h = h.new_zeros(()).expand(h.shape)  # only the shape is used from here on
            else:
                h = op(h)
            inputs.append(h)
        delta: Tensor = torch.ones(x.shape[:1], dtype=x.dtype, device=x.device)  # dE/dE = 1, shape (B,)
        delta2: Tensor | None = None  # d2E/dE2 = 0
        for layer, h_in in zip(reversed(layers), reversed(inputs)):
            delta, delta2 = layer.backward_curvature(h_in, delta, delta2)
        if delta2 is None:  # an energy linear in x
            delta2 = torch.zeros_like(x)
        return delta, delta2

    def prepend(self, *layers: CurvatureLayer) -> "LayeredEnergy":
        """A new energy ``E(layers(x))`` that shares this energy's layers (and parameters)."""
        return LayeredEnergy([*layers, *self.layers])


class NoiseConditionalEnergy(Energy):
    """An energy of noisy images, trained across the noise levels ``[sigma_min, sigma_max]``.

    Subclasses implement :meth:`at` (the energy ``E_sigma`` of images with Gaussian noise of std ``sigma``, an
    image energy of its own) and :meth:`scaled` (``F(u) = E_sigma(sigma u)``, the same in units of the noise std,
    what :func:`~scorematch.estimators.noise_conditional_loss` trains); :meth:`energy` is ``E`` at ``sigma_min``.
    Tweedie's formula makes ``y - sigma^2 dE_sigma/dy`` the posterior mean of a noisy image ``y``.
    """

    sigma_min: float
    sigma_max: float

    def at(self, sigma: float | Tensor) -> Energy:
        """The energy at noise std ``sigma``: a float, or a Tensor of shape (B,) (one level per sample)."""
        raise NotImplementedError

    def scaled(self, sigma: float | Tensor) -> Energy:
        """``F(u) = E_sigma(sigma u)``: the energy in units of the noise std."""
        raise NotImplementedError

    def energy(self, x: Tensor) -> Tensor:
        """x : Tensor, shape (B, C, H, W) -> Tensor, shape (B,): ``E`` at ``sigma_min``."""
        return self.at(self.sigma_min).energy(x)


class PaddedImageEnergy(Energy):
    """An image energy ``E(x) = sum_p e_p(x)`` whose terms come from a network that pads its convolutions, so it
    takes an image of any size as it is; an image prior may still extend the image as context for the border
    (:func:`scorematch.prior.evaluation.margin`).

    Subclasses implement :meth:`energy_map` and set :attr:`context`, the pixels around a pixel that its term reads
    (in practice: far beyond that, its influence is negligible); tiles overlap by it.
    """

    context: int

    def energy_map(self, x: Tensor) -> Tensor:
        """The per-pixel terms: x (B, C, H, W) -> (B, H, W)."""
        raise NotImplementedError

    def energy(self, x: Tensor) -> Tensor:
        """x : Tensor, shape (B, C, H, W) -> Tensor, shape (B,): the sum of :meth:`energy_map`."""
        return self.energy_map(x).sum((-2, -1))
