"""A multi-scale, noise-conditional Field of Experts: Student-t experts on the outputs of a U-shaped network."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..validation import check_int, check_number
from .base import NoiseConditionalEnergy, PaddedImageEnergy
from .layers import StudentT, WeightedSum

__all__ = ["UNetEnergy", "UNetField"]

#: The Student-t experts' scale ``c``: 1 (the FoEs' ``e^1.5`` made the experts so sharp on the network's outputs
#: that training stalled on the tuning probe: see :meth:`UNetEnergy._initialize`).
EXPERT_SCALE = 1.0
#: The experts' initial weight: the initial score is small beside the noise it must match (as the DeepEnergy's).
INITIAL_ALPHA = 0.02


class _ResBlock(nn.Module):
    """``h + conv(act(conv(act(h))))``: two 3x3 convolutions of ``c`` channels, pre-activation (SiLU, smooth)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.conv2(F.silu(self.conv1(F.silu(h))))


class _Level(nn.Sequential):
    """``blocks`` residual blocks of ``c`` channels at one scale."""

    def __init__(self, c: int, blocks: int) -> None:
        super().__init__(*[_ResBlock(c) for _ in range(blocks)])


class UNetEnergy(NoiseConditionalEnergy):
    """``E_sigma(x) = sum_c alpha_c sum_p f(U(x / sigma, sigma)_{c,p})``: Student-t experts on the output channels
    of a U-shaped convolutional network of the image in units of the noise std, a noise-conditional Field of
    Experts whose filters are a multi-scale network with a receptive field of about 100 pixels.

    ``U`` reads ``x / sigma`` and a constant channel ``log(sigma / sqrt(sigma_min sigma_max))``; its first filters
    have zero sum over the image channels and see the image extended by its edge pixels (the energy ignores the
    brightness). It has one level per entry of
    ``widths`` (level ``i`` at ``2^-i`` of the resolution, ``blocks`` residual blocks of two 3x3 convolutions each,
    SiLU activations), strided 2x2 convolutions down, transposed ones up, and the levels' outputs added back on the
    way up (skip connections); a last 3x3 convolution gives the ``experts`` channels. ``f(h) = log(1 + (c h)^2 / 2)``
    (:class:`~scorematch.energies.layers.StudentT`), weighted by ``alpha = exp(beta)``. The score ``-dE/dx`` is
    autograd's; trained across noise levels by denoising score matching, ``sigma^2 dE_sigma/dy`` estimates the noise
    (Tweedie's formula), and the energy stays an explicit scalar (the restoration solvers' MAP objective uses both).

    An image whose sides are not multiples of ``2^(levels - 1)`` is extended at the bottom and right by reflection
    for ``U`` and the expert responses cropped back (the energy of the image itself, differentiable); the
    convolutions pad with zeros, so the network sees the image border, as in training on whole patches.

    Parameters
    ----------
    widths : sequence of int
        Channels of each level, finest first (at least one level).
    blocks : int
        Residual blocks per level, on the way down and on the way up.
    experts : int
        Output channels of ``U``, each with its Student-t expert.
    in_channels : int
        Channels of the images (1 grey, 3 colour RGB).
    sigma_min, sigma_max : float
        The noise levels it is trained on (on the [0, 1] scale); :meth:`energy` is ``E`` at ``sigma_min``.
    c : float
        Scale of the Student-t expert (:data:`EXPERT_SCALE`).
    generator : torch.Generator, optional
        Seeds the initial weights.

    Examples
    --------
    >>> import torch
    >>> e = UNetEnergy(widths=(4, 8), experts=4)
    >>> e.at(0.1).energy(torch.rand(2, 1, 16, 16)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 64, 128),
        blocks: int = 1,
        experts: int = 32,
        *,
        in_channels: int = 1,
        sigma_min: float = 1 / 255,
        sigma_max: float = 80 / 255,
        c: float = EXPERT_SCALE,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        widths = tuple(check_int("width", w, minimum=1) for w in widths)
        if not widths:
            raise ValueError("widths must name at least one level")
        self.widths = widths
        self.blocks = check_int("blocks", blocks, minimum=1)
        self.experts = check_int("experts", experts, minimum=1)
        self._in_channels = check_int("in_channels", in_channels, minimum=1)
        self.sigma_min = check_number("sigma_min", sigma_min, minimum=0, strict=True)
        self.sigma_max = check_number("sigma_max", sigma_max, minimum=self.sigma_min)
        self.c = check_number("c", c, minimum=0, strict=True)
        self.head = nn.Conv2d(self._in_channels + 1, widths[0], 3, padding=1)
        self.down_levels = nn.ModuleList(_Level(w, blocks) for w in widths)
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2) for a, b in zip(widths, widths[1:]))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in zip(widths, widths[1:]))
        self.up_levels = nn.ModuleList(_Level(w, blocks) for w in widths[:-1])
        self.tail = nn.Conv2d(widths[0], self.experts, 3, padding=1)
        self.expert, self.weights = StudentT(self.c), WeightedSum(self.experts)
        self._initialize(generator)

    def _initialize(self, generator: torch.Generator | None) -> None:
        """Weights and biases uniform in ``+-1/sqrt(fan_in)`` (PyTorch's default for convolutions; He's bound,
        ``sqrt(6 / fan_in)``, trained markedly slower on the tuning probe), drawn from ``generator``; small expert
        weights (:data:`INITIAL_ALPHA`)."""
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    fan_in = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.weight[:, 0].numel()
                    for p in (m.weight, m.bias):
                        p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) / math.sqrt(fan_in))
            self.weights.beta.fill_(math.log(INITIAL_ALPHA))

    def config(self) -> dict[str, Any]:
        return {"widths": list(self.widths), "blocks": self.blocks, "experts": self.experts,
                "in_channels": self._in_channels, "sigma_min": self.sigma_min, "sigma_max": self.sigma_max,
                "c": self.c}

    @property
    def in_channels(self) -> int:
        return self._in_channels

    @property
    def multiple(self) -> int:
        """``2^(levels - 1)``: image sides are extended to a multiple of this for ``U``."""
        return 2 ** (len(self.widths) - 1)

    @property
    def receptive_field(self) -> int:
        """Side of the window ``U`` reads around one pixel."""
        radius = 2  # the head's and the tail's 3x3 convolutions
        for i in range(len(self.widths)):
            scale, coarsest = 2**i, i == len(self.widths) - 1
            passes = 1 if coarsest else 2  # blocks on the way down, and (but at the coarsest) on the way up
            radius += passes * 2 * self.blocks * scale  # two 3x3 convolutions a block
            radius += 0 if coarsest else 2 * scale  # the 2x2 stride-2 convolution and its transpose
        return 2 * radius + 1

    def responses(self, u: Tensor, sigma: Tensor) -> Tensor:
        """``U(u, sigma)``: u = x / sigma (B, C, H, W), sigma (B, 1, 1, 1) or (1, 1, 1, 1) -> (B, experts, H, W)."""
        h, w = u.shape[-2:]
        m = self.multiple
        ph, pw = -h % m, -w % m
        if ph or pw:  # reflect needs a pad < the side; replicate beyond that (tiny images)
            mode = "reflect" if ph < h and pw < w else "replicate"
            u = F.pad(u, (0, pw, 0, ph), mode=mode)
        level = torch.log(sigma / math.sqrt(self.sigma_min * self.sigma_max)).to(u.dtype)
        z = torch.cat([u, level.expand(u.shape[0], 1, *u.shape[-2:])], dim=1)  # (B, C + 1, H', W')
        z = F.conv2d(F.pad(z, (1, 1, 1, 1), mode="replicate"), self._head_weight(), self.head.bias)  # (B, w0, H', W')
        skips = []
        for i, level_blocks in enumerate(self.down_levels):
            z = level_blocks(z)
            if i < len(self.downs):
                skips.append(z)
                z = self.downs[i](z)  # (B, widths[i+1], H'/2^(i+1), W'/2^(i+1))
        for i in reversed(range(len(self.ups))):
            z = self.up_levels[i](self.ups[i](z) + skips[i])
        return self.tail(F.silu(z))[..., :h, :w]

    def _head_weight(self) -> Tensor:
        """The first filters, with zero sum over the image channels (the level channel's weights as they are)."""
        w, c = self.head.weight, self._in_channels
        return torch.cat([w[:, :c] - w[:, :c].mean((1, 2, 3), keepdim=True), w[:, c:]], dim=1)

    def at(self, sigma: float | Tensor) -> "UNetField":
        """The energy of images with noise std ``sigma`` (a float, or a Tensor of shape (B,), one level per sample)."""
        return UNetField(self, self._levels(sigma))

    def scaled(self, sigma: float | Tensor) -> "UNetField":
        """``F(u) = E_sigma(sigma u)``: the energy in units of the noise std, which
        :func:`~scorematch.estimators.noise_conditional_loss` trains on."""
        return UNetField(self, self._levels(sigma), scaled=True)

    def _levels(self, sigma: float | Tensor) -> Tensor:
        """``sigma`` as a tensor of shape (B, 1, 1, 1) or (1, 1, 1, 1), in the parameters' dtype."""
        p = self.head.weight
        s = torch.as_tensor(sigma, dtype=p.dtype, device=p.device)
        if s.dim() > 1 or s.numel() == 0 or not bool((s > 0).all()):
            raise ValueError(f"sigma must be a positive float or a 1-D tensor of them, got {sigma!r}")
        return s.reshape(-1, 1, 1, 1)


class UNetField(PaddedImageEnergy):
    """A :class:`UNetEnergy` at fixed noise levels ``sigma`` (B, 1, 1, 1): an energy of (B, C, H, W) images.

    With ``scaled=True`` it is ``F(u) = E_sigma(sigma u)``, the energy in units of the noise std. It shares the
    parent's parameters; :attr:`context` (half the receptive field, rounded up to a multiple of
    :attr:`UNetEnergy.multiple`, so that tiles keep the network's grid) is what tiles overlap by.
    """

    def __init__(self, parent: UNetEnergy, sigma: Tensor, *, scaled: bool = False) -> None:
        super().__init__()
        self.parent, self.sigma, self.is_scaled = parent, sigma, scaled
        m = parent.multiple
        self.context = -(-(parent.receptive_field // 2) // m) * m

    @property
    def in_channels(self) -> int:
        return self.parent.in_channels

    def energy_map(self, x: Tensor) -> Tensor:
        """x : Tensor, shape (B, C, H, W) -> Tensor, shape (B, H, W): ``sum_c alpha_c f(U_c)`` per pixel."""
        self.check_input(x, 3)
        c = self.in_channels
        if x.shape[1] != c:
            raise ValueError(f"x must have shape (B, {c}, H, W), got {tuple(x.shape)}")
        p = self.parent
        h = p.responses(x if self.is_scaled else x / self.sigma, self.sigma)  # (B, experts, H, W)
        return (p.expert.f(h) * p.weights.alpha.view(1, -1, 1, 1)).sum(1)
