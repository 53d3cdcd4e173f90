"""Benchmark: ways to compute the filter bank's adjoint (the transposed correlation) on these cores; prints JSON.

    PYTHONPATH=src python benchmarks/conv_adjoint.py [--threads 2] [--rounds 7] [--out F]

The prior's input gradient applies the adjoint of its correlations: ``delta`` (B, 24, h, w) -> (B, 1, h + 4,
w + 4) for the 24 learned filters of 5x5, and (B, 1, h, w) -> (B, 1, h + 4, w + 4) for the fixed whitening filter
(``ConvOp.backward``). Each way below computes the same map; the script checks it against ``conv_transpose2d``
(largest absolute difference) and times it in interleaved rounds (median milliseconds):

- ``conv_transpose2d``: torch's transposed convolution, contiguous and channels-last (``ConvOp`` with autograd);
- ``grouped_sum``: each channel correlated with its flipped filter (``groups=24``), then summed over channels;
- ``full_correlation``: ``F.conv2d`` of ``delta`` padded by ``k - 1`` with the flipped, transposed kernel
  (``ConvOp`` without autograd, for a single filter);
- ``matmul_shift``: ``W^T delta`` as one matrix product (25 x 24 by 24 x hw), then the 25 planes added into the
  output at their offsets (:func:`scorematch.energies.layers.bank_adjoint`: ``ConvOp`` without autograd, for a
  bank of filters).

Three cases: ``restore`` (one 512x512 image, no autograd: the solvers' pass), ``whitening`` (the single whitening
filter on the same image, no autograd) and ``train`` (64 patches of 24x24, the forward and the backward of
autograd through the map: the curvature pass of training). Numbers are for this
machine; other processes running at the same time inflate them (the load average is recorded).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from _output import emit, load_average

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from scorematch.energies.layers import bank_adjoint  # noqa: E402


def conv_transpose(delta: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return F.conv_transpose2d(delta, w)


def conv_transpose_channels_last(delta: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return F.conv_transpose2d(delta.contiguous(memory_format=torch.channels_last), w)


def grouped_sum(delta: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    k = w.shape[-1]
    full = F.pad(delta, (k - 1, k - 1, k - 1, k - 1))
    return F.conv2d(full, w.flip(-1, -2), groups=w.shape[0]).sum(1, keepdim=True)


def full_correlation(delta: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(delta, (w.shape[-1] - 1,) * 4), w.transpose(0, 1).flip(-1, -2))


WAYS = {"conv_transpose2d": conv_transpose, "conv_transpose2d_channels_last": conv_transpose_channels_last,
        "grouped_sum": grouped_sum, "full_correlation": full_correlation, "matmul_shift": bank_adjoint}


def _case(shape: tuple[int, ...], w: torch.Tensor, grad: bool, rounds: int) -> dict[str, dict[str, float]]:
    gen = torch.Generator().manual_seed(0)
    delta = torch.randn(shape, generator=gen)
    ref = conv_transpose(delta, w)

    def run(way):
        if not grad:
            with torch.no_grad():
                return way(delta, w)
        d, ww = delta.clone().requires_grad_(), w.clone().requires_grad_()
        way(d, ww).square().sum().backward()
        return None

    times: dict[str, list[float]] = {name: [] for name in WAYS}
    for name, way in WAYS.items():
        run(way)  # warm up
    for _ in range(rounds):
        for name, way in WAYS.items():
            t0 = time.perf_counter()
            run(way)
            times[name].append(time.perf_counter() - t0)
    with torch.no_grad():
        errors = {name: float((way(delta, w) - ref).abs().max()) for name, way in WAYS.items()}
    base = statistics.median(times["conv_transpose2d"])
    return {name: {"ms": round(1e3 * statistics.median(t), 3),
                   "speedup_over_conv_transpose2d": round(base / statistics.median(t), 2),
                   "max_abs_difference": errors[name]} for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    w = torch.randn(24, 1, 5, 5, generator=torch.Generator().manual_seed(1))
    result = {"benchmark": "conv_adjoint", "torch": torch.__version__, "threads": args.threads,
              "rounds": args.rounds, "filters": list(w.shape), "load_avg_start": load_average(),
              "restore_512x512_no_grad": _case((1, 24, 512, 512), w, grad=False, rounds=args.rounds),
              "whitening_516x516_no_grad": _case((1, 1, 516, 516), w[:1], grad=False, rounds=args.rounds),
              "train_64x24x24_forward_backward": _case((64, 24, 20, 20), w, grad=True, rounds=args.rounds),
              "load_avg_end": load_average()}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
