"""Our priors inside deepinv and deepinv's physics inside our solver (run by ``.ci/interop`` in its own
virtualenv, where deepinv and a torchvision matching torch are installed).

The blur problem: deepinv's ``BlurFFT`` physics with a motion kernel and Gaussian noise of 0.01 on 64x64 Set12
crops. Every weight is chosen on the cameraman crop and reported on the house crop.
"""

import pytest
import torch

deepinv = pytest.importorskip("deepinv")

from scorematch.datasets import data_dir, read_image  # noqa: E402
from scorematch.interop.deepinv import EnergyPrior  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402
from scorematch.tasks import MAP, psnr, restore  # noqa: E402

SIGMA = 0.01


def _crop(name: str, i: int, j: int) -> torch.Tensor:
    im = read_image(data_dir() / "set12" / f"{name}.png", dtype=torch.float64)
    return im[i : i + 64, j : j + 64][None, None]  # (1, 1, 64, 64)


def _kernel() -> torch.Tensor:
    k = torch.zeros(9, 9, dtype=torch.float64)
    k[4, 1:8], k[3, 5:9], k[5, 0:3] = 1.0, 0.6, 0.4
    return (k / k.sum())[None, None]  # (1, 1, 9, 9), deepinv's filter layout


@pytest.fixture(scope="module")
def problem():
    physics = deepinv.physics.BlurFFT(img_size=(1, 64, 64), filter=_kernel(), device="cpu",
                                      noise_model=deepinv.physics.GaussianNoise(sigma=SIGMA))
    images = {"tune": _crop("cameraman", 64, 96), "test": _crop("house", 96, 96)}
    torch.manual_seed(0)
    observed = {k: physics(x) for k, x in images.items()}
    prior = load_pretrained("foe_5x5x24").double()
    for p in prior.parameters():
        p.requires_grad_(False)
    return physics, images, observed, prior


def _choose(run, grid, images, observed):
    """The grid value best on the tuning crop, and the test crop's PSNR with it."""
    best = max(grid, key=lambda v: psnr(run(observed["tune"], v).clamp(0, 1), images["tune"]))
    return best, psnr(run(observed["test"], best).clamp(0, 1), images["test"])


def test_energy_prior_is_the_energy_and_its_gradient(problem):
    _, images, _, prior = problem
    g = EnergyPrior(prior)
    x = torch.cat([images["tune"], images["test"]]).repeat(1, 3, 1, 1).float()  # colour, float32: converted copy
    e, grad = g.fn(x), g.grad(x)
    assert e.shape == (2,) and grad.shape == x.shape and grad.dtype == torch.float32
    xr = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(g.fn(xr).sum(), xr)
    assert torch.allclose(grad, auto, rtol=1e-4, atol=1e-3 * auto.abs().max().item())


def test_restore_with_deepinv_physics_beats_deepinv_tv_in_pgd(problem):
    physics, images, observed, prior = problem

    def ours(y, w):
        return restore(y, physics, prior, sigma=SIGMA, solver=MAP(weight=w, iterations=80))

    def tv(y, lam):
        model = deepinv.optim.optim_builder("PGD", prior=deepinv.optim.TVPrior(n_it_max=50),
                                            data_fidelity=deepinv.optim.L2(), max_iter=100,
                                            params_algo={"stepsize": 1.0, "lambda": lam})
        with torch.no_grad():
            return model(y, physics)

    w, ours_psnr = _choose(ours, (0.06, 0.12, 0.25, 0.5, 1.0), images, observed)
    lam, tv_psnr = _choose(tv, (1e-4, 3e-4, 1e-3, 3e-3, 1e-2), images, observed)
    blurred = psnr(observed["test"].clamp(0, 1), images["test"])
    print(f"blurred {blurred:.2f} dB, ours (weight {w}) {ours_psnr:.2f} dB, deepinv TV-PGD (lambda {lam}) "
          f"{tv_psnr:.2f} dB")
    assert ours_psnr > tv_psnr


def test_energy_prior_in_deepinv_gradient_descent_improves_on_the_blurred_input(problem):
    physics, images, observed, prior = problem
    model = deepinv.optim.optim_builder("GD", prior=EnergyPrior(prior), data_fidelity=deepinv.optim.L2(),
                                        max_iter=200, params_algo={"stepsize": 0.5, "lambda": SIGMA**2 * 0.5})
    with torch.no_grad():
        x = model(observed["test"], physics)
    assert psnr(x.clamp(0, 1), images["test"]) > psnr(observed["test"].clamp(0, 1), images["test"]) + 1.0
