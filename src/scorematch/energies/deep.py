"""A deep, noise-conditional convolutional energy built only from curvature layers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..validation import check_int, check_number
from .base import LayeredEnergy, NoiseConditionalEnergy
from .experts import DEFAULT_C
from .layers import Affine, Conv2d, Softplus, StudentT, WeightedSum, standard_normal

__all__ = ["DeepEnergy", "ConditionedField"]

#: The experts' initial weight (with 1, the first DSM losses are ~100x the no-model loss and Adam spends its
#: first hundred steps undoing it).
INITIAL_ALPHA = 0.02


class ConditionedField(LayeredEnergy):
    """A :class:`DeepEnergy` at fixed noise levels: an ordinary field energy on (B, C, H, W) images.

    It shares the deep energy's parameters; :attr:`support` and :attr:`in_channels` tell the restoration
    solvers how far one pixel's influence reaches and how many channels the images have.
    """

    def __init__(self, layers: list, support: int, in_channels: int = 1) -> None:
        super().__init__(layers)
        self.support, self.in_channels = support, in_channels

    def _check(self, x: Tensor) -> None:
        self.check_input(x, 3)
        c = self.in_channels
        if x.shape[1] != c or min(x.shape[2:]) < self.support:
            raise ValueError(f"x must have shape (B, {c}, H, W) with H, W >= {self.support}, got {tuple(x.shape)}")


class DeepEnergy(NoiseConditionalEnergy):
    """``E_sigma(x) = sum_c alpha_c sum_p f(h_c(x / sigma, sigma)_p)``: a convolutional network of ``depth``
    valid ``k x k`` convolutions, each followed by a per-channel shift that depends on ``log sigma``, softplus
    between them and the Student-t expert ``f`` with weights ``alpha`` on the last one.

    The energy of images with Gaussian noise of std ``sigma`` (on the [0, 1] scale): trained across a range of
    noise levels (:func:`~scorematch.estimators.noise_conditional_loss`), ``sigma^2 dE_sigma/dx`` estimates
    the noise (Tweedie's formula). The input is divided by ``sigma``, so one set of filters serves every level;
    the first filters have zero sum (over all input channels), so the energy ignores the image's brightness.
    With ``in_channels=3`` it is a colour energy on (B, 3, H, W) RGB images, its first filters spanning the
    three channels.

    Parameters
    ----------
    channels : int
        C, the channels of every hidden layer.
    depth : int
        Number of convolutions (at least 1; 1 is a Field of Experts on ``x / sigma``).
    kernel_size : int
        k, the side of every filter.
    sigma_min, sigma_max : float
        The noise levels it is trained on; :meth:`energy` is ``E`` at ``sigma_min`` (the model's closest
        approximation of the clean-image energy).
    in_channels : int
        Channels of the images (1 grey, 3 colour).
    c : float
        Scale of the Student-t expert.
    generator : torch.Generator, optional

    Notes
    -----
    :meth:`at` returns the energy at given noise levels as a :class:`ConditionedField` (a
    :class:`~scorematch.energies.LayeredEnergy`), so regularized score matching with ``method="curvature"``
    gets the Becker-LeCun diagonal (an approximation beyond one layer) and the restoration solvers get the
    layers' own gradient pass.

    Examples
    --------
    >>> import torch
    >>> e = DeepEnergy(8, 3)
    >>> e.at(torch.tensor([0.05, 0.1])).energy(torch.rand(2, 1, 16, 16)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        channels: int = 32,
        depth: int = 4,
        kernel_size: int = 3,
        *,
        sigma_min: float = 1 / 256,
        sigma_max: float = 50 / 256,
        in_channels: int = 1,
        c: float = DEFAULT_C,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_int("channels", channels, minimum=1)
        self.depth = check_int("depth", depth, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.sigma_min = check_number("sigma_min", sigma_min, minimum=0, strict=True)
        self.sigma_max = check_number("sigma_max", sigma_max, minimum=self.sigma_min)
        self._in_channels = check_int("in_channels", in_channels, minimum=1)
        self.c = check_number("c", c, minimum=0, strict=True)
        k, convs = self.kernel_size, []
        for i in range(self.depth):
            c_in = self._in_channels if i == 0 else self.channels
            w = standard_normal(self.channels, c_in, k, k, generator=generator) * math.sqrt(2.0 / (c_in * k * k))
            convs.append(Conv2d(c_in, self.channels, k, zero_mean=i == 0, weight=w))
        self.convs = nn.ModuleList(convs)
        self.shifts = nn.Parameter(torch.zeros(self.depth, self.channels))
        self.shift_slopes = nn.Parameter(torch.zeros(self.depth, self.channels))
        self.head = WeightedSum(self.channels)
        with torch.no_grad():  # small expert weights: the initial score is small beside the noise it must match
            self.head.beta.fill_(math.log(INITIAL_ALPHA))
        self.softplus, self.expert = Softplus(), StudentT(self.c)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "depth": self.depth, "kernel_size": self.kernel_size,
                "sigma_min": self.sigma_min, "sigma_max": self.sigma_max, "in_channels": self._in_channels,
                "c": self.c}

    @property
    def support(self) -> int:
        """Side of the window one term of the energy sees: ``depth (k - 1) + 1``."""
        return self.depth * (self.kernel_size - 1) + 1

    @property
    def in_channels(self) -> int:
        return self._in_channels

    def at(self, sigma: float | Tensor) -> ConditionedField:
        """The energy of images with noise std ``sigma``: a float, or a Tensor of shape (B,) (one level per
        sample of the batch it will take). Differentiable w.r.t. this module's parameters."""
        field = self.scaled(sigma)
        s = self._levels(sigma)
        return ConditionedField([Affine(scale=1.0 / s), *field.layers], self.support, self._in_channels)

    def scaled(self, sigma: float | Tensor) -> ConditionedField:
        """``F(u) = E_sigma(sigma u)``: the energy in units of the noise std (``u = x / sigma``).

        Score matching in these units weights each sample's loss by ``sigma^2`` (``grad_u F = sigma grad_x E``),
        which puts every noise level on one scale: :func:`~scorematch.estimators.noise_conditional_loss`
        trains on it."""
        log_s = torch.log(self._levels(sigma) / math.sqrt(self.sigma_min * self.sigma_max))
        layers: list = []
        for i, conv in enumerate(self.convs):
            shift = self.shifts[i].view(1, -1, 1, 1) + self.shift_slopes[i].view(1, -1, 1, 1) * log_s
            layers += [conv, Affine(shift=shift), self.softplus if i < self.depth - 1 else self.expert]
        return ConditionedField([*layers, self.head], self.support, self._in_channels)

    def _levels(self, sigma: float | Tensor) -> Tensor:
        """``sigma`` as a tensor of shape (B, 1, 1, 1) or (1, 1, 1, 1), in the parameters' dtype."""
        p = self.shifts
        s = torch.as_tensor(sigma, dtype=p.dtype, device=p.device)
        if s.dim() > 1 or s.numel() == 0 or not bool((s > 0).all()):
            raise ValueError(f"sigma must be a positive float or a 1-D tensor of them, got {sigma!r}")
        return s.reshape(-1, 1, 1, 1)

    def energy_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.at(self.sigma_min).energy_and_grad(x)

    def curvature_derivatives(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Algorithm 1 at ``sigma_min`` (see :meth:`LayeredEnergy.curvature_derivatives`)."""
        return self.at(self.sigma_min).curvature_derivatives(x)
