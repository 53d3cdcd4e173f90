"""Energy values and input gradients of an image energy on whole images: the boundary rule, the channel policy and
tiles (bounded memory). :class:`~scorematch.prior.ImagePrior` is the public face of these functions."""

from __future__ import annotations

import torch
from torch import Tensor

from ..energies.base import Energy, PaddedImageEnergy

__all__ = ["energy_and_grad", "energy_with_boundary", "context_grad", "per_channel", "check_channels", "check_image_size", "extend", "fold",
           "margin", "BOUNDARIES", "PADDED_MARGIN"]

#: How an image energy treats the image border (see :func:`energy_and_grad`).
BOUNDARIES = ("valid", "symmetric", "reflect", "replicate")
#: Pixels by which a boundary rule extends an image for a padded network, whose own zero padding would otherwise
#: meet the image's edge (at most the image's side less one). Chosen with the rule on the colour tuning photos:
#: ``paper/benchmarks/border_rule.py``, ``docs/results/unet/border_rule.json``.
PADDED_MARGIN = 32


def per_channel(energy: Energy, x: Tensor) -> tuple[Tensor, int]:
    """``x`` (B, C, H, W) with its channels folded into the batch, (B * C, 1, H, W), when ``energy`` is a grey
    prior and ``C > 1`` (the prior then acts on each channel alone); and the number of channels folded (1 if none).
    """
    c = x.shape[1]
    if c > 1 and energy.in_channels == 1:
        return x.reshape(-1, 1, *x.shape[-2:]), c
    return x, 1


def check_channels(energy: Energy, channels: int) -> None:
    """Refuse images of ``channels`` channels that ``energy`` cannot take: a grey prior (one input channel)
    takes any number (:func:`per_channel`), a prior of ``C > 1`` channels exactly ``C``."""
    c = energy.in_channels
    if c is None or c == 1 or c == channels:
        return
    kinds = {1: "a grey image", 3: "a colour image"}
    have = kinds.get(channels, f"an image of {channels} channels")
    need = "colour (3-channel)" if c == 3 else f"{c}-channel"
    raise ValueError(f"the prior ({type(energy).__name__}) takes {need} images, the input is {have}"
                     + ("; use a grey prior such as foe_5x5x24" if channels == 1 else ""))


def check_image_size(energy: Energy, shape: tuple[int, int], *, factor: int = 1) -> None:
    """Refuse an (H, W) input whose restored image (``factor`` times larger) is smaller than the prior's support.

    Such an image holds no whole window of the prior: a result would come from the boundary rule alone.
    Energies that are not window fields (no :attr:`~scorematch.energies.Energy.support`) are not checked.
    """
    s = energy.support
    h, w = shape
    if s is None or min(h, w) * factor >= s:
        return
    upscaled = f" ({h * factor}x{w * factor} after the {factor}x upscale)" if factor != 1 else ""
    m = -(-s // factor)  # ceil(s / factor): the smallest input side
    raise ValueError(f"the image is {h}x{w} pixels{upscaled}, smaller than the prior's {s}x{s} support "
                     f"(the window one energy term sees); give an image of at least {m}x{m} pixels")


def _source_index(n: int, m: int, boundary: str, device: torch.device) -> Tensor:
    i = torch.arange(-m, n + m, device=device)
    if boundary == "replicate":
        return i.clamp(0, n - 1)
    shift = 1 if boundary == "symmetric" else 0  # symmetric repeats the edge pixel, reflect does not
    i = torch.where(i < 0, -i - shift, i)
    return torch.where(i > n - 1, 2 * (n - 1) - i + shift, i)


def extend(x: Tensor, m: int, boundary: str) -> Tensor:
    """``x`` extended by ``m`` pixels on each side of its last two axes (differentiable).

    Parameters
    ----------
    x : Tensor, shape (..., H, W)
    m : int
    boundary : {"symmetric", "reflect", "replicate"}
        ``"symmetric"``: mirrored about the edge, the edge pixel repeated (``c b a | a b c``); ``"reflect"``:
        mirrored about the edge pixel (``c b | a b c``); ``"replicate"``: the edge pixel repeated.

    Returns
    -------
    Tensor, shape (..., H + 2m, W + 2m)
    """
    if boundary not in BOUNDARIES[1:]:
        raise ValueError(f"boundary must be one of {BOUNDARIES[1:]}, got {boundary!r}")
    h, w = x.shape[-2:]
    if boundary != "replicate" and m > min(h, w) - (boundary == "reflect"):
        raise ValueError(f'{boundary} extension by {m} pixels needs an image of more than {m} pixels a side, '
                         f'got {h}x{w}; use boundary="replicate" or "valid"')
    rows = _source_index(h, m, boundary, x.device)
    cols = _source_index(w, m, boundary, x.device)
    return x[..., rows, :][..., cols]


def fold(g: Tensor, m: int, boundary: str) -> Tensor:
    """The adjoint of :func:`extend`: each entry of ``g`` added back onto the pixel it was copied from.

    Parameters
    ----------
    g : Tensor, shape (..., H + 2m, W + 2m)
        A gradient with respect to the extended image.
    m : int
    boundary : {"symmetric", "reflect", "replicate"}

    Returns
    -------
    Tensor, shape (..., H, W): the gradient with respect to the image.
    """
    h, w = g.shape[-2] - 2 * m, g.shape[-1] - 2 * m
    rows = _source_index(h, m, boundary, g.device)
    cols = _source_index(w, m, boundary, g.device)
    by_rows = g.new_zeros(*g.shape[:-2], h, g.shape[-1]).index_add_(-2, rows, g)
    return g.new_zeros(*g.shape[:-2], h, w).index_add_(-1, cols, by_rows)


def energy_and_grad(
    energy: Energy, x: Tensor, *, tile: int | None = None, boundary: str = "valid"
) -> tuple[Tensor, Tensor]:
    """``E(x)`` per image and ``dE/dx``, optionally computed tile by tile.

    Parameters
    ----------
    energy : Energy
        An image energy: a field that sums a term over every valid ``S x S`` window (``S`` = ``energy.support``),
        such as :class:`~scorematch.FieldOfExperts` or :class:`~scorematch.energies.ImageFoE`, or a
        :class:`~scorematch.energies.PaddedImageEnergy` (a network with its own border handling).
    x : Tensor, shape (B, C, H, W)
        A grey prior acts on each of the ``C`` channels (:func:`per_channel`), its energies summed per image.
    tile : int, optional
        Window positions (pixels) per tile side. A field's tile reads an ``(tile + S - 1)``-sided crop, so the
        work memory is bounded by the tile size, not the image, and the energies and gradients are sums of the
        tiles' parts: equal to the untiled ones up to floating-point summation order. A padded energy's tile reads
        the tile and its receptive field around it (:func:`_overlap_tiled`): the energy is then the sum of each
        tile's own pixels' terms, each computed with the context around them (equal to the untiled energy up to
        the network's zero padding, far from the pixels it counts).
    boundary : {"valid", "symmetric", "reflect", "replicate"}
        For a field: ``"valid"``, the energy as defined, a sum over the windows inside the image, so pixels within
        ``S - 1`` of the border lie in fewer windows and the prior constrains them less (a corner pixel lies in
        one window, an interior pixel in ``S^2``). Otherwise the energy of the image extended by ``S - 1`` pixels
        on each side (:func:`extend`), so that every pixel lies in ``S^2`` windows; the gradient is that of this
        composite, folded back onto the image. A padded energy: ``"valid"``, the network's own zero padding at
        the border; otherwise the sum of the terms of the image's own pixels, computed on the image extended by
        :func:`margin` pixels (context for the border pixels' terms), the gradient folded back onto the image.

    Returns
    -------
    energy : Tensor, shape (B,)
    grad : Tensor, shape (B, C, H, W)
    """
    flat, c = per_channel(energy, x)
    if c > 1:
        e, g = energy_and_grad(energy, flat, tile=tile, boundary=boundary)
        return e.reshape(-1, c).sum(1), g.reshape(x.shape)
    m = margin(energy, boundary, tuple(x.shape[-2:]))
    if m is None:
        return _tiled(energy, x, tile)
    inner = m if isinstance(energy, PaddedImageEnergy) else 0  # a network's terms: the image's own pixels' only
    e, ge = _tiled(energy, extend(x.detach(), m, boundary), tile, inner=inner)
    return e, fold(ge, m, boundary)


def energy_with_boundary(energy: Energy, x: Tensor, boundary: str) -> Tensor:
    """``E(x)`` per image as :func:`energy_and_grad` defines it with ``boundary`` (untiled), differentiable in ``x``.

    Parameters
    ----------
    energy : Energy
    x : Tensor, shape (B, C, H, W)
    boundary : {"valid", "symmetric", "reflect", "replicate"}

    Returns
    -------
    Tensor, shape (B,)
    """
    flat, c = per_channel(energy, x)
    m = margin(energy, boundary, tuple(x.shape[-2:]))
    if m is None:
        e = energy.energy(flat)
    elif isinstance(energy, PaddedImageEnergy):
        e = energy.energy_map(extend(flat, m, boundary))[..., m:-m, m:-m].sum((-2, -1))
    else:
        e = energy.energy(extend(flat, m, boundary))
    return e.reshape(-1, c).sum(1)


def context_grad(energy: Energy, x: Tensor, *, boundary: str, tile: int | None = None) -> Tensor:
    """``dE/dx`` at the image's own pixels, the image extended on each side (:func:`margin`) as fixed context.

    Every pixel's gradient is then the sum over the ``S^2`` windows that contain it, as in the interior; unlike
    :func:`energy_and_grad`, the gradients at the extension's copies are not folded back onto the pixels
    they copy (that would count an edge pixel's copies as further observations of it). This is the score of a
    field at the border, which Tweedie's estimate needs (:func:`~scorematch.tasks.tweedie_denoise`).

    Parameters
    ----------
    energy : Energy
        An image energy, as for :func:`energy_and_grad`.
    x : Tensor, shape (B, C, H, W)
    boundary : {"valid", "symmetric", "reflect", "replicate"}
        The extension rule (:func:`extend`), by :func:`margin` pixels; ``"valid"``: no context.
    tile : int, optional
        As for :func:`energy_and_grad`.

    Returns
    -------
    Tensor, shaped like ``x``
    """
    flat, _ = per_channel(energy, x)
    m = margin(energy, boundary, tuple(x.shape[-2:]))
    if m is None:
        return _tiled(energy, flat, tile)[1].reshape(x.shape)
    g = _tiled(energy, extend(flat.detach(), m, boundary), tile)[1]
    return g[..., m : g.shape[-2] - m, m : g.shape[-1] - m].reshape(x.shape)


def margin(energy: Energy, boundary: str, size: tuple[int, int]) -> int | None:
    """Pixels by which ``boundary`` extends an (H, W) image for ``energy``: a field's ``S - 1`` (so every pixel lies
    in ``S^2`` windows), a padded network's :data:`PADDED_MARGIN` (at most ``min(H, W) - 1``); None for
    ``"valid"`` or no extension."""
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    if boundary == "valid":
        return None
    if isinstance(energy, PaddedImageEnergy):
        return min(PADDED_MARGIN, min(size) - 1) or None
    if energy.support is None:
        raise ValueError(f"boundary {boundary!r} needs a field energy with a known support or a padded network; "
                         f"{type(energy).__name__} is neither (use boundary='valid')")
    return energy.support - 1


def _tiled(energy: Energy, x: Tensor, tile: int | None, *, inner: int = 0) -> tuple[Tensor, Tensor]:
    """``E(x)`` and ``dE/dx``, in tiles of ``tile`` pixels a side when given; a padded energy's terms of the pixels
    at least ``inner`` pixels inside the border only (the rest is context)."""
    if tile is not None and tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    if isinstance(energy, PaddedImageEnergy) and tile is not None:
        return _overlap_tiled(energy, x, tile, inner)
    if isinstance(energy, PaddedImageEnergy) and inner:
        return _inner_terms(energy, x, inner)
    if tile is None:
        return energy.energy_and_grad(x)
    s = energy.support
    if s is None:
        raise ValueError(f"tiling needs an image energy; {type(energy).__name__} is not one")
    h, w = x.shape[-2:]
    ph, pw = h - s + 1, w - s + 1  # number of window positions per side
    if ph < 1 or pw < 1:
        raise ValueError(f"image of shape {tuple(x.shape[-2:])} is smaller than the energy's support {s}")
    e = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    g = torch.zeros_like(x)
    for i in range(0, ph, tile):
        for j in range(0, pw, tile):
            i1, j1 = min(i + tile, ph), min(j + tile, pw)
            crop = x[..., i : i1 + s - 1, j : j1 + s - 1]  # (B, 1, ti + S - 1, tj + S - 1): windows i..i1-1
            ei, gi = energy.energy_and_grad(crop)
            e += ei
            g[..., i : i1 + s - 1, j : j1 + s - 1] += gi
    return e, g


def _inner_terms(energy: PaddedImageEnergy, x: Tensor, inner: int) -> tuple[Tensor, Tensor]:
    """The sum of a padded energy's terms at the pixels at least ``inner`` pixels inside the border of ``x``, and
    its gradient (all of ``x`` is read)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        e = energy.energy_map(x)[..., inner:-inner, inner:-inner].sum((-2, -1))
        (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


def _overlap_tiled(energy: PaddedImageEnergy, x: Tensor, tile: int, inner: int = 0) -> tuple[Tensor, Tensor]:
    """A padded energy in tiles: each ``tile``-sided core's own terms (:meth:`PaddedImageEnergy.energy_map`),
    computed on the core with ``energy.context`` pixels of the image around it, summed; their gradients added up.
    The cores cover the pixels at least ``inner`` pixels inside the border."""
    h, w = x.shape[-2:]
    m = energy.context
    e = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    g = torch.zeros_like(x)
    for i in range(inner, h - inner, tile):
        for j in range(inner, w - inner, tile):
            a, b = max(i - m, 0), max(j - m, 0)  # the crop: the core [i, i1) x [j, j1) and its context
            i1, j1 = min(i + tile, h - inner), min(j + tile, w - inner)
            with torch.enable_grad():
                crop = x[..., a : min(i1 + m, h), b : min(j1 + m, w)].detach().requires_grad_(True)
                terms = energy.energy_map(crop)[..., i - a : i1 - a, j - b : j1 - b]  # (B, core rows, core cols)
                ei = terms.sum((-2, -1))
                (gi,) = torch.autograd.grad(ei.sum(), crop)
            e += ei.detach()
            g[..., a : min(i1 + m, h), b : min(j1 + m, w)] += gi
    return e, g
