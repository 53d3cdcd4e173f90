"""An energy and what makes it an image prior: its boundary rule, tiling, channel policy, noise levels and presets."""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..energies.base import Energy, NoiseConditionalEnergy, PaddedImageEnergy
from ..pretrained import resolve
from ..serialization import ModelFileError, load, load_info
from .evaluation import BOUNDARIES, check_channels, check_image_size, context_grad, energy_and_grad
from .presets import Presets

__all__ = ["ImagePrior", "load_prior", "as_prior", "default_prior", "DEFAULT_PRIORS", "DEFAULT_BOUNDARY",
           "PADDED_BOUNDARY", "AUTO_TILE", "AUTO_TILE_PIXELS"]

log = logging.getLogger(__name__)

#: The bundled priors the library and every restoration command use unless told otherwise, by the images' channels
#: (a grey prior denoises a colour image on its opponent channels and restores it channel by channel). Chosen on
#: tuning images: ``paper/benchmarks/unet_presets.py`` (grey) and ``paper/benchmarks/colour_choice.py`` (colour:
#: the grey ``unet`` on the opponent channels against the colour-trained ``unet_colour``).
DEFAULT_PRIORS = {1: "unet", 3: "unet"}
#: How far beyond the range of its denoising presets a prior that is not noise-conditional is still used (a factor
#: on the noise std; beyond it the levels are refused).
PRESET_REACH = 4.0
#: A window field's boundary rule unless told otherwise (``benchmarks/`` and the restoration experiment measured the
#: rules on the tuning crops; the model card of ``foe_5x5x24`` has the figures).
DEFAULT_BOUNDARY = "replicate"
#: A padded network's boundary rule unless told otherwise: the image mirrored as context for the border pixels
#: (:data:`~scorematch.prior.evaluation.PADDED_MARGIN` pixels), not the network's zero padding ("valid"). Chosen
#: on the colour tuning photos (``paper/benchmarks/border_rule.py``, ``docs/results/unet/border_rule.json``).
PADDED_BOUNDARY = "symmetric"
#: Images of more pixels (per channel) than this are evaluated in tiles of :data:`AUTO_TILE` pixels a side, so the
#: memory stays bounded whatever the image's size.
AUTO_TILE_PIXELS = 1024 * 1024
#: The side of an automatic tile.
AUTO_TILE = 512


class ImagePrior:
    """An energy as a prior on [0, 1] images (B, C, H, W): how it meets the border, how it is tiled, which images
    it takes, which noise levels it knows, and how to restore with it (its presets).

    Parameters
    ----------
    energy : Energy
        An image energy: a window field (:attr:`~scorematch.energies.Energy.support`), a padded network
        (:class:`~scorematch.energies.PaddedImageEnergy`), or a noise-conditional energy of either
        (:class:`~scorematch.energies.NoiseConditionalEnergy`).
    presets : Presets, optional
        How to denoise and restore with it (default: none; the solvers' defaults apply).
    boundary : {"replicate", "symmetric", "reflect", "valid"}, optional
        How the energy meets the border (:func:`~scorematch.prior.evaluation.energy_and_grad`): default
        :data:`DEFAULT_BOUNDARY` for a window field, :data:`PADDED_BOUNDARY` for a padded network.
    tile : int, optional
        Evaluate in tiles of this many pixels a side (bounded memory); default: :data:`AUTO_TILE` for images of more
        than :data:`AUTO_TILE_PIXELS` pixels, else whole.
    name : str, optional
        What to call it in messages (a bundled model's name or a file's stem).

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import ImageFoE
    >>> prior = ImagePrior(ImageFoE(4, 3, whitening_size=3))
    >>> e, g = prior.energy_and_grad(torch.rand(2, 3, 16, 16))  # a grey prior on each channel of a colour batch
    >>> e.shape, g.shape
    (torch.Size([2]), torch.Size([2, 3, 16, 16]))
    """

    def __init__(self, energy: Energy, *, presets: Presets | None = None, boundary: str | None = None,
                 tile: int | None = None, name: str | None = None) -> None:
        if not isinstance(energy, Energy):
            raise TypeError(f"energy must be a scorematch Energy, got {type(energy).__name__}")
        if energy.in_channels is None:
            raise TypeError(f"{type(energy).__name__} is not an energy of images (it declares no in_channels); an "
                            "image prior needs an image energy such as ImageFoE, DeepEnergy or UNetEnergy")
        padded = isinstance(_field(energy), PaddedImageEnergy)
        boundary = (PADDED_BOUNDARY if padded else DEFAULT_BOUNDARY) if boundary is None else boundary
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 1):
            raise ValueError(f"tile must be a positive number of pixels, got {tile!r}")
        self.energy, self.presets, self.boundary, self.tile = energy, presets or Presets(), boundary, tile
        self.name = name or type(energy).__name__

    def __repr__(self) -> str:
        return f"ImagePrior({self.name}: {type(self.energy).__name__}, boundary={self.boundary!r})"

    @property
    def in_channels(self) -> int:
        """Channels of the images it takes (1: grey, on each channel of any image; 3: colour)."""
        return int(self.energy.in_channels)

    @property
    def noise_conditional(self) -> bool:
        """Whether it is an energy of noisy images across levels (:meth:`at` gives one level's prior)."""
        return isinstance(self.energy, NoiseConditionalEnergy)

    @property
    def levels(self) -> tuple[float, float] | None:
        """The noise stds it knows (on [0, 1]): a noise-conditional prior's trained range, else the range of its
        denoising presets; None when neither."""
        if self.noise_conditional:
            return (self.energy.sigma_min, self.energy.sigma_max)
        return (min(self.presets.denoise), max(self.presets.denoise)) if self.presets.denoise else None

    def at(self, level: float | Tensor) -> "ImagePrior":
        """A noise-conditional prior's field at noise std ``level`` (a float, or a Tensor (B,): one level per image
        of the batch it will take): a prior of its own (same rules, no presets)."""
        if not self.noise_conditional:
            raise TypeError(f"{self.name} is not noise-conditional: it has no field at a level")
        level = level if isinstance(level, Tensor) else float(level)
        name = f"{self.name} at {level:.4g}" if isinstance(level, float) else f"{self.name} at {len(level)} levels"
        return ImagePrior(self.energy.at(level), boundary=self.boundary, tile=self.tile, name=name)

    def field(self) -> "ImagePrior":
        """The prior as an energy of clean images: a noise-conditional one at its lowest level, else itself."""
        return self.at(self.energy.sigma_min) if self.noise_conditional else self

    def check(self, channels: int, size: tuple[int, int] | None = None, *, factor: int = 1) -> None:
        """Refuse images it cannot take: ``channels`` it does not take, or an (H, W) ``size`` (``factor`` times
        larger after a super-resolution) smaller than its support. ValueError naming the fix."""
        check_channels(self.energy, channels)
        if size is not None:
            check_image_size(_field(self.energy), tuple(size), factor=factor)

    def check_level(self, sigma: float) -> None:
        """Refuse a noise std beyond a noise-conditional prior's trained range (its estimates there are no longer
        denoised images), or more than :data:`PRESET_REACH` times beyond the range of another prior's presets; warn
        for one between its presets' range and that reach."""
        levels = self.levels
        if levels is None or levels[0] <= sigma <= levels[1]:
            return
        lo, hi = levels
        what = (f"the noise std {sigma:.4g} (= {sigma * 255:.3g}/255) is outside the levels {self.name} "
                f"{'was trained on' if self.noise_conditional else 'has presets for'}: {lo * 255:.3g}/255 to "
                f"{hi * 255:.3g}/255")
        hint = f"; did you mean {sigma:g}/255?" if sigma >= 1 else ""
        if self.noise_conditional or not lo / PRESET_REACH <= sigma <= hi * PRESET_REACH:
            raise ValueError(what + hint)
        log.warning("%s; the nearest preset is used%s", what, hint)

    def tile_for(self, x: Tensor) -> int | None:
        """The tile side used for ``x`` (B, C, H, W): :attr:`tile`, else :data:`AUTO_TILE` for a large image."""
        if self.tile is not None:
            return self.tile
        return AUTO_TILE if x.shape[-1] * x.shape[-2] > AUTO_TILE_PIXELS else None

    def energy_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``E(x)`` per image (B,) and ``dE/dx`` (like ``x``), with the boundary rule, tiles and channel policy."""
        return energy_and_grad(self._energy(), x, tile=self.tile_for(x), boundary=self.boundary)

    def score_with_context(self, x: Tensor) -> Tensor:
        """``dE/dx`` at the image's own pixels, the border extended as context and not folded back (the score
        Tweedie's formula needs; :func:`~scorematch.prior.evaluation.context_grad`)."""
        return context_grad(self._energy(), x, boundary=self.boundary, tile=self.tile_for(x))

    def _energy(self) -> Energy:
        if self.noise_conditional:
            raise TypeError(f"{self.name} is noise-conditional: evaluate one of its levels (prior.at(sigma))")
        return self.energy

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "ImagePrior":
        """The prior on ``device`` in ``dtype``: itself when it is there already, else a frozen copy (the energy
        given by the caller is never changed)."""
        p = next(self.energy.parameters(), None)
        same = p is None or ((device is None or p.device == torch.device(device)) and (dtype in (None, p.dtype)))
        if same:
            return self
        return ImagePrior(_frozen(copy.deepcopy(self.energy).to(device=device, dtype=dtype)), presets=self.presets,
                          boundary=self.boundary, tile=self.tile, name=self.name)

    def with_settings(self, **changes: Any) -> "ImagePrior":
        """A copy with ``boundary``, ``tile`` or ``presets`` changed."""
        unknown = set(changes) - {"boundary", "tile", "presets"}
        if unknown:
            raise TypeError(f"unknown ImagePrior settings {sorted(unknown)}")
        kw = {"presets": self.presets, "boundary": self.boundary, "tile": self.tile, "name": self.name, **changes}
        return ImagePrior(self.energy, **kw)


def _frozen(energy: Energy) -> Energy:
    """``energy`` with its parameters out of autograd (a prior's evaluations need no parameter gradient)."""
    for p in energy.parameters():
        p.requires_grad_(False)
    return energy


def _field(energy: Energy) -> Energy:
    """The energy at one level (a noise-conditional energy's lowest), to read its kind and support from."""
    return energy.at(energy.sigma_min) if isinstance(energy, NoiseConditionalEnergy) else energy


def load_prior(name_or_path: str | os.PathLike, *, boundary: str | None = None,
               tile: int | None = None) -> ImagePrior:
    """An image prior from a bundled model's name (``scorematch models`` lists them) or a model file's path, with
    the presets stored in the file (checked; a file without presets gets none).

    Parameters
    ----------
    name_or_path : str or path
        A bundled model's name (``foe_5x5x24``) or a model file.
    boundary, tile : optional
        As for :class:`ImagePrior` (default: the prior's own rule, automatic tiles).

    Returns
    -------
    ImagePrior
        Its parameters frozen, in evaluation mode.

    Raises
    ------
    FileNotFoundError
        Neither a bundled name nor a file (the message lists the bundled names).
    ModelFileError
        Not a scorematch model file, not an image energy, or presets that cannot be read.
    """
    path = resolve(name_or_path)
    energy = _frozen(load(path).eval())
    extra = load_info(path)["extra"]
    try:
        presets = Presets.from_json(extra["presets"], where=str(path)) if "presets" in extra else None
        return ImagePrior(energy, presets=presets, boundary=boundary, tile=tile, name=_name(path, name_or_path))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def _name(path: Path, given: str | os.PathLike) -> str:
    return str(given) if not Path(given).is_file() else path.stem


def as_prior(prior: ImagePrior | Energy) -> ImagePrior:
    """``prior`` itself, or an energy wrapped with the default rules and no presets.

    Parameters
    ----------
    prior : ImagePrior or Energy

    Returns
    -------
    ImagePrior
    """
    return prior if isinstance(prior, ImagePrior) else ImagePrior(prior)


def default_prior(channels: int = 1) -> ImagePrior:
    """The bundled prior for images of ``channels`` channels.

    Parameters
    ----------
    channels : int
        3 for colour images, else grey (:data:`DEFAULT_PRIORS`).

    Returns
    -------
    ImagePrior
    """
    return load_prior(DEFAULT_PRIORS[3 if channels == 3 else 1])
