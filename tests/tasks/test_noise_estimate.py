"""Noise-level estimation (``tasks.noise_level``): the wavelet MAD on images of known noise, colour averaging, the
batch, the energy method's self-consistency on a model where it is exact, and bad inputs."""

import math

import pytest
import torch

from scorematch.energies import DeepEnergy, ImageFoE
from scorematch.energies.base import Energy, NoiseConditionalEnergy
from scorematch.tasks import estimate_noise
from scorematch.tasks.noise_level import ENERGY_TARGET, WAVELETS, energy_sigma, mad_sigmas

D = torch.float64


def smooth(size: int = 256, channels: int = 1, dtype=D) -> torch.Tensor:
    """A smooth test image (1, C, size, size) on [0.2, 0.8]: a few slow waves, a different phase per channel."""
    u = torch.linspace(0, 1, size, dtype=dtype)
    out = [0.5 + 0.15 * torch.sin(2 * math.pi * (3 * u[:, None] + c / 3)) * torch.cos(2 * math.pi * 2 * u[None, :])
           + 0.15 * torch.sin(2 * math.pi * (u[:, None] + u[None, :])) for c in range(channels)]
    return torch.stack(out)[None]


def noisy(x: torch.Tensor, sigma, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    s = torch.as_tensor(sigma, dtype=x.dtype).reshape(1, -1, 1, 1)
    return x + s * torch.randn(x.shape, generator=g, dtype=x.dtype)


class WhiteGaussian(NoiseConditionalEnergy):
    """Images of i.i.d. N(mu, tau^2) pixels with noise of std ``sigma``: ``E_sigma(y) = |y - mu|^2 / (2 (tau^2 +
    sigma^2))``, where Tweedie's estimate is exact and the self-consistency ratio is ``(tau^2 + sigma_0^2) /
    (tau^2 + s^2)``."""

    in_channels, sigma_min, sigma_max = 1, 1e-3, 1.0

    def __init__(self, mu: float, tau: float) -> None:
        super().__init__()
        self.mu, self.tau = mu, tau

    def at(self, sigma) -> "WhiteGaussianField":
        return WhiteGaussianField(self.mu, self.tau, torch.as_tensor(sigma, dtype=D).reshape(-1, 1, 1, 1))


class WhiteGaussianField(Energy):
    """:class:`WhiteGaussian` at noise levels ``sigma`` (B, 1, 1, 1): a field of one-pixel windows."""

    support, in_channels = 1, 1

    def __init__(self, mu: float, tau: float, sigma: torch.Tensor) -> None:
        super().__init__()
        self.mu, self.tau, self.sigma = mu, tau, sigma

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mu) ** 2 / (2 * (self.tau**2 + self.sigma**2))).sum((1, 2, 3))


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1, 0.2])
@pytest.mark.parametrize("wavelet", list(WAVELETS))
def test_mad_finds_the_noise_of_a_smooth_image_within_three_percent(sigma, wavelet):
    y = noisy(smooth(), sigma, seed=int(sigma * 1000))
    est = mad_sigmas(y, wavelet=wavelet)
    assert est.shape == (1, 1)
    assert est.item() == pytest.approx(sigma, rel=0.03)
    if wavelet == "db2":  # the default
        assert estimate_noise(y).item() == pytest.approx(est.item())


def test_mad_agrees_with_scikit_image():
    restoration = pytest.importorskip("skimage.restoration")
    y = noisy(smooth(channels=3), 0.05, seed=3)
    ours = estimate_noise(y).item()
    theirs = restoration.estimate_sigma(y[0].numpy(), channel_axis=0, average_sigmas=True)
    assert ours == pytest.approx(theirs, rel=0.03)  # theirs also uses the extended border's coefficients


def test_colour_channels_are_estimated_apart_and_averaged():
    y = noisy(smooth(channels=3), [0.03, 0.06, 0.09], seed=4)
    per = mad_sigmas(y)
    assert per.shape == (1, 3)
    torch.testing.assert_close(per[0], torch.tensor([0.03, 0.06, 0.09], dtype=D), rtol=0.03, atol=0)
    assert estimate_noise(y).item() == pytest.approx(per.mean().item())
    assert estimate_noise(y).item() == pytest.approx(0.06, rel=0.03)


def test_batch_gives_one_estimate_per_image_each_as_alone():
    x = smooth(128).expand(3, 1, 128, 128)
    y = torch.cat([noisy(x[:1], s, seed=i) for i, s in enumerate((0.02, 0.05, 0.15))])
    est = estimate_noise(y)
    assert est.shape == (3,)
    torch.testing.assert_close(est, torch.tensor([0.02, 0.05, 0.15], dtype=D), rtol=0.05, atol=0)
    torch.testing.assert_close(est, torch.cat([estimate_noise(y[i : i + 1]) for i in range(3)]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_the_input(dtype, device):
    y = noisy(smooth(64, dtype=dtype), 0.1, seed=5).to(device)
    est = estimate_noise(y)
    assert est.dtype == dtype and est.device == y.device


def test_a_noise_free_flat_image_has_noise_zero():
    assert estimate_noise(torch.full((2, 1, 16, 16), 0.5)).tolist() == [0.0, 0.0]


def test_energy_method_recovers_the_noise_where_its_model_is_exact():
    # White Gaussian "texture" of std tau is indistinguishable from noise for the wavelet MAD, which sees
    # sqrt(tau^2 + sigma^2); the energy method, knowing the texture's density, finds sigma.
    tau, sigma = 0.05, 0.1
    g = torch.Generator().manual_seed(6)
    x = 0.5 + tau * torch.randn(1, 1, 256, 256, generator=g, dtype=D)
    y = noisy(x, sigma, seed=7)
    energy = WhiteGaussian(0.5, tau)
    assert estimate_noise(y).item() > 1.08 * sigma
    exact = energy_sigma(y, energy, estimate_noise(y), n_eval=8, generator=torch.Generator().manual_seed(0),
                          target=1.0)
    assert exact.item() == pytest.approx(sigma, rel=0.01)
    # the shipped target (calibrated for a learned model's slight shrinkage) moves the root by its known amount
    est = estimate_noise(y, energy=energy, method="energy", n_eval=8, generator=torch.Generator().manual_seed(0))
    expected = math.sqrt((tau**2 + sigma**2) / ENERGY_TARGET - tau**2)
    assert est.item() == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("channels", [1, 3])
def test_energy_method_runs_with_a_small_deep_energy(channels):
    energy = DeepEnergy(4, 2, generator=torch.Generator().manual_seed(0))
    y = noisy(smooth(24, channels, dtype=torch.float32).expand(2, channels, 24, 24), 0.1, seed=8)
    est = estimate_noise(y, energy=energy, method="energy", generator=torch.Generator().manual_seed(1))
    assert est.shape == (2,) and est.dtype == torch.float32
    assert torch.isfinite(est).all() and (est > 0).all()
    again = estimate_noise(y, energy=energy, method="energy", generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(est, again)


def test_an_energy_means_the_energy_method_repeatable_without_a_generator_and_read_in_a_bounded_crop():
    energy = DeepEnergy(4, 2, generator=torch.Generator().manual_seed(0))
    y = 0.5 + 0.1 * torch.randn(2, 1, 24, 24, generator=torch.Generator().manual_seed(3))
    est = estimate_noise(y, energy=energy)
    torch.testing.assert_close(est, estimate_noise(y, energy=energy, method="energy"))
    assert not torch.allclose(est, estimate_noise(y))  # not the MAD start
    from scorematch.tasks import noise_level

    big = torch.cat([y, 0.5 + 0.3 * torch.randn(2, 1, 24, 24, generator=torch.Generator().manual_seed(4))], -1)
    torch.testing.assert_close(noise_level.central(big, 24), big[..., 12:36])
    assert noise_level.central(big, 100).shape == big.shape


def test_a_prior_s_noise_target_is_the_ratio_solved_for():
    from scorematch.prior import ImagePrior, Presets

    energy = DeepEnergy(4, 2, generator=torch.Generator().manual_seed(0))
    y = 0.5 + 0.1 * torch.randn(1, 1, 24, 24, generator=torch.Generator().manual_seed(3))
    start = estimate_noise(y)
    lower = energy_sigma(y, ImagePrior(energy, presets=Presets(noise_target=0.9)), start, n_eval=8, generator=None)
    higher = energy_sigma(y, ImagePrior(energy, presets=Presets(noise_target=1.1)), start, n_eval=8, generator=None)
    torch.testing.assert_close(lower, energy_sigma(y, energy, start, n_eval=8, generator=None, target=0.9))
    torch.testing.assert_close(higher, energy_sigma(y, energy, start, n_eval=8, generator=None, target=1.1))
    assert not torch.allclose(lower, higher)


def test_energy_method_keeps_a_noise_free_image_at_zero():
    energy = DeepEnergy(4, 2, generator=torch.Generator().manual_seed(0))
    est = estimate_noise(torch.full((1, 1, 16, 16), 0.5), energy=energy, method="energy")
    assert est.tolist() == [0.0]


@pytest.mark.parametrize(("y", "kwargs", "error", "message"), [
    (torch.rand(16, 16), {}, ValueError, r"shape \(B, C, H, W\)"),
    (torch.rand(1, 1, 3, 16), {}, ValueError, "at least 4x4 pixels for the wavelet"),
    (torch.full((1, 1, 8, 8), float("nan")), {}, ValueError, "NaN or inf"),
    (torch.zeros(1, 1, 8, 8, dtype=torch.int64), {}, TypeError, "floating-point"),
    ([[0.5]], {}, TypeError, "torch.Tensor"),
    (torch.rand(1, 1, 8, 8), {"method": "median"}, ValueError, "method must be one of"),
    (torch.rand(1, 1, 8, 8), {"method": "energy"}, ValueError, "needs a noise-conditional prior"),
    (torch.rand(1, 1, 8, 8), {"method": "energy", "energy": ImageFoE(4, 3)}, TypeError, "noise-conditional"),
    (torch.rand(1, 1, 8, 8), {"energy": DeepEnergy(4, 2), "method": "mad"}, ValueError, 'method "mad" uses no energy'),
    (torch.rand(1, 1, 8, 8), {"energy": ImageFoE(4, 3)}, TypeError, "noise-conditional"),
    (torch.rand(1, 1, 8, 8), {"method": "energy", "energy": DeepEnergy(4, 6)}, ValueError, "smaller than the prior's 13x13 support"),
    (torch.rand(1, 2, 8, 8), {"method": "energy", "energy": DeepEnergy(4, 2, in_channels=3)}, ValueError,
     "3-channel"),
    (torch.rand(1, 1, 8, 8), {"method": "energy", "energy": DeepEnergy(4, 2), "n_eval": 0}, ValueError,
     "n_eval must be >= 1"),
])
def test_bad_inputs_say_what_is_wrong(y, kwargs, error, message):
    with pytest.raises(error, match=message):
        estimate_noise(y, **kwargs)


def test_unknown_wavelet_is_refused():
    with pytest.raises(ValueError, match="wavelet must be one of"):
        mad_sigmas(torch.rand(1, 1, 8, 8), wavelet="db4")
