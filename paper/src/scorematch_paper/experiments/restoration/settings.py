"""The restoration experiment's settings: images, noise levels, grids, the paper's tables and the training recipes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from scorematch.config import Settings
from scorematch.prior import DEFAULT_BOUNDARY
from scorematch.priors import FoERecipe

TITLE = "Restoration: denoising and super-resolution (Tables 1-2, Figure 2e-g, j, l, m-q)"


TABLE1_IMAGES = ("barbara", "peppers", "house", "lena", "boat")


TABLE2_IMAGES = ("peppers", "house", "lena", "boat", "castle")


#: Set12 images in neither table: the tuning set for prior weights, the TV weight and Figure 2e-g.
TUNE_IMAGES = ("cameraman", "couple", "man", "monarch", "starfish", "parrot")


LEVELS = (1, 5, 15, 25)  # noise std in 1/256 units; 25 goes beyond the paper


SWEEP_LEVELS = (1, 5, 15)  # Figure 2e-g's, as in the paper


LAMBDAS = (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.4)


TV_WEIGHTS = (0.002, 0.004, 0.007, 0.01, 0.015, 0.025, 0.04, 0.06, 0.1)


N_DRAWS = 3


#: L-BFGS iteration counts for 2x super-resolution, chosen per model on the tuning crops.
SR_ITERS_GRID = (10, 20, 40, 80, 150)


#: Step scales of the paper's super-resolution solver, chosen on the tuning crops (1/255^2: the paper's 0..255
#: units).
SR_PAPER_STEPS = (1 / 255**2, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


#: Noise levels of the validation table (``heldout`` in identifiers).
HELDOUT_LEVELS = (5, 15, 25)


#: Bundled priors scored on the validation images beside the run's own (with their model cards' weights).
BUNDLED = ("foe_5x5x24",)


#: The run's priors on the validation images, beside :data:`BUNDLED` and TV (Roth & Black's 3x3x8 is in Table 1
#: only).
HELDOUT_PRIORS = ("rsm", "cd1")


#: The model variants beside the 5x5x24 (Figure 2l and the no-whitening comparison).
VARIANTS = ("foe_8x8x64", "foe_5x5x24_unwhitened")


#: The paper's Table 1 (PSNR dB at sigma = 5/256): CD-1 FoE 5x5x24, Basis Rotation 15x15x25, RSM FoE 5x5x24.
PAPER_TABLE1 = {
    "barbara": (37.30, 37.08, 37.31), "peppers": (37.63, 37.09, 37.41), "house": (37.85, 37.73, 38.03),
    "lena": (38.16, 37.97, 38.19), "boat": (36.33, 36.21, 36.53),
}


#: The paper's best lambda for denoising (Figure 2e-g, [0, 1] pixel units), marked on our curves.
PAPER_BEST_LAMBDA = 1e-5


#: The paper's Table 2: low-pass start, CD-1, Basis Rotation, RSM.
PAPER_TABLE2 = {
    "peppers": (27.54, 29.11, 27.69, 29.76), "house": (33.15, 33.53, 33.41, 33.48),
    "lena": (32.39, 33.31, 33.07, 33.46), "boat": (29.20, 30.81, 30.77, 30.82),
    "castle": (24.19, 24.15, 24.26, 24.31),
}


#: The training recipe of our RSM FoE 5x5x24: the narrower whitening filter (LoG sigma 0.5, close to the data's
#: ZCA filter; the sigma-1 filter is band-pass), the scale 20 (with c = e^1.5 it sets the experts' width), free
#: filter norms (a learned width per expert), 60000 patches, all chosen on the tuning crops by
#: ``paper/scripts/quality_sweep.py``; Adam lr 0.1 for 7000 steps, chosen to reach the 12000-step lr-0.05 model's
#: tuning-crop PSNR in less training time by ``paper/benchmarks/train_foe.py``
#: (``docs/results/benchmarks/train_foe_cpu.json``; the figures are in the ``foe_5x5x24`` model card). The bundled
#: ``foe_5x5x24`` is the 12000-step model (the recipe in its metadata).
RECIPE = FoERecipe()  # the defaults are this measured recipe


#: Training length and patch count of each model of the Figure 2e-g lambda sweep (6000 steps, a third of the
#: main model's patches: the seven models fit the full run's time budget).
SWEEP_STEPS, SWEEP_PATCHES = 6000, 20000


#: The recipe of the bundled RSM FoE 8x8x64 (Figure 2l; ``pretrained/foe_8x8x64``): whitened-space score
#: matching as in the paper, on images whitened with a narrower Laplacian of Gaussian (sigma 0.5, a flatter
#: spectrum than sigma 1) and scaled by 20 (whitened data of about unit variance, where unit-norm filters meet
#: the expert's core). See docs/results/restoration/filters.md.
RECIPE_8X8X64 = FoERecipe(n_experts=64, kernel_size=8, space="whitened", normalize_filters=True, n_patches=20000,
                          steps=6000, lr=0.05)


@dataclass(frozen=True)
class RestorationConfig(Settings):
    """Settings of the restoration experiment: the full run by default, :meth:`quick` the smoke test.

    ``recipe`` trains the RSM FoE (and, with the estimator swapped, the CD-1 FoE: :attr:`cd_recipe`); the
    grids are searched by :func:`~.tuning.climb` on ``crop`` x ``crop`` tuning crops; ``table_crop`` /
    ``heldout_crop`` crop the reported images (None: whole) and ``heldout_limit`` keeps the first validation
    images only; ``denoise_iters`` / ``paper_iters`` override the solvers' iteration counts (None: theirs);
    ``smoke_test`` also shortens the 8x8x64 variant to ``variant_steps``.
    """

    recipe: dict[str, Any] = dataclasses.field(default_factory=RECIPE.to_dict)
    sweep_lambdas: tuple[float, ...] = LAMBDAS
    sweep_steps: int = SWEEP_STEPS
    sweep_n_patches: int = SWEEP_PATCHES
    variant_steps: int = 1500
    sweep_weights: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
    levels: tuple[int, ...] = LEVELS
    sweep_levels: tuple[int, ...] = SWEEP_LEVELS
    weights: tuple[float, ...] = WEIGHTS
    tv_weights: tuple[float, ...] = TV_WEIGHTS
    draws: int = N_DRAWS
    sweep_draws: int = N_DRAWS
    crop: int = 128
    table_crop: int | None = None
    denoise_iters: int | None = None
    sr_iters_grid: tuple[int, ...] = SR_ITERS_GRID
    sr_paper_steps: tuple[float, ...] = SR_PAPER_STEPS
    paper_iters: int | None = None
    heldout_levels: tuple[int, ...] = HELDOUT_LEVELS
    heldout_limit: int | None = None
    heldout_crop: int | None = None
    smoke_test: bool = False
    boundary: str = DEFAULT_BOUNDARY

    def __post_init__(self) -> None:
        self.check_ints(sweep_steps=1, sweep_n_patches=1, variant_steps=1, draws=1, sweep_draws=1, crop=8)
        for name in ("table_crop", "denoise_iters", "paper_iters", "heldout_limit", "heldout_crop"):
            if getattr(self, name) is not None:
                self.check_ints(**{name: 1})

    @classmethod
    def quick(cls) -> "RestorationConfig":
        """The smoke test (seconds): tiny models, one level and draw, 32-pixel tuning crops, two validation images."""
        return cls(recipe=FoERecipe(**{**RECIPE.to_dict(), "steps": 20, "n_patches": 500}).to_dict(),
                   sweep_lambdas=(0.0, 1e-5), sweep_steps=5, sweep_n_patches=300, variant_steps=5, levels=(5,),
                   sweep_levels=(5,), weights=(0.3, 1.0), sweep_weights=(0.3, 1.0), tv_weights=(0.01, 0.03),
                   draws=1, sweep_draws=1, crop=32, table_crop=40, denoise_iters=15, sr_iters_grid=(5, 10),
                   sr_paper_steps=(1e-3, 1e-2), paper_iters=20, heldout_levels=(5,), heldout_limit=2,
                   heldout_crop=40, smoke_test=True)

    @property
    def cd_recipe(self) -> dict[str, Any]:
        """The CD-1 FoE's recipe: :attr:`recipe` with the estimator swapped."""
        return cd_recipe(self.recipe)


def cd_recipe(recipe: dict[str, Any]) -> dict[str, Any]:
    """The CD-1 FoE's recipe: the RSM recipe with the estimator swapped (lambda does not apply)."""
    return {**recipe, "estimator": "cd1", "lam": 0.0}
