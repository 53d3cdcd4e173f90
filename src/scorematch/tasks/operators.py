"""Linear degradation operators ``y = A x (+ noise)``: the forward map, its adjoint, a first estimate of ``x``, and
the projection onto ``{x : A x = y}`` where that constraint is exact.

Every operator acts on each channel of a batch (B, C, H, W) alike, so grey and colour images share them.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..draws import gaussian

__all__ = ["LinearOperator", "Denoising", "Downsample", "Blur", "Inpaint", "PhysicsOperator", "as_operator",
           "upscale_start", "BLUR_BOUNDARIES"]

#: How :class:`Blur` treats the image border.
BLUR_BOUNDARIES = ("periodic", "valid")
#: Denoising's first estimate is ``y`` smoothed by a Gaussian of std ``START_SMOOTHING * sigma`` pixels (1 pixel
#: at 25/256, 0.2 at 5/256). Chosen on the tuning crops (foe_5x5x24, 6 crops of 128x128, one draw) from 0, 6.4,
#: 8.2 and 10.2 sigma: at 25/256 it reaches 26.95 dB in 50 L-BFGS iterations, where the start ``y`` gives 26.81
#: after 150; at 15/256 29.82 dB in 60 iterations (``y``: 29.80 after 150); at 5/256 the same estimate.
START_SMOOTHING = 10.24


def _check_batch(x: Tensor, name: str = "x") -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a floating-point tensor of shape (B, C, H, W), got {shape}")


class LinearOperator:
    """``y = A x``, from images (B, C, H, W) to observations (B, C, h, w).

    Subclasses give :meth:`A`, :meth:`A_adjoint` and, where they change the image size, :meth:`image_size`;
    :meth:`start` is the solvers' default first estimate; :meth:`project` exists where ``A x = y`` can be met
    exactly by an orthogonal projection (then a noise-free problem is solved under that constraint).
    """

    #: True when :meth:`project` is available.
    exact = False
    #: The task whose presets a prior applies to this operator (:class:`~scorematch.prior.Presets`); None: none.
    task: str | None = None

    def A(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def A_adjoint(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    def image_size(self, h: int, w: int) -> tuple[int, int]:
        """(H, W) of the image behind an (h, w) observation (default: the size of ``A^T`` of one)."""
        return tuple(self.A_adjoint(torch.zeros(1, 1, h, w)).shape[-2:])

    def start(self, y: Tensor) -> Tensor:
        """A first estimate of ``x`` from ``y`` (default: ``y`` itself)."""
        return y.clone()

    def project(self, x: Tensor, y: Tensor) -> Tensor:
        """The nearest image to ``x`` with ``A x = y`` (exact operators only)."""
        raise NotImplementedError(f"{type(self).__name__} has no exact constraint; give a noise level sigma > 0")

    def observe(self, x: Tensor, *, sigma: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """A simulated observation ``A x + sigma n``, ``n`` i.i.d. standard normal per pixel and channel."""
        y = self.A(x)
        return y if sigma == 0 else y + sigma * gaussian(tuple(y.shape), like=y, generator=generator)


class Denoising(LinearOperator):
    """The identity degradation of denoising: ``y = x + n``, ``n ~ N(0, sigma^2 I)``.

    Parameters
    ----------
    sigma : float
        Noise standard deviation on the [0, 1] pixel scale.

    Examples
    --------
    >>> import torch
    >>> op = Denoising(5 / 256)
    >>> x = torch.zeros(1, 1, 4, 4)
    >>> op.A(x).shape
    torch.Size([1, 1, 4, 4])
    """

    task = "denoise"

    def __init__(self, sigma: float) -> None:
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = float(sigma)

    def A(self, x: Tensor) -> Tensor:
        """``x`` itself, shape (B, C, H, W)."""
        return x

    def A_adjoint(self, y: Tensor) -> Tensor:
        return y

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """A noisy observation ``x + sigma * n`` (same shape and dtype)."""
        return self.observe(x, sigma=self.sigma, generator=generator)

    def start(self, y: Tensor) -> Tensor:
        """``y`` smoothed by a Gaussian of std :data:`START_SMOOTHING` ``* sigma`` pixels (normalized at the
        border): closer to the MAP estimate than ``y`` at high noise, so L-BFGS needs fewer iterations."""
        s = START_SMOOTHING * self.sigma
        return _gauss(y, s) / _gauss(torch.ones_like(y[:1, :1]), s)


class Downsample(LinearOperator):
    """Average ``factor x factor`` blocks: (B, C, H, W) -> (B, C, H/f, W/f).

    Parameters
    ----------
    factor : int
        Block side (2 in the paper).

    Notes
    -----
    ``A A^T = I / f^2``, so the pseudo-inverse is ``f^2 A^T`` (replicate each low-resolution pixel) and
    :meth:`project` ``x + f^2 A^T (y - A x)`` is the orthogonal projection onto ``{x : A x = y}``.

    Examples
    --------
    >>> import torch
    >>> op = Downsample(2)
    >>> op.A(torch.ones(1, 1, 4, 6)).shape
    torch.Size([1, 1, 2, 3])
    """

    exact = True

    def __init__(self, factor: int = 2) -> None:
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor}")
        self.factor = int(factor)

    @property
    def task(self) -> str:
        return f"superres_{self.factor}x"

    def _check(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"expected shape (B, C, H, W), got {tuple(x.shape)}")
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"height and width must be multiples of {self.factor}, got {tuple(x.shape[-2:])}")

    def A(self, x: Tensor) -> Tensor:
        """Block averages, shape (B, C, H/f, W/f)."""
        self._check(x)
        return F.avg_pool2d(x, self.factor)

    def A_adjoint(self, y: Tensor) -> Tensor:
        """Each value spread over its block divided by ``f^2``, shape (B, C, H*f, W*f)."""
        f = self.factor
        return y.repeat_interleave(f, -2).repeat_interleave(f, -1) / (f * f)

    def image_size(self, h: int, w: int) -> tuple[int, int]:
        return h * self.factor, w * self.factor

    def start(self, y: Tensor) -> Tensor:
        """The bicubic upscale of ``y``, projected onto ``A x = y``."""
        return self.project(F.interpolate(y, scale_factor=self.factor, mode="bicubic", align_corners=False), y)

    def project(self, x: Tensor, y: Tensor) -> Tensor:
        """The nearest image to ``x`` whose block averages equal ``y``."""
        f = self.factor
        return x + (f * f) * self.A_adjoint(y - self.A(x))


def _check_kernel(kernel: Tensor) -> Tensor:
    if not isinstance(kernel, Tensor) or kernel.dim() != 2 or min(kernel.shape) < 1:
        raise ValueError(f"kernel must be a 2-D tensor (kh, kw), got "
                         f"{tuple(kernel.shape) if isinstance(kernel, Tensor) else type(kernel).__name__}")
    kernel = kernel.to(torch.float64) if not kernel.is_floating_point() else kernel
    if not torch.isfinite(kernel).all():
        raise ValueError("kernel contains NaN or inf values")
    if not kernel.sum() > 0:
        raise ValueError(f"kernel must have a positive sum, got {float(kernel.sum()):.4g}")
    return kernel


class Blur(LinearOperator):
    """Convolution with a known kernel: ``y = k * x``, per channel.

    The kernel is flipped (a convolution, as ``scipy.ndimage.convolve``), its centre pixel ``(kh // 2, kw // 2)``
    at the origin; it is used as given (normalize it to sum 1 for a blur that keeps the mean).

    Parameters
    ----------
    kernel : Tensor, shape (kh, kw)
        Finite, with a positive sum.
    boundary : {"periodic", "valid"}
        ``"periodic"`` (default): the image wraps around (an FFT product; the benchmark convention), ``y`` has
        the image's size. ``"valid"``: only the outputs whose window lies inside the image, so ``y`` is smaller
        by ``kh - 1`` rows and ``kw - 1`` columns (a real photo's blur, no boundary assumption).

    Examples
    --------
    >>> import torch
    >>> op = Blur(torch.ones(3, 5) / 15, boundary="valid")
    >>> op.A(torch.ones(1, 1, 8, 8)).shape
    torch.Size([1, 1, 6, 4])
    >>> bool(torch.allclose(Blur(torch.ones(3, 3) / 9).A(torch.ones(1, 3, 8, 8)), torch.ones(1, 3, 8, 8)))
    True
    """

    task = "deblur"

    def __init__(self, kernel: Tensor, *, boundary: str = "periodic") -> None:
        if boundary not in BLUR_BOUNDARIES:
            raise ValueError(f"boundary must be one of {BLUR_BOUNDARIES}, got {boundary!r}")
        self.kernel, self.boundary = _check_kernel(kernel), boundary
        self._spectra: dict[tuple, Tensor] = {}  # (h, w, dtype, device) -> the kernel's FFT, made once per shape

    def _weight(self, like: Tensor) -> Tensor:
        """The flipped kernel as a correlation weight, shape (1, 1, kh, kw)."""
        return self.kernel.flip(0, 1).to(like)[None, None]

    def _spectrum(self, h: int, w: int, like: Tensor) -> Tensor:
        """FFT of the kernel placed with its centre at the origin of an (h, w) grid, shape (h, w // 2 + 1)."""
        key = (h, w, like.dtype, like.device)
        if key not in self._spectra:
            kh, kw = self.kernel.shape
            if kh > h or kw > w:
                raise ValueError(f"the {kh}x{kw} kernel is larger than the {h}x{w} image")
            grid = torch.zeros(h, w, dtype=like.dtype, device=like.device)
            grid[:kh, :kw] = self.kernel.to(like)
            self._spectra[key] = torch.fft.rfft2(grid.roll((-(kh // 2), -(kw // 2)), (0, 1)))
        return self._spectra[key]

    def _periodic(self, x: Tensor, conj: bool) -> Tensor:
        h, w = x.shape[-2:]
        k = self._spectrum(h, w, x)
        return torch.fft.irfft2(torch.fft.rfft2(x) * (k.conj() if conj else k), s=(h, w))

    def _per_channel(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        _check_batch(x)
        b, c = x.shape[:2]
        return x.reshape(b * c, 1, *x.shape[-2:]), (b, c)

    def A(self, x: Tensor) -> Tensor:
        """The blurred image: shape (B, C, H, W) (periodic) or (B, C, H - kh + 1, W - kw + 1) (valid)."""
        if self.boundary == "periodic":
            _check_batch(x)
            return self._periodic(x, conj=False)
        flat, (b, c) = self._per_channel(x)
        kh, kw = self.kernel.shape
        if kh > x.shape[-2] or kw > x.shape[-1]:
            raise ValueError(f"the {kh}x{kw} kernel is larger than the {tuple(x.shape[-2:])} image")
        out = F.conv2d(flat, self._weight(x))
        return out.reshape(b, c, *out.shape[-2:])

    def A_adjoint(self, y: Tensor) -> Tensor:
        """The adjoint (correlation with the kernel, the valid case's full transposed convolution)."""
        if self.boundary == "periodic":
            _check_batch(y, "y")
            return self._periodic(y, conj=True)
        flat, (b, c) = self._per_channel(y)
        out = F.conv_transpose2d(flat, self._weight(y))
        return out.reshape(b, c, *out.shape[-2:])

    def image_size(self, h: int, w: int) -> tuple[int, int]:
        kh, kw = self.kernel.shape
        return (h, w) if self.boundary == "periodic" else (h + kh - 1, w + kw - 1)

    def start(self, y: Tensor) -> Tensor:
        """``y`` itself (periodic), or ``y`` extended by its edge pixels to the image's size (valid)."""
        if self.boundary == "periodic":
            return y.clone()
        kh, kw = self.kernel.shape
        ch, cw = kh // 2, kw // 2  # output (i, j) sees the image around (i + kh - 1 - ch, j + kw - 1 - cw)
        flat, (b, c) = self._per_channel(y)
        out = F.pad(flat, (kw - 1 - cw, cw, kh - 1 - ch, ch), mode="replicate")
        return out.reshape(b, c, *out.shape[-2:])


class Inpaint(LinearOperator):
    """Known pixels kept, the others lost: ``y = m x`` with a 0/1 mask ``m`` (non-zero = known).

    Parameters
    ----------
    mask : Tensor, shape (H, W) or broadcastable to (B, C, H, W)
        Non-zero where the pixel is observed.

    Notes
    -----
    ``A`` is an orthogonal projection, so :meth:`project` (the known pixels put back) is exact: without noise the
    solver keeps the known pixels and fills in the others.

    Examples
    --------
    >>> import torch
    >>> m = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> Inpaint(m).A(torch.full((1, 1, 2, 2), 0.5))
    tensor([[[[0.5000, 0.0000],
              [0.0000, 0.5000]]]])
    """

    exact = True
    task = "inpaint"

    def __init__(self, mask: Tensor) -> None:
        if not isinstance(mask, Tensor) or mask.dim() < 2:
            raise ValueError("mask must be a tensor of shape (H, W) or (B, C, H, W)")
        if not torch.isfinite(mask.double()).all():
            raise ValueError("mask contains NaN or inf values")
        self.mask = (mask != 0).to(torch.float32)
        if not self.mask.any():
            raise ValueError("the mask marks no pixel as known")

    def _m(self, x: Tensor) -> Tensor:
        _check_batch(x)
        m = self.mask.to(x)
        if m.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"the mask is {tuple(m.shape[-2:])}, the image {tuple(x.shape[-2:])}")
        return m

    def A(self, x: Tensor) -> Tensor:
        """``x`` with the unknown pixels set to 0."""
        return x * self._m(x)

    def A_adjoint(self, y: Tensor) -> Tensor:
        return y * self._m(y)

    def project(self, x: Tensor, y: Tensor) -> Tensor:
        """``x`` with the known pixels of ``y`` put back."""
        return x + self._m(x) * (y - x)

    def start(self, y: Tensor) -> Tensor:
        """The unknown pixels filled by a normalized Gaussian average of the known ones, wider where needed."""
        m = self._m(y).expand_as(y)
        x, filled = y * m, m.clone()
        for s in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0):
            num, den = _gauss(y * m, s), _gauss(m, s)
            take = (filled == 0) & (den > 1e-3)
            x = torch.where(take, num / den.clamp_min(1e-12), x)
            filled = torch.where(take, torch.ones_like(filled), filled)
            if filled.all():
                return x
        mean = (y * m).sum((-2, -1), keepdim=True) / m.sum((-2, -1), keepdim=True).clamp_min(1)
        return torch.where(filled == 0, mean.expand_as(x), x)


def _gauss(x: Tensor, s: float) -> Tensor:
    """Separable Gaussian smoothing (std ``s`` pixels, zero outside the image) of each channel."""
    r = int(math.ceil(3 * s))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t * t / (2 * s * s))
    b, c, h, w = x.shape
    flat = x.reshape(b * c, 1, h, w)
    flat = F.conv2d(F.pad(flat, (r, r, 0, 0)), k.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, r, r)), k.view(1, 1, -1, 1))
    return flat.reshape(b, c, h, w)


class PhysicsOperator(LinearOperator):
    """Any object with ``A`` and ``A_adjoint`` methods (e.g. a deepinv ``LinearPhysics``) as a
    :class:`LinearOperator`; the start is ``y`` when ``A^T y`` has its shape, else ``A^T y``."""

    def __init__(self, physics) -> None:
        self.physics = physics

    def A(self, x: Tensor) -> Tensor:
        return self.physics.A(x)

    def A_adjoint(self, y: Tensor) -> Tensor:
        return self.physics.A_adjoint(y)

    def start(self, y: Tensor) -> Tensor:
        back = self.A_adjoint(y)
        return y.clone() if back.shape == y.shape else back


@runtime_checkable
class Physics(Protocol):
    """What a foreign operator must have to serve as one (e.g. a deepinv ``LinearPhysics``)."""

    def A(self, x: Tensor) -> Tensor: ...

    def A_adjoint(self, y: Tensor) -> Tensor: ...


def as_operator(operator) -> LinearOperator:
    """``operator`` itself if a :class:`LinearOperator`, else a :class:`PhysicsOperator` around a :class:`Physics`."""
    if isinstance(operator, LinearOperator):
        return operator
    if isinstance(operator, Physics):
        return PhysicsOperator(operator)
    raise TypeError(f"operator must be a LinearOperator or have A and A_adjoint methods, got {type(operator).__name__}")


def _binomial_blur(x: Tensor) -> Tensor:
    k1 = torch.tensor([0.25, 0.5, 0.25], dtype=x.dtype, device=x.device)
    k = (k1[:, None] * k1[None, :]).reshape(1, 1, 3, 3)  # (1, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k)


def upscale_start(y: Tensor, *, factor: int = 2, kind: Literal["lowpass", "bicubic"] = "lowpass",
                  project: bool = False) -> Tensor:
    """An initial high-resolution image from low-resolution ``y``.

    Parameters
    ----------
    y : Tensor, shape (B, C, h, w)
    factor : int
    kind : {"lowpass", "bicubic"}
        ``"lowpass"``: the paper's start, a linear (bilinear) upscale followed by a low-pass filter (our
        choice of filter: the 3x3 binomial ``[1 2 1]^T [1 2 1] / 16``, replicate borders).
        ``"bicubic"``: bicubic upscale (``align_corners=False``), no filter.
    project : bool
        Then adjust every block so that its average equals the low-resolution pixel.

    Returns
    -------
    Tensor, shape (B, C, h * factor, w * factor)
    """
    if y.dim() != 4:
        raise ValueError(f"y must have shape (B, C, h, w), got {tuple(y.shape)}")
    if kind == "lowpass":
        x = _binomial_blur(F.interpolate(y, scale_factor=factor, mode="bilinear", align_corners=False))
    elif kind == "bicubic":
        x = F.interpolate(y, scale_factor=factor, mode="bicubic", align_corners=False)
    else:
        raise ValueError(f'kind must be "lowpass" or "bicubic", got {kind!r}')
    return Downsample(factor).project(x, y) if project else x
