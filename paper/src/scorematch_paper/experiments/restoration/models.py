"""The priors of the restoration experiment: trained (cached, in parallel) and Roth & Black's."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from scorematch.energies.image_prior import ImageFoE
from scorematch.io.atomic import atomic_path
from scorematch.parallel import map_jobs
from scorematch.pretrained import ROTH_BLACK_FILE, roth_black_3x3
from scorematch.priors import FoERecipe, train_image_foe
from scorematch.serialization import save
from scorematch_paper.experiments.cache import Cache, read_stamp
from scorematch_paper.experiments.restoration.settings import RECIPE_8X8X64, VARIANTS, RestorationConfig
from scorematch_paper.paths import data_dir

log = logging.getLogger(__name__)


def train_prior(path: Path, recipe: dict[str, Any], cache: Cache, progress: bool) -> Path:
    """Train an FoE with ``recipe`` into ``path`` unless a current one is there."""
    if cache.model_is_current(path, recipe):
        return path
    t0 = time.perf_counter()
    prior = train_image_foe(data_dir() / "train400", FoERecipe(**recipe), progress=progress)
    save(prior, path, metadata={"recipe": recipe, "holdout": 0.1, "train_seconds": time.perf_counter() - t0,
                                "stamp": cache.stamp(recipe)})
    return path


def roth_black(path: Path, cache: Cache) -> Path | None:
    """Roth & Black's published 3x3x8 FoE as a [0, 1] prior (None where its data file is missing)."""
    settings = {"source": "Roth & Black 2005, foe_3_8.m", "scale": 255.0}
    if cache.model_is_current(path, settings):
        return path
    try:
        save(ImageFoE.from_foe(roth_black_3x3(data_dir() / ROTH_BLACK_FILE), scale=255.0, whitening_size=0), path,
             metadata={**settings, "stamp": cache.stamp(settings)})
    except (ImportError, OSError, ValueError) as exc:
        log.warning("no Roth-Black model: %s", exc)
        return None
    return path


def model_paths(out_dir: Path, s: RestorationConfig, cache: Cache, progress: bool) -> dict[str, Path]:
    """The priors of the tables: RSM and CD-1 FoE 5x5x24 (one shared recipe), Roth & Black's 3x3x8."""
    mdir = out_dir / "models"
    paths = {"rsm": train_prior(mdir / "rsm_foe_5x5x24.safetensors", s.recipe, cache, progress),
             "cd1": train_prior(mdir / "cd1_foe_5x5x24.safetensors", s.cd_recipe, cache, progress)}
    rb = roth_black(mdir / "rb_foe_3x3x8.safetensors", cache)
    if rb is not None:
        paths["rb"] = rb
    return paths


def model_keys(paths: dict[str, Path]) -> dict[str, str]:
    """Each model file's cache key (results computed from a model are keyed on it)."""
    return {k: read_stamp(p)["key"] for k, p in paths.items()}


def sweep_plan(out_dir: Path, s: RestorationConfig) -> list[tuple[Path, dict[str, Any]]]:
    """(model file, recipe) of each lambda of the Figure 2e-g sweep."""
    return [(out_dir / "models" / f"sweep_lam{lam:g}.safetensors",
             {**s.recipe, "lam": lam, "steps": s.sweep_steps, "n_patches": s.sweep_n_patches})
            for lam in s.sweep_lambdas]


def variant_plan(out_dir: Path, s: RestorationConfig) -> list[tuple[Path, dict[str, Any]]]:
    """(model file, recipe) of each of :data:`VARIANTS`: the 8x8x64 of the bundled ``foe_8x8x64``
    (:data:`RECIPE_8X8X64`, full length unless quick) and the 5x5x24 recipe without whitening."""
    big = {**RECIPE_8X8X64.to_dict(), **({"steps": s.variant_steps, "n_patches": s.recipe["n_patches"]}
                                          if s.smoke_test else {})}
    recipes = {"foe_8x8x64": big,
               "foe_5x5x24_unwhitened": {**s.recipe, "whitening_size": 0, "steps": s.variant_steps}}
    return [(out_dir / "models" / f"{name}.safetensors", recipes[name]) for name in VARIANTS]


def _train_job(job: tuple[str, dict[str, Any], Cache]) -> str:
    """Train one prior of the plan (a worker process's job under ``jobs > 1``)."""
    path, recipe, cache = job
    cache.check_code()
    return str(train_prior(Path(path), recipe, cache, progress=False))


def train_missing(out_dir: Path, s: RestorationConfig, cache: Cache, jobs: int) -> None:
    """Train every prior of the run that is not cached yet, spread over ``jobs`` processes (longest first)."""
    (out_dir / "models").mkdir(parents=True, exist_ok=True)
    plan = [(out_dir / "models" / "rsm_foe_5x5x24.safetensors", s.recipe),
            (out_dir / "models" / "cd1_foe_5x5x24.safetensors", s.cd_recipe)]
    plan += sweep_plan(out_dir, s) + variant_plan(out_dir, s)
    groups: dict[str, list[tuple[Path, dict[str, Any]]]] = {}  # the same recipe is trained once
    for path, recipe in plan:
        if not cache.model_is_current(path, recipe):
            groups.setdefault(cache.key(recipe), []).append((path, recipe))
    order = sorted(groups.values(), key=lambda g: -_train_cost(g[0][1]))
    if order:
        log.info("restoration: training %d priors over %d jobs", len(order), jobs)
        map_jobs(_train_job, [(str(g[0][0]), g[0][1], cache) for g in order], jobs=jobs)
    for (first, _), *copies in order:
        for path, _ in copies:
            with atomic_path(path) as tmp:
                shutil.copyfile(first, tmp)


def _train_cost(recipe: dict[str, Any]) -> float:
    """A rough relative training cost (to start the longest jobs first)."""
    per_step = recipe["n_experts"] * recipe["kernel_size"] ** 2 * (3.0 if recipe.get("estimator") == "cd1" else 1.0)
    return recipe["steps"] * per_step
