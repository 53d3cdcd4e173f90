"""Degradation operators: adjointness, projection, shapes."""

import math

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


# ----------------------------------------------------------------------------- every operator

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from scorematch.tasks import Blur, Inpaint  # noqa: E402

D = torch.float64


def _operators(gen):
    """(operator, image shape) pairs: every kind, odd and even, square and non-square kernels, colour."""
    k53 = torch.rand(5, 3, generator=gen, dtype=D)
    k44 = torch.rand(4, 4, generator=gen, dtype=D)
    mask = (torch.rand(9, 11, generator=gen) > 0.5).double()
    return [(Denoising(0.1), (2, 3, 9, 11)), (Downsample(3), (2, 3, 9, 12)),
            (Blur(k53), (2, 3, 9, 11)), (Blur(k44), (1, 1, 8, 10)),
            (Blur(k53, boundary="valid"), (2, 3, 9, 11)), (Blur(k44, boundary="valid"), (1, 1, 8, 10)),
            (Inpaint(mask), (2, 3, 9, 11))]


@pytest.mark.parametrize("which", range(7), ids=["identity", "downsample3", "blur-periodic", "blur-periodic-even",
                                                  "blur-valid", "blur-valid-even", "inpaint"])
def test_adjoint_dot_product_and_sizes(which, gen):
    op, shape = _operators(gen)[which]
    x = torch.randn(shape, generator=gen, dtype=D)
    ax = op.A(x)
    assert op.image_size(*ax.shape[-2:]) == shape[-2:]
    y = torch.randn(ax.shape, generator=gen, dtype=D)
    assert torch.allclose((ax * y).sum(), (x * op.A_adjoint(y)).sum(), rtol=1e-12)
    assert op.start(y).shape == shape


@pytest.mark.parametrize("boundary", ["periodic", "valid"])
@pytest.mark.parametrize("kshape", [(5, 3), (4, 4), (1, 7)])
def test_blur_is_scipy_convolve_with_the_kernel_centre_at_the_origin(boundary, kshape, gen):
    k = torch.rand(kshape, generator=gen, dtype=D)
    x = torch.rand(1, 1, 12, 10, generator=gen, dtype=D)
    ours = Blur(k, boundary=boundary).A(x)[0, 0].numpy()
    mode = "wrap" if boundary == "periodic" else "constant"
    ref = ndimage.convolve(x[0, 0].numpy(), k.numpy(), mode=mode)
    if boundary == "valid":  # the outputs whose window lies inside the image
        kh, kw = kshape
        ch, cw = kh // 2, kw // 2
        ref = ref[kh - 1 - ch : 12 - ch, kw - 1 - cw : 10 - cw]
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_blur_valid_start_lines_up_with_the_observation(gen):
    k = torch.zeros(5, 3, dtype=D)
    k[2, 1] = 1.0  # a delta at the centre: y is the image's interior
    x = torch.rand(1, 2, 12, 10, generator=gen, dtype=D)
    op = Blur(k, boundary="valid")
    start = op.start(op.A(x))
    assert torch.equal(start[..., 2:-2, 1:-1], x[..., 2:-2, 1:-1])


@pytest.mark.parametrize("which", [1, 6], ids=["downsample", "inpaint"])
def test_exact_projection(which, gen):
    op, shape = _operators(gen)[which]
    assert op.exact
    x = torch.randn(shape, generator=gen, dtype=D)
    y = op.A(torch.rand(shape, generator=gen, dtype=D))
    p = op.project(x, y)
    assert torch.allclose(op.A(p), y, atol=1e-13)
    assert torch.allclose(op.project(p, y), p, atol=1e-13)  # idempotent
    zero = torch.zeros_like(y)
    g = torch.randn(shape, generator=gen, dtype=D)
    assert torch.allclose((op.project(g, zero) * x).sum(), (g * op.project(x, zero)).sum())  # symmetric linear part


def test_inpaint_start_fills_every_pixel_and_keeps_the_known_ones(gen):
    mask = torch.zeros(20, 20)
    mask[::4, ::4] = 1  # one known pixel in 16
    x = torch.rand(1, 3, 20, 20, generator=gen, dtype=D)
    op = Inpaint(mask)
    start = op.start(op.A(x))
    assert torch.isfinite(start).all()
    known = mask.bool().expand_as(x)
    assert torch.equal(start[known], x[known])
    assert start[~known].min() >= x.min() and start[~known].max() <= x.max()  # averages of known values


def test_operator_errors():
    with pytest.raises(ValueError, match="NaN"):
        Blur(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="positive sum"):
        Blur(-torch.ones(3, 3))
    with pytest.raises(ValueError, match="boundary"):
        Blur(torch.ones(3, 3), boundary="reflect")
    with pytest.raises(ValueError, match="larger than"):
        Blur(torch.ones(7, 7), boundary="valid").A(torch.zeros(1, 1, 5, 9))
    with pytest.raises(ValueError, match="the mask is"):
        Inpaint(torch.ones(4, 4)).A(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="no pixel"):
        Inpaint(torch.zeros(4, 4))
    with pytest.raises(NotImplementedError, match="sigma > 0"):
        Blur(torch.ones(3, 3)).project(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))


def test_denoising_start_smooths_with_the_noise_level_and_keeps_constants():
    """The first estimate of denoising: ``y`` smoothed by a Gaussian whose width grows with sigma (1 pixel at
    25/256), normalized at the border so that a constant image stays constant."""
    from scorematch.tasks.operators import START_SMOOTHING

    flat = torch.full((1, 2, 9, 11), 0.3, dtype=torch.float64)
    assert torch.allclose(Denoising(25 / 256).start(flat), flat)
    y = torch.zeros(1, 1, 15, 15, dtype=torch.float64)
    y[0, 0, 7, 7] = 1.0
    for sigma in (5 / 256, 25 / 256):
        s = START_SMOOTHING * sigma
        out = Denoising(sigma).start(y)[0, 0]
        assert out.sum().item() == pytest.approx(1.0, rel=1e-6)
        ratio = (out[7, 8] / out[7, 7]).item()  # one pixel off the centre of a Gaussian of std s
        assert ratio == pytest.approx(math.exp(-1 / (2 * s * s)), rel=1e-6)
