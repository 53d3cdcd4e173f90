"""The CUDA path: energies, derivatives, estimators, samplers, restoration, fit and the CLI on the GPU agree
with the CPU (skipped without CUDA).

``SCOREMATCH_TEST_DEVICE=cpu pytest -m gpu tests/gpu/test_gpu.py`` runs the same checks with the CPU as the
"device", to debug the tests themselves on a machine without a GPU.
"""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import scorematch as sm
from scorematch.cli import main
from scorematch.datasets import data_dir, read_image
from scorematch.energies import ImageFoE
from scorematch.estimators import GaussianNoise, LogNormalized, nce_loss
from scorematch.estimators.contrastive import contrastive_divergence_loss
from scorematch.samplers import hmc, langevin
from scorematch.pretrained import resolve
from scorematch.tasks import MAP, PaperSteps, denoise, psnr, superresolve
from scorematch.tasks.operators import Downsample

DEVICE = torch.device(os.environ.get("SCOREMATCH_TEST_DEVICE", "cuda"))
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(DEVICE.type == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _models():
    g = torch.Generator().manual_seed(0)
    return [
        (sm.ProductOfExperts(12, 12, generator=g).double(), torch.rand(8, 12, generator=g, dtype=torch.float64)),
        (sm.FieldOfExperts(6, 3, generator=g).double(), torch.rand(2, 1, 9, 9, generator=g, dtype=torch.float64)),
    ]


def _all_energies():
    g = torch.Generator().manual_seed(1)
    img = torch.rand(2, 1, 12, 12, generator=g, dtype=torch.float64)
    vec = torch.rand(5, 9, generator=g, dtype=torch.float64)
    return {
        "poe": (sm.ProductOfExperts(9, 7, generator=g).double(), vec),
        "foe": (sm.FieldOfExperts(4, 3, generator=g).double(), img),
        "image_foe": (ImageFoE(4, 3, scale=255.0, whitening_size=5, generator=g).double(), img),
        "two_layer": (sm.TwoLayerEnergy(9, 6, 3, generator=g).double(), vec),
        "gaussian": (sm.GaussianEnergy(9).double(), vec),
    }


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("method", ["curvature", "exact"])
def test_cuda_loss_and_gradients_match_cpu(which, method):
    energy, x = _models()[which]
    loss_cpu = sm.score_matching_loss(energy, x, lam=0.01, method=method)
    grads_cpu = torch.autograd.grad(loss_cpu, list(energy.parameters()))
    gpu = energy.to(DEVICE)
    loss_gpu = sm.score_matching_loss(gpu, x.to(DEVICE), lam=0.01, method=method)
    assert loss_gpu.device.type == DEVICE.type
    grads_gpu = torch.autograd.grad(loss_gpu, list(gpu.parameters()))
    torch.testing.assert_close(loss_gpu.cpu(), loss_cpu, rtol=1e-9, atol=1e-9)
    for a, b in zip(grads_gpu, grads_cpu):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", ["poe", "foe", "image_foe", "two_layer", "gaussian"])
def test_every_energy_and_its_input_derivatives_match_cpu(name):
    energy, x = _all_energies()[name]
    method = "curvature" if isinstance(energy, sm.LayeredEnergy) else "exact"
    e_cpu = energy.energy(x)
    d_cpu = sm.input_derivatives(energy, x, method=method)
    gpu, xg = energy.to(DEVICE), x.to(DEVICE)
    e_gpu = gpu.energy(xg)
    d_gpu = sm.input_derivatives(gpu, xg, method=method)
    assert e_gpu.device.type == DEVICE.type
    torch.testing.assert_close(e_gpu.cpu(), e_cpu, rtol=1e-9, atol=1e-9)
    for a, b in zip(d_gpu, d_cpu):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-8, atol=1e-8)


def test_cuda_estimators_run_on_device():
    energy, x = _models()[0]
    energy, x = energy.to(DEVICE), x.to(DEVICE)
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    for loss in (
        sm.sliced_score_matching_loss(energy, x, generator=gen),
        sm.sliced_score_matching_loss(energy, x, distribution="gaussian", generator=gen),
        sm.denoising_score_matching_loss(energy, x, sigma=0.1, generator=gen),
        sm.score_matching_loss(energy, x, method="hutchinson", generator=gen),
        contrastive_divergence_loss(energy, x, sampler="hmc", step_size=0.05, n_leapfrog=5, generator=gen),
        contrastive_divergence_loss(energy, x, sampler="langevin", step_size=0.05, generator=gen),
    ):
        assert loss.device.type == DEVICE.type and torch.isfinite(loss)
        grads = torch.autograd.grad(loss, list(energy.parameters()), allow_unused=True)
        assert all(g is None or torch.isfinite(g).all() for g in grads)


def test_nce_on_device():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(64, 3, generator=g, dtype=torch.float64).to(DEVICE)
    noise = GaussianNoise.from_data(data)
    model = LogNormalized(sm.GaussianEnergy(3).double()).to(DEVICE)
    loss = nce_loss(model, data, noise=noise, generator=torch.Generator(device=DEVICE).manual_seed(1))
    assert loss.device.type == DEVICE.type and torch.isfinite(loss)
    loss.backward()


@pytest.mark.parametrize("sampler", ["langevin", "hmc"])
def test_samplers_on_device_with_either_generator(sampler):
    energy = sm.GaussianEnergy(3).double().to(DEVICE)
    x0 = torch.zeros(16, 3, dtype=torch.float64, device=DEVICE)
    run = functools.partial(langevin, step_size=0.5, n_steps=3) if sampler == "langevin" else \
        functools.partial(hmc, step_size=0.3, n_leapfrog=4, n_steps=3)
    for gen in (torch.Generator(device=DEVICE).manual_seed(0), torch.Generator().manual_seed(0), None):
        out = run(energy, x0, generator=gen)
        assert out.samples.device.type == DEVICE.type and torch.isfinite(out.samples).all()
    # a seeded CPU generator gives the same chain on either device
    a = run(energy.cpu(), x0.cpu(), generator=torch.Generator().manual_seed(5)).samples
    b = run(energy.to(DEVICE), x0, generator=torch.Generator().manual_seed(5)).samples
    torch.testing.assert_close(b.cpu(), a, rtol=1e-8, atol=1e-10)


@pytest.fixture
def house():
    return read_image(data_dir() / "set12" / "house.png", dtype=torch.float64)[100:132, 100:132][None, None]


@pytest.mark.parametrize("solver", [MAP, PaperSteps])
def test_denoise_on_device_matches_cpu(house, solver):
    prior = sm.load(resolve("foe_5x5x24")).double()
    y = house + (5 / 256) * torch.randn(house.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    cpu = denoise(y, prior, sigma=5 / 256, solver=solver(weight=0.3, iterations=20))
    gpu = denoise(y.to(DEVICE), prior.to(DEVICE), sigma=5 / 256, solver=solver(weight=0.3, iterations=20))
    assert gpu.device.type == DEVICE.type
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-5)
    assert psnr(gpu.cpu().clamp(0, 1), house) > sm.tasks.psnr(y, house)


@pytest.mark.parametrize("solver", [MAP, PaperSteps])
def test_superresolve_on_device_meets_the_constraint(house, solver):
    prior = sm.load(resolve("foe_5x5x24")).double()
    op = Downsample(2)
    y = op.A(house)
    cpu = superresolve(y, prior, solver=solver(iterations=10))
    gpu = superresolve(y.to(DEVICE), prior.to(DEVICE), solver=solver(iterations=10))
    assert gpu.device.type == DEVICE.type
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(op.A(gpu).cpu(), y, rtol=0, atol=1e-10)


def test_fit_on_cuda_lowers_the_loss(tmp_path):
    energy, x = _models()[0]
    energy, x = energy.to(DEVICE), x.to(DEVICE)
    result = sm.fit(energy, x, functools.partial(sm.score_matching_loss, lam=0.01), steps=30, batch_size=None,
                    lr=0.05, log_every=10, run_dir=tmp_path)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert sm.load(tmp_path / "model.safetensors").config() == energy.config()


def test_cli_train_denoise_sample_with_device(tmp_path, capsys, house):
    dev = str(DEVICE)
    assert main(["train", "foe", "--data", "train400", "--n-train", "10", "--lam", "1e-5", "--scale", "255",
                 "--whiten", "5", "--steps", "5", "--batch-size", "8", "--experts", "4", "--device", dev,
                 "--out", str(tmp_path / "run")]) == 0
    assert sm.load(tmp_path / "run" / "model.safetensors") is not None
    y = house[0, 0].numpy() + (5 / 256) * np.random.default_rng(0).standard_normal(house.shape[-2:])
    np.save(tmp_path / "noisy.npy", y)
    np.save(tmp_path / "clean.npy", house[0, 0].numpy())
    capsys.readouterr()
    assert main(["denoise", str(tmp_path / "noisy.npy"), "-o", str(tmp_path / "out.npy"), "--sigma", "5/256",
                 "--reference", str(tmp_path / "clean.npy"), "--device", dev]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["psnr"] > res["psnr_input"]
    assert main(["superres", str(tmp_path / "clean.npy"), "-o", str(tmp_path / "big.npy"), "--device", dev]) == 0
    assert main(["sample", "--model", "roth_black_3x3x8", "-o", str(tmp_path / "s.png"), "--n", "2", "--size", "8",
                 "--steps", "4", "--device", dev]) == 0


@pytest.mark.skipif(DEVICE.type != "cuda", reason="NCCL needs CUDA")
def test_torchrun_nccl_train_on_one_gpu(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "--master_port", "29533",
         "-m", "scorematch", "train", "foe", "--data", "train400", "--n-train", "10", "--lam", "1e-5",
         "--scale", "255", "--whiten", "5", "--steps", "5", "--batch-size", "8", "--experts", "4",
         "--device", "cuda", "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "ddp" / "model.safetensors").is_file()
