"""Degradation operators: adjointness, projection, shapes."""

import pytest
import torch

from scorematch.tasks import Denoising, Downsample


@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_downsample_adjoint_dot_product(factor, dtype, gen):
    op = Downsample(factor)
    x = torch.randn(2, 1, 6 * factor, 4 * factor, generator=gen, dtype=dtype)
    y = torch.randn(2, 1, 6, 4, generator=gen, dtype=dtype)
    lhs = (op.A(x) * y).sum()
    rhs = (x * op.A_adjoint(y)).sum()
    tol = 1e-12 if dtype == torch.float64 else 1e-4
    assert torch.allclose(lhs, rhs, rtol=tol, atol=tol)
    assert op.A(x).dtype == dtype


def test_downsample_block_average_and_projection(gen):
    op = Downsample(2)
    x = torch.arange(16.0, dtype=torch.float64).reshape(1, 1, 4, 4)
    assert op.A(x)[0, 0, 0, 0].item() == pytest.approx((0 + 1 + 4 + 5) / 4)
    z = torch.randn(1, 1, 8, 8, generator=gen, dtype=torch.float64)
    y = torch.rand(1, 1, 4, 4, generator=gen, dtype=torch.float64)
    p = op.project(z, y)
    assert torch.allclose(op.A(p), y, atol=1e-14)
    # an orthogonal projection: idempotent, and the change lies in the range of A^T (blockwise constant)
    assert torch.allclose(op.project(p, y), p, atol=1e-14)
    d = p - z
    assert torch.allclose(d, op.A_adjoint(op.A(d)) * 4, atol=1e-14)


def test_downsample_rejects_bad_shapes():
    with pytest.raises(ValueError):
        Downsample(0)
    with pytest.raises(ValueError, match="multiples"):
        Downsample(2).A(torch.zeros(1, 1, 5, 4))


def test_denoising_operator(gen):
    op = Denoising(0.1)
    x = torch.zeros(4, 1, 64, 64, dtype=torch.float64)
    assert torch.equal(op.A(x), x) and torch.equal(op.A_adjoint(x), x)
    y = op(x, generator=gen)
    assert y.dtype == torch.float64
    assert abs(y.std().item() - 0.1) < 0.005
    with pytest.raises(ValueError):
        Denoising(0.0)
