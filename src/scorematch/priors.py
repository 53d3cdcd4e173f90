"""Training recipe for Field-of-Experts image priors by regularized score matching (Kingma & LeCun 2010, sec. 4.2).

The recipe: gray training images on [0, 1] are multiplied by ``scale`` (255: the 0..255 pixel scale) and
whitened with the 5x5 Laplacian filter (:func:`~scorematch.laplacian_whitening_kernel`); random
``patch_size`` patches of the whitened images are drawn once (seeded); a
:class:`~scorematch.FieldOfExperts` is fitted to them by regularized score matching (eq. 7, curvature
backpropagation, Adam, cosine learning rate); the result is wrapped as an
:class:`~scorematch.energies.ImageFoE`, a prior on [0, 1] images that carries its scale and whitening.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .config import Settings
from .io.images import dequantize
from .datasets.patches import PatchStream, load_images, split_images
from .energies.base import Energy
from .energies.foe import FieldOfExperts, laplacian_whitening_kernel
from .energies.colour_prior import COLOUR_TRANSFORMS, ColourFoE
from .energies.image_prior import ImageFoE
from .estimators.contrastive import contrastive_divergence_loss
from .estimators.score_matching import score_matching_loss
from .samplers import StepSizeController
from .serialization import save
from .train import fit

__all__ = ["FoERecipe", "train_image_foe", "training_patches"]

log = logging.getLogger(__name__)

#: First HMC step size of ``estimator="cd1"`` (then adapted towards 90 % acceptance).
CD_INITIAL_STEP = 0.05


@dataclass(frozen=True)
class FoERecipe(Settings):
    """Settings of :func:`train_image_foe`. The defaults are the measured recipe of the bundled
    ``foe_5x5x24`` (pixel-space score matching, scale 20, the sigma-0.5 whitening, free filter norms, 12000
    steps on 60000 24x24 patches; its model card has the measurements); :meth:`paper` is the paper's setting.

    Attributes
    ----------
    n_experts, kernel_size : int
        The FoE (24 experts of 5x5 in the paper; 64 of 8x8 for the larger model).
    lam : float
        Regularization weight in **[0, 1]-pixel units** (the paper's scale: 1e-5 is its optimum). The
        training data are ``scale`` times larger, so the loss uses ``lam * scale**2`` (the SM term and
        the regularizer scale as ``scale**-2`` and ``scale**-4``).
    scale : float
        Pixel scale of the training data (255: 0..255).
    whitening_size : int
        Laplacian whitening filter side (5), 0 for none.
    whitening_sigma : float
        Gaussian width of the Laplacian-of-Gaussian whitening filter (:func:`laplacian_whitening_kernel`).
        1 is a band-pass filter that leaves train400 with ~100x less power near Nyquist than at its peak
        (score matching then favours checkerboard filters); 0.5 is close to the data's 5x5 ZCA filter.
    normalize_filters : bool
        Unit-norm filters (the paper's PoE convention). With unit-norm filters and a fixed ``c`` the
        scale sets the shape of the expert: see the notes of :class:`ImageFoE`.
    patch_size : int
        Side of the training patches (of the whitened image).
    n_patches : int
        Patches drawn once from the training images.
    steps, batch_size, lr : int, int, float
        Adam with a cosine schedule.
    init_norm : float
        Initial norm of every (Gaussian random, ``randn / k``) filter (only matters with ``normalize_filters=False``); 0 keeps the
        initializer's own norms.
    dequantize : bool
        Add uniform noise of one grey level (``U(-1/2, 1/2) / 255`` on the [0, 1] scale, seeded) to the
        training images once, before the patches are drawn, so the 8-bit data have a density. Without
        the regularizer (``lam = 0``) and with free filter norms the fit otherwise exploits the
        quantization (filter norms grow); dequantizing recovers most of what ``lam = 1e-5`` gives.
    estimator : {"sm", "cd1"}
        ``"sm"``: regularized score matching (eq. 7, weight ``lam``). ``"cd1"``: contrastive divergence with
        one HMC transition per patch (Roth & Black's estimator; ``lam`` unused), ``cd_leapfrog`` leapfrog
        steps, the step size adapted between batches towards 90 % acceptance. Everything else (data,
        whitening, scale, filter norms, steps) is shared, so two recipes that differ only here compare
        the estimators.
    cd_leapfrog : int
        Leapfrog steps per HMC transition for ``estimator="cd1"``.
    space : {"whitened", "pixel"}
        ``"whitened"`` (the paper): score matching on patches of the scaled, whitened images, for the FoE
        alone. ``"pixel"``: score matching on [0, 1] image patches for the whole prior ``E(L s x)``
        (the score the MAP solvers use; 8-bit quantization then acts on the data directly).
    colour : {"grey", "rgb", "opponent"}
        ``"grey"``: an :class:`ImageFoE` on gray images. Otherwise a :class:`~scorematch.energies.ColourFoE` on
        (3, H, W) colour images, its ``3 x k x k`` filters behind the fixed colour transform of that name
        (:func:`~scorematch.energies.colour_prior.colour_transform`), the scale and the per-channel whitening;
        needs ``space="pixel"``.
    seed : int
    """

    n_experts: int = 24
    kernel_size: int = 5
    lam: float = 1e-5
    scale: float = 20.0
    whitening_size: int = 5
    whitening_sigma: float = 0.5
    normalize_filters: bool = False
    patch_size: int = 24
    n_patches: int = 60000
    steps: int = 7000
    batch_size: int = 64
    lr: float = 0.1
    space: str = "pixel"
    seed: int = 0
    init_norm: float = 0.0
    dequantize: bool = False
    estimator: str = "sm"
    cd_leapfrog: int = 5
    colour: str = "grey"

    def __post_init__(self) -> None:
        self._check_ints(n_experts=1, kernel_size=1, whitening_size=0, patch_size=1, n_patches=1, steps=0,
                         batch_size=1, seed=0, cd_leapfrog=1)
        self._check_numbers(lam=0.0, init_norm=0.0)
        self._check_numbers(scale=0.0, whitening_sigma=0.0, lr=0.0, strict=True)
        self._check_choice("estimator", ("sm", "cd1"))
        self._check_choice("space", ("whitened", "pixel"))
        self._check_choice("colour", ("grey", *COLOUR_TRANSFORMS))
        if self.colour != "grey" and self.space != "pixel":
            raise ValueError(f'a colour prior (colour={self.colour!r}) is trained in space="pixel"')

    @classmethod
    def paper(cls, **changes: Any) -> "FoERecipe":
        """The paper's setting: score matching of the FoE on patches of images scaled to 0..255 and whitened by
        the sigma-1 Laplacian of Gaussian, unit-norm filters, 2000 steps on 20000 16x16 patches (measured
        worse than the defaults: see ``scorematch_paper.experiments.restoration.RECIPE`` in paper/)."""
        paper = dict(scale=255.0, whitening_sigma=1.0, normalize_filters=True, patch_size=16, n_patches=20000,
                     steps=2000, lr=0.02, space="whitened")
        return cls(**{**paper, **changes})


def _init_filters(foe: FieldOfExperts, recipe: "FoERecipe", generator: torch.Generator) -> None:
    layer = foe.filter_layer
    with torch.no_grad():
        if recipe.init_norm:
            w = layer.raw_weight
            w.mul_(recipe.init_norm / w.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None])


def training_patches(images: Sequence[Tensor], recipe: FoERecipe) -> Tensor:
    """Scaled, whitened random patches, shape (n_patches, C, patch_size, patch_size) (C = 3 for (3, H, W) colour
    images; in ``space="pixel"`` the [0, 1] patches themselves); seeded by ``recipe.seed``."""
    images = list(images)
    if recipe.dequantize:
        g = torch.Generator().manual_seed(recipe.seed + 1)
        images = [dequantize(im, g) for im in images]
    if recipe.space == "pixel":
        stream = PatchStream(images, recipe.patch_size)
    else:
        kernel = (laplacian_whitening_kernel(recipe.whitening_size, sigma=recipe.whitening_sigma)
                  if recipe.whitening_size else None)
        stream = PatchStream(images, recipe.patch_size, scale=recipe.scale, whitening=kernel)
    return stream(recipe.n_patches, torch.Generator().manual_seed(recipe.seed))


def train_image_foe(
    images: str | os.PathLike | Sequence[Tensor] = "train400",
    recipe: FoERecipe = FoERecipe(),
    *,
    holdout: float | None = 0.1,
    run_dir: str | os.PathLike | None = None,
    progress: bool = False,
    callback: Callable[[int, float, Energy], None] | None = None,
    device: str | torch.device = "cpu",
    **changes: Any,
) -> ImageFoE | ColourFoE:
    """Train an RSM Field of Experts on whitened natural-image patches; return it as a [0, 1] image prior.

    Parameters
    ----------
    images : str, path or sequence of Tensor (H, W), or (3, H, W) for a colour recipe
        A bundled set name (``"train400"``), a folder of images, or the images.
    recipe : FoERecipe
    holdout : float, optional
        Leave out every ``round(1/holdout)``-th image (kept for tuning and validation); None uses all.
    run_dir : path, optional
        Where :func:`scorematch.fit` writes its metrics and checkpoints; the prior is saved there as
        ``prior.safetensors``.
    progress : bool
    callback : callable, optional
        ``callback(step, loss, energy)`` at each logged step (:func:`scorematch.fit`), e.g. a held-out loss.
    device : str or torch.device
        Where the model and the patches live while training (``"cuda"`` for a GPU).
    **changes
        Override recipe fields.

    Returns
    -------
    ImageFoE, or ColourFoE for a colour recipe
    """
    recipe = FoERecipe(**{**recipe.to_dict(), **changes})
    colour = recipe.colour != "grey"
    if not isinstance(images, (list, tuple)):
        images = load_images(images, colour=colour)
    if colour and any(im.dim() != 3 or im.shape[0] != 3 for im in images):
        raise ValueError(f"colour={recipe.colour!r} needs (3, H, W) colour images")
    if holdout:
        images, _ = split_images(images, holdout=holdout)
    t0 = time.perf_counter()
    data = training_patches(images, recipe)
    gen = torch.Generator().manual_seed(recipe.seed)
    if colour:
        foe = ColourFoE(recipe.n_experts, recipe.kernel_size, normalize_filters=recipe.normalize_filters,
                        scale=recipe.scale, whitening_size=recipe.whitening_size,
                        whitening_sigma=recipe.whitening_sigma, transform=recipe.colour, generator=gen)
        loss = functools.partial(score_matching_loss, lam=recipe.lam)
    elif recipe.space == "pixel":
        foe = ImageFoE(recipe.n_experts, recipe.kernel_size, normalize_filters=recipe.normalize_filters,
                       scale=recipe.scale, whitening_size=recipe.whitening_size,
                       whitening_sigma=recipe.whitening_sigma, generator=gen)
        loss = functools.partial(score_matching_loss, lam=recipe.lam)
    else:
        foe = FieldOfExperts(recipe.n_experts, recipe.kernel_size, normalize_filters=recipe.normalize_filters,
                             generator=gen)
        loss = functools.partial(score_matching_loss, lam=recipe.lam * recipe.scale**2)
    if recipe.estimator == "cd1":
        loss = functools.partial(contrastive_divergence_loss, sampler="hmc", steps=1, n_leapfrog=recipe.cd_leapfrog,
                                 step_size=StepSizeController(CD_INITIAL_STEP, target=0.9))
    _init_filters(foe, recipe, gen)
    foe, data = foe.to(device), data.to(device)
    fit(foe, data, loss, steps=recipe.steps, batch_size=recipe.batch_size, lr=recipe.lr, seed=recipe.seed,
        log_every=max(1, recipe.steps // 20), checkpoint_every=0, run_dir=run_dir, progress=progress,
        callback=callback)
    if isinstance(foe, (ImageFoE, ColourFoE)):
        prior = foe
    else:
        prior = ImageFoE.from_foe(foe, scale=recipe.scale, whitening_size=recipe.whitening_size,
                                  whitening_sigma=recipe.whitening_sigma)
    seconds = time.perf_counter() - t0
    log.info("trained %dx%dx%d FoE in %.1f s", recipe.kernel_size, recipe.kernel_size, recipe.n_experts, seconds)
    if run_dir is not None:
        save(prior, Path(run_dir) / "prior.safetensors",
             metadata={"recipe": recipe.to_dict(), "holdout": holdout, "train_seconds": seconds})
    return prior
