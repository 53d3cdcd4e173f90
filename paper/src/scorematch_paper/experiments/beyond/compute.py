"""The stage's computation: one cached unit per (grey problem, method) and per (colour level, method), each
choosing on the tuning images and scoring on the validation ones, then ``beyond.json`` and the figure."""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from scorematch.io.images import write_image
from scorematch.io.tables import write_json
from scorematch.tasks import psnr
from scorematch_paper.experiments.beyond.figures import plot
from scorematch_paper.experiments.beyond.problems import (
    colour_images,
    colour_noisy,
    colour_solver,
    grey_images,
    grey_solver,
    observe,
)
from scorematch_paper.experiments.beyond.settings import GREY_PROBLEMS, BeyondConfig, colour_methods
from scorematch_paper.experiments.beyond.summaries import summary
from scorematch_paper.experiments.cache import Cache, cached_units


def run(out_dir: str | os.PathLike, *, quick: bool = False, progress: bool = True, config: BeyondConfig | None = None,
        cache: Cache | None = None, jobs: int = 1) -> dict[str, Any]:
    """Every unit (cached), ``beyond.json`` (per problem and method: choice, per-image and mean PSNR) and the
    figure; returns :func:`~.summaries.summary`. ``progress`` is unused (the units are short, and run in workers)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = config or (BeyondConfig.quick() if quick else BeyondConfig())
    cache = cache or Cache()
    pictures = str(out_dir / "pictures")
    units, keys = [], []
    for problem, (_, anchor) in GREY_PROBLEMS.items():
        for method in (*config.priors, anchor):
            settings = {**config.settings(*config.grey_fields), "problem": problem, "method": method}
            units.append((grey_unit, {"problem": problem, "method": method, "config": config, "pictures": pictures},
                          out_dir / "units" / f"{problem}_{method}.json", settings))
            keys.append((problem, method))
    for level in config.colour_levels:
        for method in available_colour_methods(config):
            settings = {**config.settings(*config.colour_fields), "level": level, "method": method}
            units.append((colour_unit, {"level": level, "method": method, "config": config, "pictures": pictures},
                          out_dir / "units" / f"colour_{level}_{method}.json", settings))
            keys.append((f"colour_{level}", method))
    results = cached_units(units, cache, jobs=jobs)
    problems: dict[str, dict[str, Any]] = {}
    for (problem, method), result in zip(keys, results):
        problems.setdefault(problem, {})[method] = result
    write_json(out_dir / "beyond.json", {"config": config.to_dict(), "problems": problems})
    plot(out_dir)
    return summary(out_dir)


def available_colour_methods(config: BeyondConfig) -> tuple[str, ...]:
    """:func:`~.settings.colour_methods` of ``config.priors`` less colour BM3D when the ``bm3d`` package is not
    installed."""
    have_bm3d = importlib.util.find_spec("bm3d") is not None
    return tuple(m for m in colour_methods(config.priors, config.colour_priors) if m != "cbm3d" or have_bm3d)


def _choose(grid: list[Any], score: Callable[[Any], float]) -> tuple[Any, list[dict[str, Any]]]:
    """The choice of ``grid`` with the best score (the first of a tie), and every choice's score."""
    tried = [{"choice": c, "psnr": score(c)} for c in grid] if len(grid) > 1 else [{"choice": grid[0], "psnr": None}]
    best = max(tried, key=lambda t: t["psnr"] if t["psnr"] is not None else 0.0)
    return best["choice"], tried


def _scores(outputs: Sequence[Tensor], clean: Sequence[Tensor]) -> list[float]:
    return [psnr(out.clamp(0, 1), x) for out, x in zip(outputs, clean)]


def _picture(pictures: str, problem: str, name: str, image: Tensor) -> None:
    write_image(Path(pictures) / problem / f"{name}.png", image[0].clamp(0, 1).squeeze(0))


def grey_unit(problem: str, method: str, config: BeyondConfig, pictures: str) -> dict[str, Any]:
    """``method`` on grey ``problem``: its choice on the tuning crops, its PSNR on each validation crop, and the
    pictures of the first validation image (clean, observed, this method's output)."""
    t0 = time.perf_counter()
    grid, solve = grey_solver(problem, method, config)
    tune = observe(problem, grey_images(config, "tune")[1], "tune", config)
    names, images = grey_images(config, "test", problem)
    test = observe(problem, images, "test", config)
    choice, tried = _choose(grid, lambda c: statistics.mean(_scores([solve(t, c) for t in tune], [t[0] for t in tune])))
    outputs = [solve(t, choice) for t in test]
    for name, image in (("clean", test[0][0]), ("observed", test[0][2]), (method, outputs[0])):
        _picture(pictures, problem, name, image)
    return {"choice": choice, "tried": tried, "images": names, "psnr": _scores(outputs, images),
            "seconds": round(time.perf_counter() - t0, 1)}


def colour_unit(level: int, method: str, config: BeyondConfig, pictures: str) -> dict[str, Any]:
    """Colour denoising at ``level`` (1/256) by ``method``: its choice on the colour tuning crops (TV's weight),
    its PSNR on each validation crop, and the pictures of the first validation image."""
    t0 = time.perf_counter()
    grid, solve = colour_solver(method, level, config)
    tune_names, tune_x = colour_images(config, "tune")
    tune_y = colour_noisy(tune_x, tune_names, level, "tune")
    names, x = colour_images(config, "test")
    noisy = colour_noisy(x, names, level, "test")
    clean = [x[i : i + 1] for i in range(len(x))]
    tune_clean = [tune_x[i : i + 1] for i in range(len(tune_x))]
    choice, tried = _choose(grid, lambda c: statistics.mean(_scores([solve(y, c) for y in tune_y], tune_clean)))
    outputs = [solve(y, choice) for y in noisy]
    for name, image in (("clean", clean[0]), ("observed", noisy[0]), (method, outputs[0])):
        _picture(pictures, f"colour_{level}", name, image)
    return {"choice": choice, "tried": tried, "images": names, "psnr": _scores(outputs, clean),
            "noisy_psnr": _scores(noisy, clean), "seconds": round(time.perf_counter() - t0, 1)}
