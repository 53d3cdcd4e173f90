"""L-BFGS with a strong-Wolfe line search on one tensor (Nocedal & Wright 2006, algorithms 7.4, 3.5 and 3.6).

The restoration solvers minimize a smooth objective of one image tensor, so they need no optimizer object over
parameters: this module is theirs. (``torch.optim`` would also do, but creating any of its optimizers imports
``torch._dynamo``, about 1.5-2 s of every command's start-up on these CPUs; ``benchmarks/denoise_vs_bm3d.py``
times it.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["minimize", "max_evaluations", "Result"]

#: ``fun(x) -> (f(x), grad f(x))``: a scalar tensor and a tensor shaped like ``x``.
Objective = Callable[[Tensor], tuple[Tensor, Tensor]]

#: Sufficient decrease and curvature constants of the strong Wolfe conditions.
C1, C2 = 1e-4, 0.9
#: Line-search trials per iteration (bracketing and zooming together).
MAX_TRIALS = 25
#: Iterations over which ``rtol`` measures the objective's decrease.
WINDOW = 3


@dataclass(frozen=True)
class Result:
    """The minimizer's end point: ``x``, ``f(x)``, iterations and objective evaluations used."""

    x: Tensor
    value: float
    n_iter: int
    n_eval: int


@dataclass(frozen=True)
class _Point:
    """A trial step ``t`` along the search direction: ``f(x + t d)``, its gradient and its slope ``g . d``."""

    t: float
    f: float
    g: Tensor
    slope: float


def minimize(fun: Objective, x0: Tensor, *, max_iter: int, max_eval: int | None = None, history: int = 10,
             tol_grad: float = 1e-6, tol_change: float = 1e-12, rtol: float = 0.0,
             callback: Callable[[Tensor, float], None] | None = None) -> Result:
    """Minimize ``fun`` from ``x0`` by L-BFGS with a strong-Wolfe line search.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (value, grad)``, value a scalar tensor, grad shaped like ``x``; called without a graph.
    x0 : Tensor, any shape
    max_iter : int
        Iterations (line searches) at most.
    max_eval : int, optional
        Evaluations of ``fun`` at most (default :func:`max_evaluations`); a line search stops at the budget.
    history : int
        Pairs ``(s, y)`` kept for the inverse-Hessian estimate.
    tol_grad : float
        Stop when the gradient's largest entry is at most this.
    tol_change : float
        Stop when a step changes the objective, or every entry of ``x``, by less than this.
    rtol : float
        Stop when the last :data:`WINDOW` iterations lowered the objective by less than ``rtol`` times its
        magnitude per iteration (0: never).
    callback : callable, optional
        ``callback(x, value)`` after every iteration.

    Returns
    -------
    Result

    Every line search first tries the full step ``t = 1``, the first one too (along ``-grad``): the solvers
    scale their objectives so that the curvature is of order 1.
    """
    if max_iter < 1 or history < 1:
        raise ValueError(f"max_iter and history must be >= 1, got {max_iter} and {history}")
    budget = _Budget(fun, max_eval if max_eval is not None else max_evaluations(max_iter))
    x = x0.detach().clone()
    f, g = budget(x)
    memory: deque[tuple[Tensor, Tensor, float]] = deque(maxlen=history)
    values = deque([f], maxlen=WINDOW + 1)
    n_iter = 0
    while n_iter < max_iter and g.abs().max().item() > tol_grad:
        n_iter += 1
        d = _direction(g, memory)
        slope = _dot(g, d)
        if slope > -tol_change:  # not a descent direction any more (rounding)
            break
        end = _line_search(budget, x, d, _Point(0.0, f, g, slope), 1.0, tol_change)
        step = d * end.t
        _remember(memory, step, end.g - g)
        x = x + step
        f_old, f, g = f, end.f, end.g
        values.append(f)
        if callback is not None:
            callback(x, f)
        if budget.spent() or abs(f - f_old) < tol_change or step.abs().max().item() <= tol_change:
            break
        if len(values) > WINDOW and values[0] - f < rtol * WINDOW * abs(f):
            break
    return Result(x, f, n_iter, budget.n_eval)


def max_evaluations(max_iter: int) -> int:
    """The default evaluation budget of ``max_iter`` iterations: ``1.25 max_iter + 1`` (the line searches'
    extra trials)."""
    return int(max_iter * 1.25) + 1


class _Budget:
    """``fun`` with a count of its evaluations and their limit."""

    def __init__(self, fun: Objective, max_eval: int) -> None:
        self.fun, self.max_eval, self.n_eval = fun, max(max_eval, 1), 0

    def __call__(self, x: Tensor) -> tuple[float, Tensor]:
        self.n_eval += 1
        with torch.no_grad():
            f, g = self.fun(x)
        return float(f), g

    def spent(self) -> bool:
        return self.n_eval >= self.max_eval


def _dot(a: Tensor, b: Tensor) -> float:
    return torch.dot(a.reshape(-1), b.reshape(-1)).item()


def _direction(g: Tensor, memory: deque) -> Tensor:
    """``-H g`` by the two-loop recursion over the stored pairs (``H`` scaled by ``s.y / y.y`` of the newest)."""
    q = -g
    alphas = []
    for s, y, rho in reversed(memory):
        a = rho * _dot(s, q)
        q = q.add(y, alpha=-a)
        alphas.append(a)
    if memory:
        s, y, rho = memory[-1]
        q = q * (1.0 / (rho * _dot(y, y)))
    for (s, y, rho), a in zip(memory, reversed(alphas)):
        q = q.add(s, alpha=a - rho * _dot(y, q))
    return q


def _remember(memory: deque, s: Tensor, y: Tensor) -> None:
    """Keep the pair when its curvature ``y . s`` is positive (else the estimate would lose definiteness)."""
    ys = _dot(y, s)
    if ys > 1e-10:
        memory.append((s, y, 1.0 / ys))


def _line_search(budget: _Budget, x: Tensor, d: Tensor, start: _Point, t: float, tol_change: float) -> _Point:
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions (algorithm 3.5): bracket, then zoom."""
    prev = start
    for _ in range(MAX_TRIALS):
        cur = _trial(budget, x, d, t)
        if not _sufficient(start, cur) or (prev is not start and cur.f >= prev.f):
            return _zoom(budget, x, d, start, prev, cur, tol_change)
        if abs(cur.slope) <= -C2 * start.slope:
            return cur
        if cur.slope >= 0:
            return _zoom(budget, x, d, start, cur, prev, tol_change)
        if budget.spent():
            return cur
        prev, t = cur, _cubic_min(prev, cur, bounds=(cur.t + 0.01 * (cur.t - prev.t), 10 * cur.t))
    return cur


def _zoom(budget: _Budget, x: Tensor, d: Tensor, start: _Point, lo: _Point, hi: _Point,
          tol_change: float) -> _Point:
    """Shrink the bracket ``[lo, hi]`` (``lo`` the lower objective) to a strong-Wolfe step (algorithm 3.6)."""
    for _ in range(MAX_TRIALS):
        if budget.spent() or abs(hi.t - lo.t) * d.abs().max().item() < tol_change:
            break
        a, b = sorted((lo.t, hi.t))
        t = _cubic_min(lo, hi, bounds=(a, b))
        t = min(max(t, a + 0.1 * (b - a)), b - 0.1 * (b - a))  # stay inside: progress on every trial
        cur = _trial(budget, x, d, t)
        if not _sufficient(start, cur) or cur.f >= lo.f:
            hi = cur
        else:
            if abs(cur.slope) <= -C2 * start.slope:
                return cur
            if cur.slope * (hi.t - lo.t) >= 0:
                hi = lo
            lo = cur
    return lo  # the start itself (t = 0) when no trial lowered the objective


def _trial(budget: _Budget, x: Tensor, d: Tensor, t: float) -> _Point:
    f, g = budget(x + t * d)
    return _Point(t, f, g, _dot(g, d))


def _sufficient(start: _Point, p: _Point) -> bool:
    """The Armijo condition ``f(t) <= f(0) + c1 t f'(0)``."""
    return p.f <= start.f + C1 * p.t * start.slope


def _cubic_min(p: _Point, q: _Point, *, bounds: tuple[float, float]) -> float:
    """The minimizer within ``bounds`` of the cubic through ``p`` and ``q`` (values and slopes); the bounds'
    midpoint when the cubic has none."""
    lo, hi = bounds
    d1 = p.slope + q.slope - 3 * (p.f - q.f) / (p.t - q.t)
    disc = d1 * d1 - p.slope * q.slope
    if disc < 0:
        return (lo + hi) / 2
    d2 = disc**0.5 * (1.0 if q.t >= p.t else -1.0)
    t = q.t - (q.t - p.t) * (q.slope + d2 - d1) / (q.slope - p.slope + 2 * d2)
    return min(max(t, lo), hi) if t == t else (lo + hi) / 2
