"""The interior of images: where a field of valid convolutions gives every pixel its whole score."""

from __future__ import annotations

from torch import Tensor

from ..validation import check_int

__all__ = ["interior", "check_margin"]


def check_margin(margin: int, x: Tensor) -> int:
    """``margin`` as an int, refused unless ``x`` (shape (B, ..., H, W)) keeps a pixel inside it."""
    margin = check_int("margin", margin, minimum=0)
    if margin and (x.dim() < 3 or min(x.shape[-2:]) <= 2 * margin):
        raise ValueError(f"margin={margin} leaves no interior in x of shape {tuple(x.shape)} "
                         f"(it needs images, shape (B, ..., H, W), with H, W > {2 * margin})")
    return margin


def interior(t: Tensor, margin: int) -> Tensor:
    """``t`` (shape (..., H, W)) without the ``margin`` outer rows and columns: shape (..., H - 2m, W - 2m).

    Near the border of a patch, a field energy (a sum over the windows that fit in it) lacks the windows
    that would reach outside, so its score there is not the image's; inside ``margin = support - 1`` it is
    whole, and an estimator restricted to those pixels fits the score of the interior given its border.
    """
    if not margin:
        return t
    return t[..., margin:t.shape[-2] - margin, margin:t.shape[-1] - margin]
