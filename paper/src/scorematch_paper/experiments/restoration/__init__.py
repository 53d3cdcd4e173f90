"""Restoration with learned priors: Tables 1 and 2, Figure 2e-g (PSNR vs lambda), 2j/2l (RSM filters), 2m-q.

Models (all priors on [0, 1] gray images, :class:`~scorematch.energies.ImageFoE`):

- ``rsm``: our RSM FoE 5x5x24, trained by :func:`scorematch.priors.train_image_foe` with :data:`RECIPE`
  on ``data/train400`` (every 10th image held out);
- ``cd1``: a CD-1 FoE 5x5x24 trained with the same recipe, only the estimator swapped (``estimator="cd1"``:
  contrastive divergence with one HMC transition), so the two columns compare the estimators; the recipe's
  learning rate and step count were chosen for RSM, not tuned for CD-1;
- ``rb``: Roth & Black's published 3x3x8 CD FoE (0..255, no whitening);
- ``tv``: scikit-image's ``denoise_tv_chambolle`` (if scikit-image is installed).

No pretrained Basis Rotation (Weiss & Freeman) model is public: the paper's column is quoted, not recomputed.

Every choice is made on the central crops of :data:`TUNE_IMAGES` (Set12 images in neither table), never on a
reported image: the prior weight per model and noise level (the MAP objective is
``w E(x) + |x - y|^2 / 2 sigma^2``), the TV weight, the paper solver's weight, the super-resolution L-BFGS
iterations per model and the paper's super-resolution step (:func:`.tuning.tune_choices`). Table 1 uses them on the test
images with :data:`N_DRAWS` noise draws (seeds fixed); Table 2 is deterministic. Figure 2e-g: for each lambda a
FoE is trained with the same recipe, shortened to :data:`SWEEP_STEPS` steps on :data:`SWEEP_PATCHES` patches;
its weight and the best lambda are chosen on one noise draw of the tuning crops, and reported on
:data:`N_DRAWS` further draws. The validation table (:func:`heldout_images`) scores the run's RSM and CD-1
FoEs (:data:`HELDOUT_PRIORS`) and the bundled :data:`BUNDLED` on images no setting is tuned on (choices were made
after looking at them, so they are validation images: ``docs/evaluation.md``). Every solver uses
the default boundary rule (:data:`~scorematch.prior.DEFAULT_BOUNDARY`). Each weight, step and iteration count is
the best of its grid as found by :func:`climb` (a climb from the grid's middle), at about half a full scan's cost.

``run(out_dir, quick=...)`` computes (each unit cached in a JSON file, :mod:`~scorematch_paper.experiments.cache`),
``plot`` draws from the files, ``report`` returns the markdown section, ``summary`` the headline numbers.

Modules: ``settings`` (images, grids, recipes, the paper's tables), ``data`` (images, noise draws, TV),
``tuning`` (the choices), ``models`` (the priors), ``tables`` (the cached evaluations), ``summaries``,
``figures``, ``report``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from scorematch.io.tables import write_json
from scorematch_paper.experiments.cache import Cache
from scorematch_paper.experiments.restoration.data import heldout_images
from scorematch_paper.experiments.restoration.default_model import build_default_model
from scorematch_paper.experiments.restoration.figures import plot
from scorematch_paper.experiments.restoration.models import model_paths, train_missing
from scorematch_paper.experiments.restoration.report import report
from scorematch_paper.experiments.restoration.settings import (
    PAPER_TABLE1,
    PAPER_TABLE2,
    RECIPE,
    RECIPE_8X8X64,
    TABLE1_IMAGES,
    TABLE2_IMAGES,
    TITLE,
    TUNE_IMAGES,
    WEIGHTS,
    RestorationConfig,
)
from scorematch_paper.experiments.restoration.summaries import (
    heldout_summary,
    summary,
    sweep_summary,
    table1_summary,
    write_tables,
)
from scorematch_paper.experiments.restoration.tables import heldout, lambda_sweep, table1, table2, variants
from scorematch_paper.experiments.restoration.tuning import climb, tune_choices

__all__ = ["run", "plot", "report", "summary", "TITLE", "RECIPE", "RECIPE_8X8X64", "PAPER_TABLE1", "PAPER_TABLE2",
           "RestorationConfig", "TABLE1_IMAGES", "TABLE2_IMAGES", "TUNE_IMAGES", "WEIGHTS", "build_default_model",
           "heldout_images", "climb", "table1_summary", "heldout_summary", "sweep_summary"]


def run(out_dir: str | os.PathLike, *, quick: bool = False, progress: bool = True, jobs: int = 1,
        cache: Cache | None = None) -> dict[str, Any]:
    """Compute every table and curve (each unit cached in a JSON file), draw the figures; returns :func:`summary`.

    ``jobs`` worker processes train the priors and evaluate the units (one torch thread each on 2 cores; a
    serial run uses the process's threads, so its floating-point sums may round differently).
    ``cache`` (default: a new :class:`~scorematch_paper.experiments.cache.Cache`) says what may be reused.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = cache or Cache()
    s = RestorationConfig.quick() if quick else RestorationConfig()
    t0 = time.perf_counter()
    train_missing(out_dir, s, cache, jobs)
    paths = model_paths(out_dir, s, cache, progress)
    choices = tune_choices(out_dir, paths, s, cache, jobs)
    write_json(out_dir / "weights.json", choices["weights"])
    write_json(out_dir / "choices.json", choices)
    table1(out_dir, paths, choices, s, cache, jobs)
    table2(out_dir, paths, choices, s, cache, jobs)
    heldout(out_dir, paths, choices, s, cache, jobs)
    lambda_sweep(out_dir, s, cache, jobs)
    variants(out_dir, s, cache, jobs)
    write_json(out_dir / "settings.json", {**s.to_dict(), "cd_recipe": s.cd_recipe,
                                           "models": {k: str(p) for k, p in paths.items()},
                                           "seconds_this_run": time.perf_counter() - t0})
    write_tables(out_dir)
    plot(out_dir)
    return summary(out_dir)
