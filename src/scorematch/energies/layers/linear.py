"""Linear layers: dense filters and banks of 2-D convolutions, with their frozen (fusable) operators."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from .core import Pair, normalize_rows, CurvatureLayer


class Linear(CurvatureLayer):
    """``g = h W^T (+ b)`` on ``h`` of shape (B, D_in), output (B, D_out).

    Parameters
    ----------
    in_features, out_features : int
    normalize : bool
        Use unit-norm rows of the raw weight as the effective filters (a normalized parameterization).
    bias : bool
        Add a learned bias (it does not change input derivatives).
    weight : Tensor, optional, shape (out_features, in_features)
        Initial raw weight; default is standard normal.
    trainable : bool
        If False the weight is a fixed buffer (e.g. a whitening transform).
    positive : bool
        Parameterize the weight as ``exp(raw)`` (non-negative pooling weights of two-layer models).
    """

    is_linear = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        normalize: bool = False,
        bias: bool = False,
        weight: Tensor | None = None,
        trainable: bool = True,
        positive: bool = False,
    ) -> None:
        super().__init__()
        if weight is None:
            weight = torch.randn(out_features, in_features)
        if weight.shape != (out_features, in_features):
            raise ValueError(f"weight must have shape {(out_features, in_features)}, got {tuple(weight.shape)}")
        self.normalize = normalize
        self.positive = positive
        if trainable:
            self.raw_weight = nn.Parameter(weight.clone())
        else:
            self.register_buffer("raw_weight", weight.clone())
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=weight.dtype)) if bias else None

    @property
    def weight(self) -> Tensor:
        """Effective weight, shape (D_out, D_in)."""
        w = self.raw_weight.exp() if self.positive else self.raw_weight
        return normalize_rows(w) if self.normalize else w

    def forward(self, h: Tensor) -> Tensor:
        return F.linear(h, self.weight, self.bias)

    def frozen(self) -> "LinearOp":
        return LinearOp(self.weight, self.bias)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        return self.frozen().backward_curvature(h, delta, delta2)


class LinearOp:
    """A linear map with fixed (already computed) weight, used inside one curvature pass."""

    is_linear, needs_input, shape_preserving = True, False, False

    def __init__(self, weight: Tensor, bias: Tensor | None = None) -> None:
        self.weight, self.bias = weight, bias  # (D_out, D_in), (D_out,)

    def __call__(self, h: Tensor) -> Tensor:
        return F.linear(h, self.weight, self.bias)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        w = self.weight
        return delta @ w, None if delta2 is None else delta2 @ (w * w)

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        return delta @ self.weight

    def fuse(self, nxt: Any) -> "LinearOp | None":
        if not isinstance(nxt, LinearOp):
            return None
        bias = None if self.bias is None else self.bias @ nxt.weight.T
        if nxt.bias is not None:
            bias = nxt.bias if bias is None else bias + nxt.bias
        return LinearOp(nxt.weight @ self.weight, bias)


def compose_kernels(first: Tensor, second: Tensor) -> Tensor:
    """Kernel of ``conv(conv(x, first), second)`` (cross-correlations, 'valid', stride 1).

    Parameters
    ----------
    first : Tensor, shape (C_mid, C_in, a, a)
    second : Tensor, shape (C_out, C_mid, b, b)

    Returns
    -------
    Tensor, shape (C_out, C_in, a + b - 1, a + b - 1)
    """
    # k[o, i, s] = sum_m sum_q second[o, m, q] * first[m, i, s - q]: a full convolution over space.
    out = F.conv_transpose2d(first.transpose(0, 1), second.transpose(0, 1))  # (C_in, C_out, a+b-1, a+b-1)
    return out.transpose(0, 1)


def flush_subnormal(t: Tensor) -> Tensor:
    """``t`` with its subnormal entries (nonzero, below the dtype's smallest normal number) set to 0."""
    return torch.where(t.abs() < torch.finfo(t.dtype).tiny, torch.zeros_like(t), t)


class Conv2d(CurvatureLayer):
    """Valid 2-D cross-correlation, no bias: ``(B, C_in, H, W) -> (B, C_out, H-k+1, W-k+1)``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
    normalize : bool
        Use unit-norm filters ``weight[o]`` (over input channels and space).
    zero_mean : bool
        Use filters with zero sum (``weight[o]`` minus its mean): the output ignores a constant added to the input.
    weight : Tensor, optional, shape (C_out, C_in, k, k)
    trainable : bool
        If False the kernel is a fixed buffer (e.g. the whitening filter).
    """

    is_linear = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        normalize: bool = False,
        zero_mean: bool = False,
        weight: Tensor | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__()
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        if weight is None:
            weight = torch.randn(shape)
        if tuple(weight.shape) != shape:
            raise ValueError(f"weight must have shape {shape}, got {tuple(weight.shape)}")
        self.normalize, self.zero_mean = normalize, zero_mean
        if trainable:
            self.raw_weight = nn.Parameter(weight.clone())
        else:
            self.register_buffer("raw_weight", weight.clone())

    @property
    def weight(self) -> Tensor:
        """Effective kernel, shape (C_out, C_in, k, k)."""
        w = self.raw_weight
        if self.zero_mean:
            w = w - w.mean(dim=(1, 2, 3), keepdim=True)
        return normalize_rows(w) if self.normalize else w

    def forward(self, h: Tensor) -> Tensor:
        return F.conv2d(h, self.weight)

    def frozen(self) -> "ConvOp":
        return ConvOp(self.weight)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        return self.frozen().backward_curvature(h, delta, delta2)


#: The layout of the multi-channel convolutions of :class:`ConvOp`.
CHANNELS_LAST = torch.channels_last


class ConvOp:
    """A valid correlation with a fixed (already computed) kernel, used inside one curvature pass.

    The correlation is ``F.conv2d``. Its adjoint is ``F.conv_transpose2d`` with autograd on (training: the
    fastest measured for training shapes); outside autograd (the restoration solvers' pass), a bank of filters
    on one channel uses :func:`bank_adjoint` and a single filter a full correlation with the flipped kernel, each
    several times faster than ``F.conv_transpose2d`` on these CPU cores (``benchmarks/conv_adjoint.py``).
    Convolutions between multi-channel maps (a deep energy's hidden layers) run in the channels-last layout, about
    twice as fast on these cores (oneDNN's fast path; a deep energy's 512x512 MAP denoising 35 s -> 23 s).
    """

    is_linear, needs_input, shape_preserving = True, False, False

    def __init__(self, weight: Tensor) -> None:
        # (C_out, C_in, k, k). Outside autograd, subnormal entries (a trained filter that decayed to zero)
        # become 0: products with them are subnormal numbers, which the CPU handles about 4x slower (the
        # bundled foe_5x5x24 has 27), and they change no sum.
        self.weight = weight if torch.is_grad_enabled() else flush_subnormal(weight)

    def __call__(self, h: Tensor) -> Tensor:
        w = self.weight
        if w.shape[1] > 1:
            return F.conv2d(h.contiguous(memory_format=CHANNELS_LAST), w.contiguous(memory_format=CHANNELS_LAST))
        return F.conv2d(h, w)

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        # The adjoint of a valid correlation is a full transposed one: (B, C_out, h, w) -> (B, C_in, H, W).
        w = self.weight
        return F.conv_transpose2d(delta, w), None if delta2 is None else F.conv_transpose2d(delta2, w * w)

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        w = self.weight
        if w.shape[0] > 1 and w.shape[1] > 1:
            return F.conv_transpose2d(delta.contiguous(memory_format=CHANNELS_LAST),
                                      w.contiguous(memory_format=CHANNELS_LAST))
        if torch.is_grad_enabled():
            return F.conv_transpose2d(delta, w)
        if w.shape[0] == 1:
            return F.conv2d(F.pad(delta, (w.shape[-1] - 1,) * 4), w.transpose(0, 1).flip(-1, -2))
        return bank_adjoint(delta, w)

    def fuse(self, nxt: Any) -> "ConvChain | None":
        return ConvChain((self, nxt)) if isinstance(nxt, ConvOp) else None


class ConvChain:
    """Consecutive valid correlations as one linear op of the curvature pass: the values and the gradient go
    through the factors, the curvature through the composed kernel.

    The curvature rule of a linear map squares its kernel, so a run of them needs the square of their
    composition, not the composition of their squares; the composed kernel is needed for that alone. Values
    and gradients through the factors take fewer multiply-adds: a 5x5 whitening before 24 5x5 filters is
    25 + 24 * 25 per pixel, against 24 * 81 for the composed 9x9 filters.
    """

    is_linear, needs_input, shape_preserving = True, False, False

    def __init__(self, ops: tuple[ConvOp, ...]) -> None:
        self.ops = ops
        kernel = ops[0].weight
        for op in ops[1:]:
            kernel = compose_kernels(kernel, op.weight)
        self.weight = kernel  # (C_out, C_in, k, k): the composition, for the curvature and for inspection

    def __call__(self, h: Tensor) -> Tensor:
        for op in self.ops:
            h = op(h)
        return h

    def backward(self, h: Tensor, delta: Tensor) -> Tensor:
        for op in reversed(self.ops):
            delta = op.backward(h, delta)  # a correlation's adjoint does not read its input
        return delta

    def backward_curvature(self, h: Tensor, delta: Tensor, delta2: Tensor | None) -> Pair:
        w = self.weight
        return self.backward(h, delta), None if delta2 is None else F.conv_transpose2d(delta2, w * w)

    def fuse(self, nxt: Any) -> "ConvChain | None":
        return ConvChain((*self.ops, nxt)) if isinstance(nxt, ConvOp) else None


def bank_adjoint(delta: Tensor, w: Tensor) -> Tensor:
    """``F.conv_transpose2d(delta, w)`` as one matrix product ``w^T delta`` over all filters, whose ``k^2``
    planes are then added into the output at their offsets.

    Parameters
    ----------
    delta : Tensor, shape (B, C_out, h, w)
    w : Tensor, shape (C_out, C_in, k, k)

    Returns
    -------
    Tensor, shape (B, C_in, h + k - 1, w + k - 1)
    """
    b, c_out, oh, ow = delta.shape
    _, c_in, k, _ = w.shape
    planes = (w.reshape(c_out, -1).t() @ delta.reshape(b, c_out, oh * ow)).reshape(b, c_in, k, k, oh, ow)
    out = delta.new_zeros(b, c_in, oh + k - 1, ow + k - 1)
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + oh, j : j + ow] += planes[:, :, i, j]
    return out
