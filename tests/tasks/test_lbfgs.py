"""The restoration solvers' L-BFGS (scorematch.tasks.lbfgs): minima, budgets, stopping rules, against torch.optim."""

import pytest
import torch

from scorematch.tasks import lbfgs


def _quadratic(n: int, gen: torch.Generator):
    """``f(x) = x^T A x / 2 - b^T x`` with a well-conditioned SPD ``A``; its minimizer ``A^-1 b``."""
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    a = q @ torch.diag(torch.linspace(0.5, 4.0, n, dtype=torch.float64)) @ q.T
    b = torch.randn(n, generator=gen, dtype=torch.float64)

    def fun(x):
        ax = a @ x
        return 0.5 * x @ ax - b @ x, ax - b

    return fun, torch.linalg.solve(a, b)


def _rosenbrock(x):
    """The Rosenbrock function of a (2,) tensor and its gradient; minimum 0 at (1, 1)."""
    u, v = x[0], x[1]
    f = (1 - u) ** 2 + 100 * (v - u * u) ** 2
    return f, torch.stack([-2 * (1 - u) - 400 * u * (v - u * u), 200 * (v - u * u)])


def test_minimize_finds_the_minimum_of_a_quadratic():
    fun, x_star = _quadratic(20, torch.Generator().manual_seed(0))
    result = lbfgs.minimize(fun, torch.zeros(20, dtype=torch.float64), max_iter=100, tol_grad=1e-10)
    assert torch.allclose(result.x, x_star, atol=1e-6)
    assert result.n_iter < 60 and result.n_eval <= 125


def test_minimize_finds_the_minimum_of_the_rosenbrock_function():
    result = lbfgs.minimize(_rosenbrock, torch.tensor([-1.2, 1.0], dtype=torch.float64), max_iter=200,
                            max_eval=400, tol_grad=1e-9)
    assert torch.allclose(result.x, torch.ones(2, dtype=torch.float64), atol=1e-6)
    assert result.value < 1e-12


def test_minimize_keeps_the_shape_and_leaves_the_start_alone():
    fun, x_star = _quadratic(12, torch.Generator().manual_seed(1))
    x0 = torch.zeros(3, 4, dtype=torch.float64)
    result = lbfgs.minimize(lambda x: _reshaped(fun, x), x0, max_iter=50)
    assert result.x.shape == (3, 4) and torch.equal(x0, torch.zeros(3, 4, dtype=torch.float64))
    assert torch.allclose(result.x.reshape(-1), x_star, atol=1e-5)


def _reshaped(fun, x):
    f, g = fun(x.reshape(-1))
    return f, g.reshape(x.shape)


def test_minimize_respects_the_evaluation_budget_and_reports_it():
    calls = []

    def counted(x):
        calls.append(1)
        return _rosenbrock(x)

    result = lbfgs.minimize(counted, torch.tensor([-1.2, 1.0], dtype=torch.float64), max_iter=100, max_eval=15)
    assert result.n_eval == len(calls) <= 15
    assert result.value < _rosenbrock(torch.tensor([-1.2, 1.0], dtype=torch.float64))[0].item()


def _shifted_rosenbrock(x):
    f, g = _rosenbrock(x)
    return f + 1, g  # minimum 1: a relative decrease has a scale


def test_the_relative_tolerance_stops_when_the_objective_stalls_and_the_callback_sees_every_iteration():
    seen = []
    start = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    full = lbfgs.minimize(_shifted_rosenbrock, start, max_iter=200, max_eval=400, tol_grad=0)
    early = lbfgs.minimize(_shifted_rosenbrock, start, max_iter=200, max_eval=400, tol_grad=0, rtol=1e-2,
                           callback=lambda x, f: seen.append(f))
    assert early.n_iter < full.n_iter
    assert len(seen) == early.n_iter and seen[-1] == early.value
    last = seen[-1 - lbfgs.WINDOW]
    assert last - early.value < 1e-2 * lbfgs.WINDOW * abs(early.value)  # the rule that stopped it


def test_minimize_matches_torch_optim_lbfgs_on_a_quadratic():
    fun, _ = _quadratic(30, torch.Generator().manual_seed(2))
    ours = lbfgs.minimize(fun, torch.zeros(30, dtype=torch.float64), max_iter=8)
    z = torch.nn.Parameter(torch.zeros(30, dtype=torch.float64))
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=8, line_search_fn="strong_wolfe", tolerance_grad=1e-6,
                            tolerance_change=1e-12)

    def closure():
        f, g = fun(z.data)
        z.grad = g
        return f

    opt.step(closure)
    f_torch = fun(z.detach())[0].item()
    assert ours.value <= f_torch + 1e-6 * abs(f_torch)  # as good as torch.optim after the same iterations


@pytest.mark.parametrize("bad", [{"max_iter": 0}, {"history": 0}])
def test_minimize_refuses_an_empty_budget_or_memory(bad):
    with pytest.raises(ValueError, match="must be >= 1"):
        lbfgs.minimize(_rosenbrock, torch.zeros(2, dtype=torch.float64), **{"max_iter": 5, **bad})
