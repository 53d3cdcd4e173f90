"""Estimating the standard deviation of additive white Gaussian noise in an image, so that a denoiser can be run
without being told ``sigma``: the wavelet median absolute deviation (Donoho & Johnstone), or the noise level at
which a noise-conditional energy's Tweedie residual is self-consistent."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..draws import rademacher
from ..validation import check_int, check_tensor
from ..prior import ImagePrior, as_prior
from .colour import OPPONENT_SCALES, opponent

__all__ = ["estimate_noise", "mad_sigmas", "NOISE_METHODS", "MAD_WAVELET", "ENERGY_TARGET", "ENERGY_EVALS",
           "COLOUR_SPACE", "ENERGY_SIDE", "energy_sigma", "central", "noise_channels", "consistency_ratio", "tweedie_residual"]

#: The estimators of :func:`estimate_noise`.
NOISE_METHODS = ("mad", "energy")
#: The high-pass analysis filters of the orthonormal wavelets (``pywt.Wavelet(name).dec_hi``).
WAVELETS = {
    "haar": (-0.7071067811865476, 0.7071067811865476),
    "db2": (-0.48296291314469025, 0.836516303737469, -0.22414386804185735, -0.12940952255092145),
}
#: The wavelet of the MAD estimate, chosen on the tuning images (``paper/benchmarks/noise_estimation_tuning.py``, the six
#: grey Set12 tuning images and the six colour tuning photos, one noise draw each,
#: ``docs/results/benchmarks/noise_estimation_tuning.json``): db2's longer filter lets less of the image into the
#: finest diagonal band than Haar's (scikit-image's default too).
MAD_WAVELET = "db2"
#: ``Phi^{-1}(3/4)``: the median of ``|n|`` for a standard normal ``n``.
GAUSS_MAD = 0.6744897501960817
#: The value of the self-consistency ratio ``h(s)`` (see :func:`estimate_noise`) that the energy method solves for
#: with a prior whose presets name none (:attr:`~scorematch.prior.Presets.noise_target`): 1 for a perfect model; a
#: trained one shrinks its residual slightly. The mean ``h`` of ``deep_energy`` at the true sigma over the tuning
#: images and levels (``paper/benchmarks/noise_estimation_tuning.py``,
#: ``docs/results/benchmarks/noise_estimation_tuning.json``).
ENERGY_TARGET = 0.98
#: Evaluations of ``h`` (two gradient evaluations each) of the energy method at most (it stops earlier at
#: :data:`ENERGY_TOL`; the evaluations it took on the tuning images are in the tuning benchmark's JSON).
ENERGY_EVALS = 4
#: The energy method stops when every image's last step changed ``log sigma`` by less than this.
ENERGY_TOL = 0.003
#: The seed of the energy method's divergence probe when no generator is given: an image gets the same estimate in
#: every run (the library and the command write the same pixels).
PROBE_SEED = 0
#: The energy method reads at most the central ``ENERGY_SIDE x ENERGY_SIDE`` pixels of an image (the noise is the same
#: everywhere; the MAD start reads the whole image), so that its cost is bounded whatever the image's size.
ENERGY_SIDE = 512
#: How a grey energy sees a colour image in the energy method: ``"rgb"`` each channel, ``"opponent"`` the luminance
#: and the two opponent channels of :func:`~scorematch.tasks.colour.opponent` (each at its own noise level),
#: ``"luminance"`` the luminance alone. Chosen on the colour tuning images (``paper/benchmarks/noise_estimation_tuning.py``,
#: ``docs/results/benchmarks/noise_estimation_tuning.json``): the opponent channels carry little of the image's
#: detail and as much noise as the luminance.
COLOUR_SPACE = "opponent"
#: The colour spaces of :data:`COLOUR_SPACE`.
COLOUR_SPACES = ("rgb", "opponent", "luminance")
#: Coefficients at most this many machine epsilons of the channel's largest value count as zeros (rounding).
_ROUNDING = 16
#: Finite-difference step of the divergence, as a fraction of the trial sigma: ``h`` within 1e-4 of a step of 1e-3
#: and of float64 on a tuning image (monarch at 5 and 25/255).
_FD_STEP = 1e-2
#: The largest change of ``log sigma`` in one step (a factor of 2).
_MAX_STEP = math.log(2.0)


def estimate_noise(
    y: Tensor,
    *,
    energy=None,
    method: Literal["mad", "energy"] | None = None,
    n_eval: int = ENERGY_EVALS,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The standard deviation of i.i.d. Gaussian noise in each image of a batch, for denoising without a given
    ``sigma``.

    ``"mad"`` (the default without an ``energy``): the median absolute deviation of the finest diagonal wavelet
    coefficients (Donoho & Johnstone; scikit-image's ``estimate_sigma``), per channel (:func:`mad_sigmas`), a colour
    image's channels averaged. Cheap, but it counts image detail as noise, most at low noise levels.

    ``"energy"`` (the default with an ``energy``, which must be noise-conditional): from the MAD estimate, the level
    ``s`` at which the energy's Tweedie residual ``r = s^2 dE_s/dy`` is self-consistent (Notes), found with 2 to 8
    gradient evaluations on at most the central :data:`ENERGY_SIDE` pixels a side. A grey image of fine texture can
    still pass for noisier than it is; a colour image less so, as its opponent channels carry little texture. How
    both do on validation images: ``paper/benchmarks/noise_estimation.py`` (the default prior's card).

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W), range about [0, 1]
        Noisy images (not clipped); each at least as large as the wavelet (4 x 4) and, for ``"energy"``, the
        energy's support. Colour images (``C = 3``) are assumed to have the same noise level in every channel.
    energy : ImagePrior or NoiseConditionalEnergy, optional
        A noise-conditional energy (``energy.at(s)``), needed by ``"energy"`` only. A grey energy sees each
        channel of a colour image as a grey image (as :data:`COLOUR_SPACE` says), each at its own noise level.
    method : {"mad", "energy"}, optional
        Default: ``"energy"`` when an ``energy`` is given (it must be noise-conditional), else ``"mad"``.
    n_eval : int
        The energy method's evaluations of ``h`` at most (it stops earlier when converged).
    generator : torch.Generator, optional
        The divergence's random probe (``"energy"``; default: a fixed seed, so the estimate is repeatable).

    Returns
    -------
    Tensor, shape (B,)
        The noise std on the images' scale (``[0, 1]``: ``25/255`` for noise of 25 grey levels), in ``y``'s dtype.

    Notes
    -----
    MAD: :math:`\\hat\\sigma = \\operatorname{median}(|d|) / \\Phi^{-1}(3/4)` over the finest diagonal coefficients
    :math:`d` of the orthonormal wavelet :data:`MAD_WAVELET`, which are the noise's (i.i.d.
    :math:`N(0, \\sigma^2)`) plus some image detail.

    Energy: if ``E_s`` is the energy of images with noise of std ``s`` (``energy.at(s)``), Tweedie's estimate is
    ``y - r`` and Hyvarinen's identity :math:`E|\\nabla E_s|^2 = E[\\Delta E_s]` under the noisy images' density
    says that at the true level the residual's power equals ``s^2`` times its mean divergence (the residual's
    power is the noise's minus the posterior mean's error, and that error is ``s^2`` times the denoiser's
    divergence). So

    .. math::

        h(s) = \\frac{\\operatorname{mean}(r^2)}{s^2 \\operatorname{mean}(\\nabla \\cdot r)}

    is 1 at the true level, above 1 below it and under 1 above it (for images of i.i.d. :math:`N(\\mu, \\tau^2)`
    pixels, :math:`h(s) = (\\tau^2 + \\sigma^2) / (\\tau^2 + s^2)`). The method solves ``h(s) =``
    :data:`ENERGY_TARGET` in ``log s`` per image: a first step with the Gaussian model's slope, then secant
    steps, each at most a factor of 2, until a step changes ``s`` by less than 0.3 % or after ``n_eval``
    evaluations of ``h``. The divergence is one Rademacher probe ``v`` and a finite difference,
    ``mean(v (r(y + eps v) - r(y))) / eps``: two gradient evaluations per ``h``. The residual itself,
    ``RMS(r(s)) / s``, is no good guide: on the tuning images it is flat near the truth at 5-15/255 (its maximum
    lies between 0.85 and 1.15 times the truth), and its value there depends on the image.

    References
    ----------
    D. L. Donoho and I. M. Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 81 (1994).
    A. Hyvarinen, "Estimation of non-normalized statistical models by score matching", JMLR 6 (2005).
    S. Ramani, T. Blu and M. Unser, "Monte-Carlo SURE", IEEE Trans. Image Processing 17 (2008).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.linspace(0, 1, 128).expand(1, 1, 128, 128)
    >>> y = x + 0.1 * torch.randn(1, 1, 128, 128, generator=g)
    >>> estimate_noise(y).shape
    torch.Size([1])
    >>> abs(estimate_noise(y).item() / 0.1 - 1) < 0.05
    True
    """
    if method is None:
        method = "mad" if energy is None else "energy"
    _check(y, energy, method)
    start = mad_sigmas(y).mean(1)  # (B,): the channels' estimates averaged
    if method == "mad":
        return start
    n_eval = check_int("n_eval", n_eval, minimum=1)
    return energy_sigma(y, energy, start, n_eval=n_eval, generator=generator).to(y.dtype)


def mad_sigmas(y: Tensor, *, wavelet: str = MAD_WAVELET) -> Tensor:
    """The MAD noise estimate of every channel: ``median(|d|) / 0.6745`` over the finest diagonal coefficients
    ``d`` of an orthonormal wavelet (those whose filter lies inside the image). Zeros, up to the rounding of the
    filter on flat regions, are left out, as scikit-image leaves out exact zeros, so that flat (e.g. saturated)
    regions do not pull the median down.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
    wavelet : {"haar", "db2"}

    Returns
    -------
    Tensor, shape (B, C)
        0 for a channel without a non-zero coefficient.
    """
    if wavelet not in WAVELETS:
        raise ValueError(f"wavelet must be one of {tuple(WAVELETS)}, got {wavelet!r}")
    d = _diagonal_details(y, WAVELETS[wavelet]).abs()  # (B, C, n)
    rounding = _ROUNDING * torch.finfo(y.dtype).eps * y.abs().amax((-2, -1), keepdim=True).flatten(2)  # (B, C, 1)
    d = torch.where(d <= rounding, torch.nan, d)
    med = d.nanmedian(dim=-1).values  # (B, C); NaN where every coefficient is 0
    return torch.nan_to_num(med / GAUSS_MAD, nan=0.0)


def _check(y: Tensor, energy, method: str) -> None:
    check_tensor("y", y)
    if y.dim() != 4:
        raise ValueError(f"y must have shape (B, C, H, W), got {tuple(y.shape)}")
    size = max(len(f) for f in WAVELETS.values())
    if min(y.shape[-2:]) < size:
        raise ValueError(f"y must be at least {size}x{size} pixels for the wavelet, got {y.shape[-2]}x{y.shape[-1]}")
    if method not in NOISE_METHODS:
        raise ValueError(f"method must be one of {NOISE_METHODS}, got {method!r}")
    if method == "mad":
        if energy is not None:
            raise ValueError('method "mad" uses no energy; pass method="energy" to use it, or drop energy')
        return
    if energy is None:
        raise ValueError('method "energy" needs a noise-conditional prior, e.g. '
                         'energy=scorematch.load_prior("deep_energy")')
    prior = as_prior(energy)
    if not prior.noise_conditional:
        raise TypeError(f'method "energy" needs a noise-conditional prior (with .at(sigma)), got {prior.name}')
    prior.field().check(y.shape[1], tuple(y.shape[-2:]))


def _diagonal_details(y: Tensor, high: tuple[float, ...]) -> Tensor:
    """The finest diagonal (high-high) coefficients of each channel: (B, C, H, W) -> (B, C, n)."""
    b, c, h, w = y.shape
    g = torch.tensor(high, dtype=y.dtype, device=y.device)
    kernel = torch.outer(g, g)[None, None]  # (1, 1, L, L): the separable high-high filter
    d = F.conv2d(y.reshape(b * c, 1, h, w), kernel, stride=2)  # (B * C, 1, h', w')
    return d.reshape(b, c, -1)  # (B, C, h' * w')


def noise_channels(y: Tensor, energy, space: str) -> tuple[Tensor, Tensor]:
    """The images as the energy sees them and each channel's noise std per unit of the images' sigma.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
    energy : ImagePrior or noise-conditional energy
        Its ``in_channels`` decide: a grey energy gets the channels of a colour image in ``space``.
    space : {"rgb", "opponent", "luminance"}
        One of :data:`COLOUR_SPACES` (the estimator's is :data:`COLOUR_SPACE`).

    Returns
    -------
    z : Tensor, shape (B, C', H, W)
    scales : Tensor, shape (C',), float64
        Each channel's noise std per unit of the images' sigma.
    """
    if space not in COLOUR_SPACES:
        raise ValueError(f"space must be one of {COLOUR_SPACES}, got {space!r}")
    scales = torch.ones(y.shape[1], dtype=torch.float64)
    if y.shape[1] != 3 or energy.in_channels == 3 or space == "rgb":
        return y, scales
    z = opponent(y)  # (B, 3, H, W): luminance, two opponent channels
    scales = torch.tensor(OPPONENT_SCALES, dtype=torch.float64)
    if space == "luminance":
        return z[:, :1], scales[:1]
    return z, scales


def energy_sigma(y: Tensor, energy, start: Tensor, *, n_eval: int, generator: torch.Generator | None,
                  target: float | None = None, space: str = COLOUR_SPACE) -> Tensor:
    """The energy method's noise std: secant steps on ``log h(s) = log target`` in ``log s``.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
    energy : noise-conditional energy or ImagePrior
    start : Tensor, shape (B,)
        The first guesses (the wavelet MAD); 0 stays 0.
    n_eval : int
        The most secant steps (each one ratio :func:`consistency_ratio`, two gradient evaluations).
    generator : torch.Generator, optional
        Draws the Rademacher probe of the divergence (default: one seeded with :data:`PROBE_SEED`).
    target : float, optional
        The ratio ``h`` sought: default the prior's presets' ``noise_target``, else :data:`ENERGY_TARGET`.
    space : str
        The channels a grey energy sees of a colour image (:func:`noise_channels`).

    Returns
    -------
    Tensor, shape (B,)
    """
    prior = as_prior(energy)
    if target is None:
        target = prior.presets.noise_target or ENERGY_TARGET
    params = list(prior.energy.parameters())
    dtype = params[0].dtype if params else y.dtype  # the energy's dtype; the result goes back to y's
    z, scales = noise_channels(central(y, ENERGY_SIDE).to(dtype), prior, space)
    scales = scales.to(dtype=dtype, device=y.device)
    if generator is None:
        generator = torch.Generator().manual_seed(PROBE_SEED)
    probe = rademacher(tuple(z.shape), like=z, generator=generator)
    found = start > 0  # an image without noise (MAD 0) stays at 0
    log_s = torch.log(torch.where(found, start, torch.ones_like(start))).to(dtype)
    prev = None
    for _ in range(n_eval):
        f, div = consistency_ratio(z, prior, log_s.exp(), scales, probe)
        f = f - math.log(target)
        slope = 2 * div  # d log h / d log s of a Gaussian image model: the first step's guess
        if prev is not None:
            secant = (prev[1] - f) / (log_s - prev[0])
            slope = torch.where(torch.isfinite(secant) & (secant > 0.1), secant, slope)
        step = (f / slope.clamp_min(0.1)).clamp(-_MAX_STEP, _MAX_STEP)
        prev = (log_s, f)
        log_s = log_s + step
        if bool((step.abs() < ENERGY_TOL).all()):
            break
    return torch.where(found, log_s.exp().to(start.dtype), torch.zeros_like(start))


def central(y: Tensor, side: int) -> Tensor:
    """The central ``side x side`` crop of (B, C, H, W) images (a side shorter than ``side`` kept whole)."""
    h, w = y.shape[-2:]
    top, left = max(h - side, 0) // 2, max(w - side, 0) // 2
    return y[..., top : top + side, left : left + side]


def consistency_ratio(z: Tensor, prior: ImagePrior, s: Tensor, scales: Tensor, probe: Tensor) -> tuple[Tensor, Tensor]:
    """The self-consistency ratio of the energy method: ``log h(s)`` and the mean divergence of the residual.

    ``h(s) = sum_c mean(r_c^2) / k_c^2 / (s^2 sum_c mean(div r_c))`` for the Tweedie residual ``r`` of
    :func:`tweedie_residual`, with the divergence estimated by a finite difference along ``probe``.

    Parameters
    ----------
    z : Tensor, shape (B, C', H, W)
        Images whose channel ``c`` has noise std ``s * scales[c]`` (:func:`noise_channels`).
    prior : ImagePrior
    s : Tensor, shape (B,)
    scales : Tensor, shape (C',)
    probe : Tensor, shape (B, C', H, W)

    Returns
    -------
    log_h : Tensor, shape (B,)
    divergence : Tensor, shape (B,)
        The mean divergence of the residual per channel.
    """
    levels = s[:, None] * scales  # (B, C'): each channel's noise std
    eps = (_FD_STEP * levels)[..., None, None]  # (B, C', 1, 1)
    r = tweedie_residual(z, prior, levels)
    r_step = tweedie_residual(z + eps * probe, prior, levels)
    div = (probe * (r_step - r) / eps).mean((-2, -1))  # (B, C'): mean divergence of r per channel
    power = (r.pow(2).mean((-2, -1)) / scales.pow(2)).sum(1)  # (B,): sum_c mean(r_c^2) / k_c^2
    total = div.sum(1).clamp_min(1e-6)  # (B,)
    ratio = power.clamp_min(1e-30) / (s.pow(2) * total)
    return ratio.log(), total / z.shape[1]


def tweedie_residual(z: Tensor, prior: ImagePrior, levels: Tensor) -> Tensor:
    """The Tweedie residual ``r = s^2 dE_s/dz`` of images at given noise levels (a grey prior on each channel).

    Parameters
    ----------
    z : Tensor, shape (B, C', H, W)
    prior : ImagePrior
        Noise-conditional (:meth:`~scorematch.prior.ImagePrior.at`).
    levels : Tensor, shape (B, C')
        Each channel's noise std (a colour prior: the first per image).

    Returns
    -------
    Tensor, shape (B, C', H, W)
    """
    b, c, h, w = z.shape
    if c > 1 and prior.in_channels == 1:
        flat, lv = z.reshape(b * c, 1, h, w), levels.reshape(-1)  # (B * C', 1, H, W), (B * C',)
    else:
        flat, lv = z, levels[:, 0]  # a colour prior: one level per image
    g = prior.at(lv).score_with_context(flat)
    return (lv.pow(2)[:, None, None, None] * g).reshape(z.shape)
