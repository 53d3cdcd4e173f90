"""Tables 1 and 2, the held-out table, the lambda sweep and the variants: cached units over the test images."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from scorematch.datasets import read_image
from scorematch.io.atomic import atomic_path
from scorematch.io.tables import write_json
from scorematch.pretrained import resolve
from scorematch.prior import ImagePrior, load_prior
from scorematch.serialization import load
from scorematch.tasks import MAP, Downsample, PaperSteps, denoise, psnr, superresolve, upscale_start
from scorematch_paper.experiments.cache import Cache, cached_units, read_stamp
from scorematch_paper.experiments.restoration.data import frozen, heldout_images, image, noise, noise_seed, tune_set, tv
from scorematch_paper.experiments.restoration.models import model_keys, sweep_plan, variant_plan
from scorematch_paper.experiments.restoration.settings import (
    BUNDLED,
    HELDOUT_PRIORS,
    TABLE1_IMAGES,
    TABLE2_IMAGES,
    VARIANTS,
    RestorationConfig,
)
from scorematch_paper.experiments.restoration.tuning import best_point, weight_curve

log = logging.getLogger(__name__)


def _table1_image(name: str, paths: dict[str, str], choices: dict[str, Any], s: RestorationConfig,
                  details_file: str | None) -> list[dict[str, Any]]:
    """Table 1 rows of one image (one per noise draw); ``details_file``: save draw 0's Lena crops there."""
    level, x = 5, image(name, s.table_crop)
    priors = {k: frozen(load(p)) for k, p in paths.items()}
    w, rows = choices["weights"], []
    for d in range(s.draws):
        y = noise(x, level, noise_seed(name, level, d))
        row = {"image": name, "draw": d, "noisy": psnr(y, x)}
        outs = {}
        for k, prior in priors.items():
            t0 = time.perf_counter()
            outs[k] = denoise(y, ImagePrior(prior, boundary=s.boundary), sigma=level / 256,
                              solver=MAP(weight=w[k][str(level)], iterations=s.denoise_iters))
            row[f"{k}_seconds"] = time.perf_counter() - t0
        outs["rsm_paper_solver"] = denoise(y, ImagePrior(priors["rsm"], boundary=s.boundary), sigma=level / 256,
                                           solver=PaperSteps(weight=choices["paper_weight"], iterations=s.paper_iters))
        if "tv" in w:
            outs["tv"] = tv(y, w["tv"][str(level)])
        row.update({k: psnr(v.clamp(0, 1), x) for k, v in outs.items()})
        if details_file and d == 0:
            _save_details(Path(details_file), {"clean": x, "noisy": y, **outs})
        rows.append(row)
        log.info("table 1: %s draw %d: %s", name, d, {k: round(v, 2) for k, v in row.items() if isinstance(v, float)})
    return rows


def _save_details(path: Path, details: dict[str, Tensor]) -> None:
    """The central crops of Figure 2m-q, one array per method."""
    h, w = details["clean"].shape[-2:]
    i, j, c = (h * 3) // 8, (w * 3) // 8, min(128, h // 2, w // 2)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{k: v[0, 0, i : i + c, j : j + c].float().numpy() for k, v in details.items()})


def table1(out_dir: Path, paths, choices, s, cache: Cache, n_jobs: int) -> list[dict[str, Any]]:
    settings = {"models": model_keys(paths), "choices": choices,
                **s.settings("draws", "table_crop", "denoise_iters", "paper_iters", "boundary")}
    jobs = [(_table1_image, dict(name=name, paths={k: str(p) for k, p in paths.items()}, choices=choices, s=s,
                                 details_file=str(out_dir / "lena_details.npz") if name == "lena" else None),
             out_dir / "table1" / f"{name}.json", {**settings, "image": name}) for name in TABLE1_IMAGES]
    rows = [r for rs in cached_units(jobs, cache, n_jobs) for r in rs]
    write_json(out_dir / "table1.json", {"settings": settings, "result": rows})  # its units carry the stamps
    return rows


def _table2_image(name: str, paths: dict[str, str], choices: dict[str, Any],
                  s: RestorationConfig) -> dict[str, Any]:
    x = image(name, s.table_crop)
    y = Downsample(2).A(x)
    row = {"image": name,
           "lowpass_start": psnr(upscale_start(y, kind="lowpass").clamp(0, 1), x),
           "lowpass_start_projected": psnr(upscale_start(y, kind="lowpass", project=True).clamp(0, 1), x),
           "bicubic_projected": psnr(upscale_start(y, kind="bicubic", project=True).clamp(0, 1), x)}
    priors = {k: frozen(load(p)) for k, p in paths.items()}
    for k, prior in priors.items():
        t0 = time.perf_counter()
        out = superresolve(y, ImagePrior(prior, boundary=s.boundary), solver=MAP(iterations=choices["sr_iters"][k]))
        row[k], row[f"{k}_seconds"] = psnr(out.clamp(0, 1), x), time.perf_counter() - t0
    out = superresolve(y, ImagePrior(priors["rsm"], boundary=s.boundary),
                       solver=PaperSteps(step_scale=choices["sr_paper_step"], iterations=s.paper_iters))
    row["rsm_paper_solver"] = psnr(out.clamp(0, 1), x)
    log.info("table 2: %s: %s", name, {k: round(v, 2) for k, v in row.items() if isinstance(v, float)})
    return row


def table2(out_dir: Path, paths, choices, s, cache: Cache, n_jobs: int) -> list[dict[str, Any]]:
    settings = {"models": model_keys(paths), "choices": choices,
                **s.settings("table_crop", "paper_iters", "boundary")}
    jobs = [(_table2_image, dict(name=name, paths={k: str(p) for k, p in paths.items()}, choices=choices, s=s),
             out_dir / "table2" / f"{name}.json", {**settings, "image": name}) for name in TABLE2_IMAGES]
    rows = cached_units(jobs, cache, n_jobs)
    write_json(out_dir / "table2.json", {"settings": settings, "result": rows})  # its units carry the stamps
    return rows


def _sweep_level(path: str, level: int, s: RestorationConfig) -> dict[str, Any]:
    """Figure 2e-g for one lambda and noise level: the weight curve on draw 0 (the choice), then the chosen
    weight and weight 1 on :data:`N_DRAWS` further draws (the report)."""
    prior, x = frozen(load(path)), tune_set(s.crop)
    curve = weight_curve(prior, x, level, s.sweep_weights, s.denoise_iters, s.boundary)
    draws = {w: [weight_curve(prior, x, level, [float(w)], s.denoise_iters, s.boundary, draw=d)[str(float(w))]
                 for d in range(1, s.sweep_draws + 1)]
             for w in dict.fromkeys((str(best_point(curve)), "1.0"))}
    return {"curve": curve, "draws": draws, "alpha_mean": float(prior.alpha.mean())}


def lambda_sweep(out_dir: Path, s: RestorationConfig, cache: Cache, n_jobs: int) -> list[dict[str, Any]]:
    """Figure 2e-g, one cached unit per lambda and noise level; rows per lambda with ``curves`` and ``draws``
    per level."""
    plan = sweep_plan(out_dir, s)
    jobs = [(_sweep_level, dict(path=str(path), level=lv, s=s), out_dir / "sweep" / f"lam{lam:g}_{lv}.json",
             {"recipe": recipe, "model": read_stamp(path)["key"], "level": lv,
              **s.settings("crop", "sweep_weights", "sweep_draws", "denoise_iters", "boundary")})
            for lam, (path, recipe) in zip(s.sweep_lambdas, plan) for lv in s.sweep_levels]
    res = iter(cached_units(jobs, cache, n_jobs))
    rows = []
    for lam in s.sweep_lambdas:
        units = {str(lv): next(res) for lv in s.sweep_levels}
        rows.append({"lam": lam, "curves": {lv: u["curve"] for lv, u in units.items()},
                     "draws": {lv: u["draws"] for lv, u in units.items()},
                     "alpha_mean": next(iter(units.values()))["alpha_mean"]})
    write_json(out_dir / "lambda_sweep.json", rows)
    return rows


def _variant_curve(path: str, s: RestorationConfig) -> dict[str, Any]:
    prior, x = frozen(load(path)), tune_set(s.crop)
    return {"curve": weight_curve(prior, x, 5, s.sweep_weights, s.denoise_iters, s.boundary)}


def variants(out_dir: Path, s: RestorationConfig, cache: Cache, n_jobs: int) -> list[dict[str, Any]]:
    """The 8x8x64 RSM FoE (Figure 2l) and the 5x5x24 FoE without whitening, scored like the sweep."""
    plan = variant_plan(out_dir, s)
    jobs = [(_variant_curve, dict(path=str(path), s=s), out_dir / f"variant_{name}.json",
             {"recipe": recipe, "model": read_stamp(path)["key"],
              **s.settings("crop", "sweep_weights", "denoise_iters", "boundary")})
            for name, (path, recipe) in zip(VARIANTS, plan)]
    rows = [{"model": name, "recipe": recipe, **res}
            for name, (_, recipe), res in zip(VARIANTS, plan, cached_units(jobs, cache, n_jobs))]
    write_json(out_dir / "variants.json", rows)
    return rows


def _heldout_image(name: str, file: str, paths: dict[str, str], choices: dict[str, Any],
                   s: RestorationConfig) -> list[dict[str, Any]]:
    """Denoising PSNR of one held-out image at each level of ``s.heldout_levels`` (one noise draw each)."""
    x = read_image(file, dtype=torch.float32)
    if s.heldout_crop:
        x = x[: s.heldout_crop, : s.heldout_crop]
    x = x[None, None]
    priors = {k: frozen(load(p)) for k, p in paths.items()}
    rows = []
    for lv in s.heldout_levels:
        y = noise(x, lv, noise_seed(name, lv, 0))
        row = {"image": name, "level": lv, "noisy": psnr(y, x)}
        for k, prior in priors.items():
            w = (load_prior(paths[k]).presets.denoising(lv / 256).weight if k in BUNDLED
                 else choices["weights"][k][str(lv)])
            row[k] = psnr(denoise(y, ImagePrior(prior, boundary=s.boundary), sigma=lv / 256,
                                  solver=MAP(weight=w, iterations=s.denoise_iters)).clamp(0, 1), x)
        if "tv" in choices["weights"]:
            row["tv"] = psnr(tv(y, choices["weights"]["tv"][str(lv)]).clamp(0, 1), x)
        rows.append(row)
    return rows


def heldout(out_dir: Path, paths, choices, s, cache: Cache, n_jobs: int) -> list[dict[str, Any]]:
    """The run's priors and the bundled :data:`BUNDLED` priors on :func:`heldout_images`."""
    paths = {k: paths[k] for k in HELDOUT_PRIORS}
    models = {**{k: str(p) for k, p in paths.items()}, **{k: str(resolve(k)) for k in BUNDLED}}
    settings = {"models": {**model_keys(paths), **{k: k for k in BUNDLED}},
                "choices": choices, **s.settings("heldout_levels", "heldout_crop", "denoise_iters", "boundary")}
    jobs = [(_heldout_image, dict(name=name, file=str(f), paths=models, choices=choices, s=s),
             out_dir / "heldout" / f"{name.replace('/', '_')}.json", {**settings, "image": name})
            for name, f in heldout_images(s.heldout_limit)]
    rows = [r for rs in cached_units(jobs, cache, n_jobs) for r in rs]
    write_json(out_dir / "heldout.json", {"settings": settings, "result": rows})  # its units carry the stamps
    return rows
