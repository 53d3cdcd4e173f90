"""Every choice of the restoration tables, made on the tuning crops: prior and TV weights, solver iterations
and steps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from torch import Tensor

from scorematch.energies.image_prior import ImageFoE
from scorematch.prior import DEFAULT_BOUNDARY, ImagePrior
from scorematch.serialization import load
from scorematch.tasks import MAP, Downsample, PaperSteps, denoise, superresolve
from scorematch_paper.experiments.cache import Cache, cached_units
from scorematch_paper.experiments.restoration.data import frozen, have_tv, mean_psnr, noise, noise_seed, tune_set, tv
from scorematch_paper.experiments.restoration.models import model_keys
from scorematch_paper.experiments.restoration.settings import RestorationConfig


def climb(score: Callable[[float], float], grid) -> dict[str, float]:
    """Scores of the points of ``grid`` visited by a climb from its middle towards the better neighbour, until
    no neighbour scores higher: {str(point): score}, in grid order.

    The climb ends at the grid's best point whenever the scores are unimodal along the (sorted) grid, after
    about half the evaluations of a full scan. Non-finite scores count as the lowest.
    """
    grid, seen = sorted(float(g) for g in grid), {}

    def at(i: int) -> float:
        if i not in seen:
            v = float(score(grid[i]))
            seen[i] = v if math.isfinite(v) else -math.inf
        return seen[i]

    i = (len(grid) - 1) // 2
    while (nxt := max((j for j in (i - 1, i, i + 1) if 0 <= j < len(grid)), key=lambda j: (at(j), j == i))) != i:
        i = nxt
    return {str(grid[j]): seen[j] for j in sorted(seen)}


def weight_curve(prior: ImageFoE, x: Tensor, level: int, weights, iters,
                  boundary: str = DEFAULT_BOUNDARY, draw: int = 0) -> dict[str, float]:
    """Mean PSNR over the images ``x`` (B, 1, H, W) denoised at the prior weights of ``weights`` that a
    :func:`climb` to the best one visits, for one noise draw."""
    y = noise(x, level, noise_seed("tune", level, draw))
    prior = ImagePrior(prior, boundary=boundary)
    return climb(lambda w: mean_psnr(denoise(y, prior, sigma=level / 256, solver=MAP(weight=w, iterations=iters)), x),
                 weights)


def _tune_prior(path: str, crop: int, level: int, weights, iters, boundary) -> dict[str, float]:
    """Prior weight -> tuning-crop PSNR at one noise level, for the prior in ``path`` (one draw)."""
    return weight_curve(frozen(load(path)), tune_set(crop), level, weights, iters, boundary)


def _tune_tv(crop: int, levels, weights) -> dict[str, dict[str, float]]:
    x = tune_set(crop)
    return {str(lv): climb(lambda w, y=noise(x, lv, noise_seed("tune", lv, 0)): mean_psnr(tv(y, w), x), weights)
            for lv in levels}


def _tune_paper(path: str, crop: int, weights, iters, boundary) -> dict[str, float]:
    """Prior weight -> tuning-crop PSNR at 5/256 for the paper's annealed solver."""
    prior, x = ImagePrior(frozen(load(path)), boundary=boundary), tune_set(crop)
    y = noise(x, 5, noise_seed("tune", 5, 0))
    return climb(lambda w: mean_psnr(denoise(y, prior, sigma=5 / 256, solver=PaperSteps(weight=w, iterations=iters)),
                                     x), weights)


def _tune_sr(path: str, crop: int, iters_grid, paper_steps, paper_iters, boundary) -> dict[str, Any]:
    """2x super-resolution PSNR on the tuning crops: per L-BFGS iteration count and per paper step scale."""
    prior, x = ImagePrior(frozen(load(path)), boundary=boundary), tune_set(crop)
    y = Downsample(2).A(x)
    lbfgs = climb(lambda n: mean_psnr(superresolve(y, prior, solver=MAP(iterations=int(n))), x), iters_grid)

    def paper(step: float) -> float:
        try:
            out = superresolve(y, prior, solver=PaperSteps(step_scale=step, iterations=paper_iters))
        except FloatingPointError:
            return -math.inf
        return mean_psnr(out, x)

    return {"lbfgs_iters": lbfgs, "paper_step_scale": climb(paper, paper_steps) if paper_steps else {}}


def best_point(curve: dict[str, float]) -> float:
    """The key (a number) of the largest finite value of ``curve``."""
    finite = {k: v for k, v in curve.items() if math.isfinite(v)}
    return float(max(finite, key=finite.get))


def tune_choices(out_dir: Path, paths: dict[str, Path], s: RestorationConfig, cache: Cache,
                 n_jobs: int) -> dict[str, Any]:
    """Every choice of the tables, made on the tuning crops: prior weights (L-BFGS and paper solver), TV
    weights, super-resolution iterations and the paper solver's super-resolution step.

    Returns {"weights": {model: {level: w}}, "paper_weight": w, "sr_iters": {model: n}, "sr_paper_step": s}.
    """
    keys, b = model_keys(paths), s.boundary
    jobs = {}  # name -> unit; the longest units (super-resolution, paper solver) first, then the weight curves
    for k, p in paths.items():
        jobs[f"sr_{k}"] = (_tune_sr, dict(path=str(p), crop=s.crop, iters_grid=s.sr_iters_grid,
                                          paper_steps=s.sr_paper_steps if k == "rsm" else [],
                                          paper_iters=s.paper_iters, boundary=b),
                           out_dir / "tuning" / f"sr_{k}.json",
                           {"model": keys[k], "paper": k == "rsm",
                            **s.settings("crop", "sr_iters_grid", "sr_paper_steps", "paper_iters", "boundary")})
    jobs["paper"] = (_tune_paper, dict(path=str(paths["rsm"]), crop=s.crop, weights=s.weights,
                                       iters=s.paper_iters, boundary=b), out_dir / "tuning" / "paper_rsm.json",
                     {"model": keys["rsm"], **s.settings("crop", "weights", "paper_iters", "boundary")})
    for lv in reversed(s.levels):  # one unit per model and level (the high levels take longest)
        for k, p in paths.items():
            jobs[f"weights_{k}_{lv}"] = (
                _tune_prior, dict(path=str(p), crop=s.crop, level=lv, weights=s.weights,
                                  iters=s.denoise_iters, boundary=b),
                out_dir / "tuning" / f"weights_{k}_{lv}.json",
                {"model": keys[k], "level": lv, **s.settings("crop", "weights", "denoise_iters", "boundary")})
    if have_tv():
        jobs["tv"] = (_tune_tv, dict(crop=s.crop, levels=s.levels, weights=s.tv_weights),
                      out_dir / "tuning" / "weights_tv.json", s.settings("crop", "levels", "tv_weights"))
    res = dict(zip(jobs, cached_units(list(jobs.values()), cache, n_jobs)))
    weights = {k: {str(lv): best_point(res[f"weights_{k}_{lv}"]) for lv in s.levels} for k in paths}
    if "tv" in res:
        weights["tv"] = {lv: best_point(c) for lv, c in res["tv"].items()}
    return {"weights": weights, "paper_weight": best_point(res["paper"]),
            "sr_iters": {k: int(best_point(res[f"sr_{k}"]["lbfgs_iters"])) for k in paths},
            "sr_paper_step": best_point(res["sr_rsm"]["paper_step_scale"])}
