"""The CUDA path: energies, derivatives, estimators and fit on the GPU agree with the CPU (skipped without CUDA)."""

import functools

import pytest
import torch

import scorematch as sm

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CUDA = torch.device("cuda")


def _models():
    g = torch.Generator().manual_seed(0)
    return [
        (sm.ProductOfExperts(12, 12, generator=g).double(), torch.rand(8, 12, generator=g, dtype=torch.float64)),
        (sm.FieldOfExperts(6, 3, generator=g).double(), torch.rand(2, 1, 9, 9, generator=g, dtype=torch.float64)),
    ]


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("method", ["curvature", "exact"])
def test_cuda_loss_and_gradients_match_cpu(which, method):
    energy, x = _models()[which]
    loss_cpu = sm.score_matching_loss(energy, x, lam=0.01, method=method)
    grads_cpu = torch.autograd.grad(loss_cpu, list(energy.parameters()))
    gpu = energy.to(CUDA)
    loss_gpu = sm.score_matching_loss(gpu, x.to(CUDA), lam=0.01, method=method)
    assert loss_gpu.device.type == "cuda"
    grads_gpu = torch.autograd.grad(loss_gpu, list(gpu.parameters()))
    torch.testing.assert_close(loss_gpu.cpu(), loss_cpu, rtol=1e-9, atol=1e-9)
    for a, b in zip(grads_gpu, grads_cpu):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-8, atol=1e-9)


def test_cuda_estimators_run_on_device():
    energy, x = _models()[0]
    energy, x = energy.to(CUDA), x.to(CUDA)
    gen = torch.Generator(device=CUDA).manual_seed(0)
    for loss in (
        sm.sliced_score_matching_loss(energy, x, generator=gen),
        sm.denoising_score_matching_loss(energy, x, sigma=0.1, generator=gen),
        sm.score_matching_loss(energy, x, method="hutchinson", generator=gen),
    ):
        assert loss.device.type == "cuda" and torch.isfinite(loss)


def test_fit_on_cuda_lowers_the_loss(tmp_path):
    energy, x = _models()[0]
    energy, x = energy.to(CUDA), x.to(CUDA)
    result = sm.fit(energy, x, functools.partial(sm.score_matching_loss, lam=0.01), steps=30, batch_size=None,
                    lr=0.05, log_every=10, run_dir=tmp_path)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert sm.load(tmp_path / "model.safetensors").config() == energy.config()
