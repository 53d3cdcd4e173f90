"""A Field of Experts used as a prior on [0, 1] gray images: the FoE applied to the scaled, whitened image."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .foe import FieldOfExperts, laplacian_whitening_kernel
from .layers import Conv2d
from .experts import DEFAULT_C

__all__ = ["ImageFoE", "FixedFront", "whitening_kernel"]


def whitening_kernel(size: int, sigma: float) -> Tensor:
    """The fixed whitening of a prior in float64, shape (w, w): the ``size x size`` Laplacian of Gaussian
    (:func:`~scorematch.energies.foe.laplacian_whitening_kernel`), or ``[[1]]`` for ``size = 0`` (none)."""
    if size:
        return laplacian_whitening_kernel(size, sigma=sigma, dtype=torch.float64)
    return torch.ones(1, 1, dtype=torch.float64)


class FixedFront:
    """For priors whose first layer is a fixed convolution defined by :meth:`_front_kernel` (float64): the
    buffer is refilled from that definition after ``.to()`` / ``.double()`` and after loading a state dict, so a
    float64 prior holds the float64 kernel (casting a float32 copy, or loading one, would keep float32 rounding).
    Call :meth:`_keep_front_exact` at the end of ``__init__``."""

    def _front_kernel(self) -> Tensor:
        raise NotImplementedError

    def _keep_front_exact(self) -> None:
        self.register_load_state_dict_post_hook(_refill_front_kernel)

    def _apply(self, fn, recurse=True):  # .double(), .to(...): the fixed kernel is recomputed at the new precision
        super()._apply(fn, recurse)
        _refill_front_kernel(self)
        return self


def _refill_front_kernel(prior: FixedFront, _incompatible_keys=None) -> None:
    """Refill the fixed front buffer from its definition, in the buffer's dtype (a module-level function, so the
    load hook pickles)."""
    w = prior.layers[0].raw_weight
    with torch.no_grad():
        w.copy_(prior._front_kernel().to(w))


class ImageFoE(FixedFront, FieldOfExperts):
    """``E(x) = sum_p sum_i alpha_i g(w_i^T (L * (s x))_(p))`` for gray images ``x`` on [0, 1].

    A :class:`FieldOfExperts` trained on images that were scaled by ``s`` (e.g. 255) and whitened with the
    fixed filter ``L`` (a ``whitening_size x whitening_size`` Laplacian, or none), packaged so that the
    restoration code can take images on [0, 1]. The model file carries ``scale`` and the whitening, so a
    saved prior is used exactly as it was trained.

    Parameters
    ----------
    n_experts, kernel_size, c, normalize_filters, learn_alpha, generator
        As for :class:`FieldOfExperts`; they describe the FoE on whitened, scaled images.
    scale : float
        Pixel scale ``s`` of the training data (255 for the 0..255 scale).
    whitening_size : int
        Side of :func:`laplacian_whitening_kernel` (5 in the paper); 0 for no whitening.
    whitening_sigma : float
        Its Gaussian width.

    Notes
    -----
    The whitening and the scale form one fixed (non-trainable) convolution in front of the learned
    filters, so :meth:`curvature_derivatives` stays exact (the two linear maps are fused). The learned
    FoE itself is :attr:`foe`, a :class:`FieldOfExperts` view sharing the parameters: train it on whitened
    patches, use this energy for restoration. The energy sums over the valid positions of the composed
    ``(k + w - 1)``-sized filter; pixels nearer the border than that lie in fewer windows. The restoration
    solvers extend the image instead (``boundary``, :func:`~scorematch.tasks.denoise`), so that border pixels
    are constrained like interior ones.

    Examples
    --------
    >>> import torch
    >>> prior = ImageFoE(8, 3, scale=255.0, whitening_size=5)
    >>> prior.energy(torch.rand(2, 1, 16, 16)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        n_experts: int = 24,
        kernel_size: int = 5,
        *,
        c: float = DEFAULT_C,
        normalize_filters: bool = True,
        learn_alpha: bool = True,
        scale: float = 255.0,
        whitening_size: int = 5,
        whitening_sigma: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(n_experts, kernel_size, c=c, normalize_filters=normalize_filters,
                         learn_alpha=learn_alpha, generator=generator)
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale, self.whitening_size, self.whitening_sigma = float(scale), int(whitening_size), float(whitening_sigma)
        k = self._front_kernel().to(torch.get_default_dtype())  # (1, 1, w, w)
        self.layers.insert(0, Conv2d(1, 1, k.shape[-1], weight=k, trainable=False))
        self._keep_front_exact()

    def _front_kernel(self) -> Tensor:
        """``s L`` computed in float64, shape (1, 1, w, w) (w = 1 without whitening)."""
        kernel = whitening_kernel(self.whitening_size, self.whitening_sigma)
        return (self.scale * kernel).reshape(1, 1, *kernel.shape)  # (1, 1, w, w)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "scale": self.scale,
            "whitening_size": self.whitening_size,
            "whitening_sigma": self.whitening_sigma,
        }

    @property
    def support(self) -> int:
        """Side of the composed (whitening + expert) filter: how far one pixel's influence reaches."""
        return self.kernel_size + self.layers[0].raw_weight.shape[-1] - 1

    @property
    def whitening(self) -> Tensor:
        """The fixed front filter ``s L``, shape (w, w)."""
        return self.layers[0].raw_weight[0, 0]

    @property
    def foe(self) -> FieldOfExperts:
        """The learned FoE on whitened, scaled images (shares this prior's parameters)."""
        foe = FieldOfExperts(self.n_experts, self.kernel_size, c=self.c, normalize_filters=self.normalize_filters,
                             learn_alpha=self.learn_alpha, generator=torch.Generator())  # its own draw, replaced
        foe.layers = torch.nn.ModuleList(list(self.layers)[1:])
        return foe

    def _check(self, x: Tensor) -> None:
        self.check_input(x, 3)
        if x.shape[1] != 1 or min(x.shape[2:]) < self.support:
            raise ValueError(f"x must have shape (B, 1, H, W) with H, W >= {self.support}, got {tuple(x.shape)}")

    def whitened(self, kernel: Tensor):  # noqa: D102 - already whitened
        raise TypeError("an ImageFoE already includes its whitening; use its .foe to re-whiten")

    @classmethod
    def from_foe(cls, foe: FieldOfExperts, *, scale: float, whitening_size: int, whitening_sigma: float = 1.0) -> "ImageFoE":
        """Wrap a trained :class:`FieldOfExperts` (its parameters are copied)."""
        prior = cls(foe.n_experts, foe.kernel_size, c=foe.c, normalize_filters=foe.normalize_filters,
                    learn_alpha=foe.learn_alpha, scale=scale, whitening_size=whitening_size,
                    whitening_sigma=whitening_sigma).to(next(foe.parameters()).dtype)
        prior.foe.load_state_dict(foe.state_dict())
        return prior
