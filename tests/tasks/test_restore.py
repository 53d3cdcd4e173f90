"""Denoising and super-resolution with the bundled FoE prior: they improve PSNR and keep the constraint."""

import math

import pytest
import torch

import scorematch
from scorematch.datasets import read_image
from scorematch.pretrained import resolve
from scorematch.prior import ImagePrior, load_prior
from scorematch.prior.evaluation import check_image_size
from scorematch.tasks import MAP, Downsample, PaperSteps, denoise, psnr, superresolve, upscale_start
from scorematch.tasks.restore import annealed_steps

FOE = "foe_5x5x24"  # the paper's FoE, a weight-based MAP prior


@pytest.fixture(scope="module")
def prior():
    p = scorematch.load(resolve(FOE)).double()
    for q in p.parameters():
        q.requires_grad_(False)
    return p


@pytest.fixture(scope="module")
def clean():
    im = read_image(scorematch.datasets.data_dir() / "set12" / "cameraman.png", dtype=torch.float64)
    return im[64:128, 96:160].reshape(1, 1, 64, 64)  # (1, 1, 64, 64): the tripod and coat, edges and flat parts


@pytest.mark.parametrize("level", [1, 5, 15, 25])
def test_denoise_improves_psnr(prior, clean, level):
    sigma = level / 256
    y = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(level), dtype=clean.dtype)
    x = denoise(y, prior, sigma=sigma, solver=MAP(weight=load_prior(FOE).presets.denoising(sigma).weight))
    assert x.dtype == y.dtype and x.shape == y.shape
    assert psnr(x, clean) > psnr(y, clean) + (0.1 if level == 1 else 0.5)


def test_denoise_paper_schedule_runs_and_is_finite(prior, clean):
    sigma = 15 / 256
    y = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0), dtype=clean.dtype)
    x = denoise(y, prior, sigma=sigma, solver=PaperSteps())
    assert torch.isfinite(x).all()
    assert psnr(x, clean) > psnr(y, clean)


def test_denoise_zero_weight_returns_input(prior, clean):
    y = clean + 0.01
    assert torch.allclose(denoise(y, prior, sigma=0.02, solver=MAP(weight=0.0)), y, atol=1e-10)


def test_denoise_float32_keeps_dtype(prior, clean):
    p32 = prior.float()
    y = clean.float() + 0.02 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(3))
    x = denoise(y, p32, sigma=0.02, solver=MAP(iterations=20))
    assert x.dtype == torch.float32
    prior.double()


def test_denoise_tiled_equals_untiled(prior, clean):
    y = clean + 0.02 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(4), dtype=clean.dtype)
    a = denoise(y, prior, sigma=0.02, solver=MAP(iterations=30))
    b = denoise(y, ImagePrior(prior, tile=24), sigma=0.02, solver=MAP(iterations=30))
    assert (a - b).abs().max().item() < 1e-6


def test_denoise_rejects_bad_arguments(prior, clean):
    with pytest.raises(ValueError):
        denoise(clean, prior, sigma=0.0)
    with pytest.raises(ValueError):
        denoise(clean, prior, sigma=0.1, solver=MAP(start="nope"))
    with pytest.raises(TypeError):
        denoise(clean, prior, sigma=0.1, solver="nope")
    with pytest.raises(ValueError):
        denoise(clean[0], prior, sigma=0.1)


def test_annealed_steps_geometric():
    s = annealed_steps(300)
    assert s[0] == pytest.approx(2e-2) and s[-1] == pytest.approx(5e-4)
    assert all(b < a for a, b in zip(s, s[1:]))
    assert s[1] / s[0] == pytest.approx(s[-1] / s[-2])


@pytest.mark.parametrize("solver", [MAP(iterations=60), PaperSteps(iterations=60)], ids=["map", "paper"])
def test_superres_meets_block_average_constraint_and_improves(prior, clean, solver):
    op = Downsample(2)
    y = op.A(clean)
    x = superresolve(y, prior, solver=solver)
    assert x.shape == clean.shape
    assert torch.allclose(op.A(x), y, atol=1e-13, rtol=0)
    start = op.project(upscale_start(y, kind="lowpass"), y)
    assert psnr(x, clean) > psnr(upscale_start(y, kind="lowpass"), clean)
    assert math.isfinite(psnr(start, clean))


def test_upscale_start_kinds(clean):
    y = Downsample(2).A(clean)
    for kind in ("lowpass", "bicubic"):
        assert upscale_start(y, kind=kind).shape == clean.shape
        p = upscale_start(y, kind=kind, project=True)
        assert torch.allclose(Downsample(2).A(p), y, atol=1e-13)
    with pytest.raises(ValueError):
        upscale_start(y, kind="nearest")


def test_images_smaller_than_the_priors_support_are_refused_at_the_entry(prior, clean):
    assert prior.support == 9  # 5x5 filters on the 5x5 whitening
    for shape in [(1, 1), (3, 3), (8, 40), (40, 8)]:
        with pytest.raises(ValueError, match=rf"the image is {shape[0]}x{shape[1]} pixels, smaller than the prior's "
                                             r"9x9 support \(the window one energy term sees\); give an image of "
                                             r"at least 9x9 pixels"):
            denoise(clean[..., : shape[0], : shape[1]], prior, sigma=0.02, solver=MAP(iterations=1))
    smallest = denoise(clean[..., :9, :9], prior, sigma=0.02, solver=MAP(iterations=1))
    assert smallest.shape == (1, 1, 9, 9)  # the smallest accepted
    with pytest.raises(ValueError, match=r"the image is 4x8 pixels \(8x16 after the 2x upscale\), smaller than the "
                                         r"prior's 9x9 support .*at least 5x5 pixels"):
        superresolve(clean[..., :4, :8], prior, solver=MAP(iterations=1))
    assert superresolve(clean[..., :5, :5], prior, solver=MAP(iterations=1)).shape == (1, 1, 10, 10)


def test_size_check_rounds_the_smallest_input_up_and_skips_energies_without_support(prior):
    with pytest.raises(ValueError, match=r"the image is 2x3 pixels \(6x9 after the 3x upscale\).*at least 3x3 pixels"):
        check_image_size(prior, (2, 3), factor=3)
    check_image_size(prior, (3, 3), factor=3)  # 9x9: fits
    check_image_size(scorematch.GaussianEnergy(4), (1, 1))  # no support: nothing to check


# ----------------------------------------------------------------------------- the general solver

from scorematch.tasks import Blur, Denoising, Inpaint, restore  # noqa: E402
from scorematch.prior.evaluation import extend  # noqa: E402
from scorematch.tasks.restore import objective_and_grad  # noqa: E402


def _motion_kernel() -> torch.Tensor:
    k = torch.zeros(7, 7, dtype=torch.float64)
    k[3, :] = 1.0
    k[2, 4:] = 0.5
    return k / k.sum()


def test_restore_with_the_identity_is_denoise(prior, clean):
    y = Denoising(5 / 256)(clean, generator=torch.Generator().manual_seed(4))
    a = denoise(y, prior, sigma=5 / 256, solver=MAP(weight=0.5, iterations=10))
    b = restore(y, Denoising(5 / 256), prior, sigma=5 / 256, solver=MAP(weight=0.5, iterations=10))
    assert torch.equal(a, b)


@pytest.mark.parametrize("boundary", ["periodic", "valid"])
def test_restore_deblurs(prior, clean, boundary):
    op, sigma = Blur(_motion_kernel(), boundary=boundary), 0.01
    y = op.observe(clean, sigma=sigma, generator=torch.Generator().manual_seed(5))
    x = restore(y, op, prior, sigma=sigma, solver=MAP(weight=0.5, iterations=60))
    assert x.shape == clean.shape
    start = op.start(y)
    assert psnr(x, clean) > psnr(start, clean) + 2.0  # a clear gain over the blurred image


def test_restore_inpaints_without_noise_and_keeps_the_known_pixels(prior, clean):
    mask = (torch.rand(64, 64, generator=torch.Generator().manual_seed(6)) > 0.5).double()
    op = Inpaint(mask)
    y = op.A(clean)
    x = restore(y, op, prior, sigma=0.0, solver=MAP(iterations=60))
    known = mask.bool()[None, None]
    assert torch.allclose(x[known], clean[known], atol=1e-12)
    assert psnr(x, clean) > psnr(op.start(y), clean) + 0.3  # better than the smooth fill it starts from


def test_restore_objective_gradient_is_the_autograd_one(prior, clean, gen):
    """float64: the scaled MAP objective's gradient through a valid blur against autograd."""
    op = Blur(_motion_kernel()[:5, :6], boundary="valid")
    x = clean[..., :24, :24].clone()
    y = op.A(x) + 0.01 * torch.randn(op.A(x).shape, generator=gen, dtype=torch.float64)
    value, g = objective_and_grad(x, y, op, ImagePrior(prior), sigma=0.02, weight=0.7)
    xr = x.clone().requires_grad_(True)
    e = prior.energy(extend(xr, prior.support - 1, "replicate"))
    r = op.A(xr) - y
    ref = 0.02**2 * 0.7 * e.sum() + 0.5 * (r * r).sum()
    (g_ref,) = torch.autograd.grad(ref, xr)
    assert torch.allclose(value, ref.detach(), rtol=1e-12)
    assert torch.allclose(g, g_ref, rtol=1e-10, atol=1e-12)


def test_restore_refuses_bad_problems(prior, clean):
    op = Blur(_motion_kernel())
    with pytest.raises(ValueError, match="no exact constraint"):
        restore(clean, op, prior, sigma=0.0)
    with pytest.raises(ValueError, match="sigma"):
        restore(clean, op, prior, sigma=-1.0)
    with pytest.raises(TypeError, match="LinearOperator"):
        restore(clean, "blur", prior, sigma=0.1)
    paint = Inpaint((torch.arange(64 * 64).reshape(64, 64) % 2).double())  # super-resolution has a default step
    with pytest.raises(ValueError, match="step_scale"):
        restore(paint.A(clean), paint, prior, sigma=0.0, solver=PaperSteps())
    with pytest.raises(ValueError, match="smaller than the prior"):
        restore(clean[..., :4, :4], Denoising(0.1), prior, sigma=0.1)


def test_restore_progress_bar_changes_nothing_but_stderr(prior, clean, capsys):
    y = Denoising(5 / 256)(clean, generator=torch.Generator().manual_seed(8))
    quiet = restore(y, Denoising(5 / 256), prior, sigma=5 / 256, solver=MAP(iterations=4))
    shown = restore(y, Denoising(5 / 256), prior, sigma=5 / 256, solver=MAP(iterations=4), progress=True)
    assert torch.equal(quiet, shown)
    assert "restore" in capsys.readouterr().err
