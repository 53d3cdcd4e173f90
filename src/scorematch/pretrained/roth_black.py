"""Published models as energies of this library: the Roth & Black (2005) 3x3x8 Field of Experts.

No pretrained Basis Rotation FoE (Weiss & Freeman 2007, the paper's 15x15x25 column) and no copy of
Roth & Black's 5x5x24 model are publicly available; only the 3x3x8 CD-trained model is bundled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..datasets.paths import data_dir
from ..energies.foe import FieldOfExperts

__all__ = ["roth_black_3x3", "ROTH_BLACK_FILE"]

#: The bundled file, relative to the data folder (:func:`scorematch.datasets.data_dir`).
ROTH_BLACK_FILE = "pretrained/roth_black_2005_foe_3x3_8.npz"


def roth_black_3x3(path: str | os.PathLike | None = None, *, dtype: torch.dtype = torch.float32) -> FieldOfExperts:
    """The Roth & Black (2005) 3x3, 8-expert Student-t Field of Experts, trained by contrastive divergence.

    Parameters
    ----------
    path : path-like, optional
        The ``.npz`` with arrays ``filters`` (8, 3, 3) and ``alpha`` (8,); default the bundled
        ``data/pretrained/roth_black_2005_foe_3x3_8.npz``.
    dtype : torch.dtype

    Returns
    -------
    FieldOfExperts
        ``FieldOfExperts(8, 3, c=1, normalize_filters=False, learn_alpha=True)`` holding the raw
        filters and ``alpha`` (as ``beta = log alpha``). It is an ordinary energy of this library
        (trainable further, savable with :func:`scorematch.save`).

    Notes
    -----
    Roth & Black's experts are :math:`\\phi(z) = (1 + z^2/2)^{-\\alpha_i}`, i.e. the energy

    .. math:: E(x) = \\sum_p \\sum_i \\alpha_i \\log(1 + (J_i^T x_{(p)})^2 / 2),

    which is this library's Student-t expert ``log(1 + (c z)^2 / 2)`` with ``c = 1`` (not the
    paper's ``e^1.5``) and with filters that are *not* unit-norm (their norms carry the scale).
    The model acts on gray images on the **0..255 scale, without whitening**: use
    ``energy(255 * x)`` for images ``x`` in [0, 1]. The filters are the MATLAB code's
    ``reshape(basis' * J(:, i), [3 3])``; its ``evaluate_foe_log_grad`` applies them as
    ``conv2(x, rot180(J_i), 'valid')``, a cross-correlation with ``J_i``, which is what
    :class:`FieldOfExperts` computes. Sums run over the valid 3x3 cliques (no padding).

    References
    ----------
    S. Roth and M. J. Black, *Fields of Experts: A framework for learning image priors*, CVPR 2005.
    Parameters from ``foe_3_8.m`` of S. Roth's MATLAB FoE code (Copyright 2004, 2005, Brown University;
    the notice is in ``data/README.md``).

    Examples
    --------
    >>> import torch
    >>> from scorematch.pretrained import roth_black_3x3
    >>> foe = roth_black_3x3()
    >>> foe.filters.shape, foe.c
    (torch.Size([8, 3, 3]), 1.0)
    """
    if path is None:

        path = data_dir() / ROTH_BLACK_FILE
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Roth & Black model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            filters = np.asarray(data["filters"], dtype=np.float64)
            alpha = np.asarray(data["alpha"], dtype=np.float64)
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a Roth & Black FoE file with 'filters' and 'alpha' ({exc})") from None
    if filters.ndim != 3 or filters.shape[1] != filters.shape[2] or alpha.shape != (filters.shape[0],):
        raise ValueError(f"{path}: expected filters (M, k, k) and alpha (M,), got {filters.shape} and {alpha.shape}")
    if not (alpha > 0).all() or not np.isfinite(filters).all():
        raise ValueError(f"{path}: alpha must be positive and the filters finite")
    m, k = filters.shape[0], filters.shape[1]
    foe = FieldOfExperts(m, k, c=1.0, normalize_filters=False, learn_alpha=True).double()
    with torch.no_grad():
        foe.filter_layer.raw_weight.copy_(torch.from_numpy(filters).reshape(m, 1, k, k))
        foe.weighting.beta.copy_(torch.from_numpy(np.log(alpha)))
    return foe.to(dtype).eval()
