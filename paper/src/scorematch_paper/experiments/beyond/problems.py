"""The stage's problems and methods: the validation and tuning images, the seeded observations (motion blur, masks,
block averages, colour noise), our priors through ``tasks.restore`` and the simple anchors beside them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from scorematch.datasets import COLOUR_SET, colour_crops, colour_split
from scorematch.energies import NoiseConditionalEnergy
from scorematch.io.images import read_image
from scorematch.pretrained import load_pretrained
from scorematch.prior import load_prior
from scorematch.tasks import MAP, Blur, Denoising, Downsample, Inpaint, denoise, restore, superresolve
from scorematch_paper.experiments.beyond.settings import (
    DEFAULT_COLOUR_PRIOR,
    DEFAULT_PRIOR,
    OPPONENT,
    TABLE2_PROBLEM,
    WHOLE,
    BeyondConfig,
)
from scorematch_paper.experiments.restoration.data import frozen, heldout_images, image, noise_seed
from scorematch_paper.experiments.restoration.settings import TABLE2_IMAGES, TUNE_IMAGES
from scorematch_paper.paths import data_dir

#: One observed grey problem: (clean x (1, 1, H, W), operator, observation y).
Case = tuple[Tensor, Any, Tensor]


def motion_kernel(seed: int, size: int = 27) -> Tensor:
    """A camera-shake kernel: a random smooth trajectory of 13 to 27 pixels, rasterized and normalized.

    Returns
    -------
    Tensor, shape (size, size), float64, sums to 1
    """
    rng = np.random.default_rng(seed)
    length = rng.uniform(13, 27)
    pos, vel, pts = np.zeros(2), rng.normal(size=2), []
    for _ in range(400):
        vel = 0.9 * vel + 0.3 * rng.normal(size=2)
        vel /= max(np.linalg.norm(vel), 1e-9)
        pos = pos + vel * length / 400
        pts.append(pos.copy())
    pts = np.array(pts) - np.mean(pts, axis=0) + size // 2
    k = np.zeros((size, size))
    for y, x in pts:
        i, j = int(np.clip(round(y), 0, size - 1)), int(np.clip(round(x), 0, size - 1))
        k[i, j] += 1.0
    return torch.from_numpy(k / k.sum())


def _grey_crop(file: Path, c: int) -> Tensor:
    im = read_image(file, dtype=torch.float32)
    h, w = im.shape
    i, j = (h - c) // 2, (w - c) // 2
    return im[i : i + c, j : j + c][None, None]


def grey_images(config: BeyondConfig, part: str, problem: str = "") -> tuple[list[str], list[Tensor]]:
    """Names and central crops (each (1, 1, c, c)) of the ``"tune"`` or validation (``"test"``) grey images; the test
    images of :data:`~.settings.TABLE2_PROBLEM` are the Table 2 images (whole, or ``table2_crop`` crops)."""
    if part == "test" and problem == TABLE2_PROBLEM:
        return list(TABLE2_IMAGES), [image(n, config.table2_crop) for n in TABLE2_IMAGES]
    if part == "tune":
        files = [(n, data_dir() / "set12" / f"{n}.png") for n in TUNE_IMAGES]
    else:
        files = heldout_images(config.grey_images)
    return [n for n, _ in files], [_grey_crop(f, config.grey_crop) for _, f in files]


def _seed(tag: str, k: int) -> int:
    return noise_seed(tag, k, 0)


def observe(problem: str, images: list[Tensor], part: str, config: BeyondConfig) -> list[Case]:
    """The seeded observations of ``problem`` (a key of :data:`~.settings.GREY_PROBLEMS`) of each image."""
    cases = []
    for n, x in enumerate(images):
        if problem == "deblur":
            op = Blur(motion_kernel(_seed(f"{part}-blur", n)))
            noise = torch.Generator().manual_seed(_seed(f"{part}-blurnoise", n))
            cases.append((x, op, op.observe(x, sigma=config.blur_noise, generator=noise)))
        elif problem == "inpaint":
            mask = torch.rand(x.shape[-2:], generator=torch.Generator().manual_seed(_seed(f"{part}-mask", n))) > 0.5
            op = Inpaint(mask.float())
            cases.append((x, op, op.A(x)))
        else:
            op = Downsample(int(problem.rsplit("superres_", 1)[1].removesuffix("x")))
            cases.append((x, op, op.A(x)))
    return cases


def _frozen_prior(name: str) -> Any:
    return frozen(load_pretrained(name))


def grey_solver(problem: str, method: str, config: BeyondConfig) -> tuple[list[Any], Callable[[Case, Any], Tensor]]:
    """The choices of ``method`` on ``problem`` (tried on the tuning images) and ``solve(case, choice)``.

    ``method``: a bundled prior's name, or the problem's anchor (``wiener``, ``biharmonic``, ``bicubic``).
    """
    if method == "wiener":
        return list(config.balances), lambda case, b: _wiener(case[2], case[1].kernel, b)
    if method == "biharmonic":
        return [None], lambda case, _: _biharmonic(case[2], case[1].mask)
    if method == "bicubic":
        return [None], lambda case, _: case[1].start(case[2])
    model = _frozen_prior(method)
    deep = isinstance(model, NoiseConditionalEnergy)

    def prior(level: float | None) -> Any:
        return model.at(level / 256) if deep else model

    levels = list(config.deep_levels)
    if problem == "deblur":
        grid = [[lv, 1.0] for lv in levels] if deep else [[None, w] for w in config.weights]
        return grid, lambda case, c: restore(case[2], case[1], prior(c[0]), sigma=config.blur_noise,
                                             solver=MAP(weight=c[1]))
    if problem == "inpaint":
        grid = [[lv, config.deep_inpaint_iters] for lv in levels] if deep else [[None, n] for n in config.inpaint_iters]
        return grid, lambda case, c: restore(case[2], case[1], prior(c[0]), sigma=0.0,
                                             solver=MAP(iterations=int(c[1])))
    grid = [[lv] for lv in levels] if deep else [[None]]
    return grid, lambda case, c: superresolve(case[2], prior(c[0]), factor=case[1].factor)


def _wiener(y: Tensor, kernel: Tensor, balance: float) -> Tensor:
    from skimage.restoration import wiener

    # skimage's wiener is periodic with the kernel centred as in scipy's convolve, like Blur(..., "periodic")
    out = wiener(y[0, 0].double().numpy(), kernel.numpy(), balance, clip=False)
    return torch.from_numpy(out).float()[None, None]


def _biharmonic(y: Tensor, mask: Tensor) -> Tensor:
    from skimage.restoration import inpaint_biharmonic

    known = mask.reshape(y.shape[-2:]).numpy() != 0
    return torch.from_numpy(inpaint_biharmonic(y[0, 0].double().numpy(), ~known)).float()[None, None]


def colour_images(config: BeyondConfig, part: str) -> tuple[list[str], Tensor]:
    """Names and central crops (N, 3, c, c) of the ``"tune"`` or validation (``"test"``) colour images."""
    files = colour_split(data_dir() / COLOUR_SET)["tune" if part == "tune" else "heldout"]
    if part == "test":
        files = files[: config.colour_images]
        return [f.stem for f in files], colour_crops(files, config.colour_crop)
    return [f.stem for f in files], colour_crops(files, config.colour_tune_crop)


def colour_noisy(x: Tensor, names: list[str], level: int, part: str) -> list[Tensor]:
    """Each image (1, 3, H, W) with i.i.d. Gaussian noise of std ``level / 256``, seeded by name and level."""
    tag = "colour" if part == "test" else "colour-tune"
    seeds = [noise_seed(f"{tag}/{n}", level) for n in names]
    noise = Denoising(level / 256)
    return [noise(x[i : i + 1], generator=torch.Generator().manual_seed(s)) for i, s in enumerate(seeds)]


def colour_solver(method: str, level: int, config: BeyondConfig) -> tuple[list[Any], Callable[[Tensor, Any], Tensor]]:
    """The choices of a colour denoising method (:func:`~.settings.colour_methods`) and ``solve(noisy, choice)``."""
    sigma = level / 256
    if method.startswith((OPPONENT, WHOLE)):  # a grey prior on the opponent channels, a colour one whole
        model = load_prior(method.removeprefix(OPPONENT).removeprefix(WHOLE)).to(dtype=torch.float32)
        return [None], lambda y, _: denoise(y, model, sigma=sigma)
    if method in ("colour_prior", "grey_per_channel"):  # the colour prior whole, the grey one on each channel
        name = DEFAULT_COLOUR_PRIOR if method == "colour_prior" else DEFAULT_PRIOR
        model, weight = _frozen_prior(name), load_prior(name).presets.denoising(sigma).weight
        return [weight], lambda y, w: restore(y, Denoising(sigma), model, sigma=sigma, solver=MAP(weight=w))
    if method == "cbm3d":
        return [None], lambda y, _: colour_bm3d(y, sigma)
    return list(config.tv_weights), _tv_colour


def colour_bm3d(y: Tensor, sigma: float) -> Tensor:
    """Colour BM3D (``bm3d.bm3d_rgb``, its default opponent transform) of one image ``y`` (1, 3, H, W)."""
    import bm3d

    out = np.asarray(bm3d.bm3d_rgb(y[0].permute(1, 2, 0).double().numpy(), sigma_psd=sigma)).transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(out)).to(y.dtype)[None]


def _tv_colour(y: Tensor, weight: float) -> Tensor:
    from skimage.restoration import denoise_tv_chambolle

    out = denoise_tv_chambolle(y[0].double().numpy(), weight=weight, channel_axis=0)
    return torch.from_numpy(out).to(y.dtype)[None]
