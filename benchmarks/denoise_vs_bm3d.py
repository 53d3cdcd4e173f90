"""Benchmark: what a user runs, beside BM3D on the same noisy image, in one script; prints JSON.

    PYTHONPATH=src python benchmarks/denoise_vs_bm3d.py [--image lena] [--sigma 5/256] [--rounds 3] [--out F]

Each round times, one after the other (interleaved, so a change of machine load hits all three):

- ``cli``: ``scorematch denoise NOISY.npy -o OUT.png --sigma S`` as a subprocess, start-up included;
- ``library``: ``scorematch.tasks.denoise`` with the bundled default prior in float32, at its recommended weight
  (after :func:`scorematch.devices.reuse_freed_memory`, as the CLI);
- ``bm3d``: ``bm3d.bm3d(y, sigma_psd=S)`` (the ``bm3d`` package: ``pip install bm3d``).

It reports the median and all times of each, the PSNR each reaches, the CLI's and the library's time as a
fraction of BM3D's, the start-up that every ``scorematch`` command pays before its work (``startup``: a fresh
``python -c "import torch"``; beside it the same with ``torch._dynamo``, which ``torch.optim``'s optimizers import
on their first use and the CLI no longer does; medians of the rounds), the time of one prior evaluation in a fresh
process with and without :func:`~scorematch.devices.reuse_freed_memory` (``allocation``; medians), and a roofline row: the achieved GFLOP/s of one evaluation of the prior's energy and
input gradient (the FLOP its correlations execute, forward and transposed; the composed filter bank's count,
2 x 2 x experts x support^2 x pixels, beside it) against a float32 matrix product measured in the same run. Numbers are for this machine; other
processes running at the same time inflate them (the load average at start and end is recorded).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _output import emit, load_average  # noqa: E402
from scorematch.cli.restore import parse_sigma  # noqa: E402
from scorematch.datasets import data_dir, read_image  # noqa: E402
from scorematch.devices import reuse_freed_memory  # noqa: E402
from scorematch.pretrained import load_pretrained, resolve  # noqa: E402
from scorematch.prior import DEFAULT_BOUNDARY, DEFAULT_PRIORS, load_prior  # noqa: E402
from scorematch.prior.evaluation import energy_and_grad  # noqa: E402
from scorematch.tasks import MAP, denoise, psnr  # noqa: E402


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _cli(noisy: Path, out: Path, sigma: str) -> None:
    cmd = [sys.executable, "-m", "scorematch", "denoise", str(noisy), "-o", str(out), "--sigma", sigma]
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def _python(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


STARTUP = {"import_torch": "import torch", "import_torch_and_dynamo": "import torch, torch._dynamo"}
ALLOCATION = ("default", "reuse")


EVALUATION = """
import statistics, sys, time, torch
from scorematch.devices import reuse_freed_memory
from scorematch.pretrained import load_pretrained
from scorematch.prior.evaluation import energy_and_grad
if sys.argv[1] == "reuse":
    reuse_freed_memory()
prior = load_pretrained("foe_5x5x24").float()
y = torch.rand(1, 1, 512, 512, generator=torch.Generator().manual_seed(0))
times = []
for _ in range(6):
    t0 = time.perf_counter()
    energy_and_grad(prior, y, boundary="replicate")
    times.append(time.perf_counter() - t0)
print(statistics.median(times[1:]))
"""


def _evaluation_seconds(mode: str) -> float:
    """Median seconds of one prior evaluation on 512x512 in a fresh process (``mode``: "reuse" or "default")."""
    done = subprocess.run([sys.executable, "-c", EVALUATION, mode], check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    return float(done.stdout.split()[-1])


def _bm3d(y: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    return np.asarray(bm3d.bm3d(y, sigma_psd=sigma), dtype=np.float64)


def _matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm up
    best = min(_timed(lambda: a @ b)[0] for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _executed_flop(prior, height: int, width: int) -> int:
    """FLOP of the correlations one energy-and-gradient pass runs (each layer's kernel forward and adjoint,
    ``2 x 2 x C_out x C_in x k^2`` per output pixel), on a padded input of ``height x width``."""
    flop = 0
    for layer in prior.layers:
        weight = getattr(layer.frozen(), "weight", None)
        if weight is not None and weight.dim() == 4:
            c_out, c_in, k, _ = weight.shape
            height, width = height - k + 1, width - k + 1
            flop += 2 * 2 * c_out * c_in * k * k * height * width
    return flop


def _prior_gflops(prior, y: torch.Tensor, repeats: int = 5) -> dict[str, float]:
    """Achieved GFLOP/s of one energy-and-gradient evaluation: the FLOP it executes (the layers one by one:
    whitening, then the learned filters) and, for comparison, those of the equivalent composed filter bank
    (``experts x support^2`` per pixel, forward and transposed)."""
    support = prior.support
    pad = support - 1
    height, width = y.shape[-2] + pad, y.shape[-1] + pad
    executed = _executed_flop(prior, height, width)
    composed = 2 * 2 * prior.alpha.numel() * support**2 * height * width
    energy_and_grad(prior, y, boundary=DEFAULT_BOUNDARY)  # warm up
    best = min(_timed(lambda: energy_and_grad(prior, y, boundary=DEFAULT_BOUNDARY))[0] for _ in range(repeats))
    return {"seconds": round(best, 4), "gflop_executed": round(executed / 1e9, 3),
            "gflops": round(executed / best / 1e9, 1), "gflop_composed_bank": round(composed / 1e9, 3),
            "gflops_composed_bank": round(composed / best / 1e9, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default="lena")
    ap.add_argument("--sigma", default="5/256")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    reuse_freed_memory()
    sigma = parse_sigma(args.sigma)
    clean = read_image(data_dir() / "set12" / f"{args.image}.png", dtype=torch.float32)
    y = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    prior = load_pretrained(resolve(DEFAULT_PRIORS[1])).float().eval()
    for p in prior.parameters():
        p.requires_grad_(False)
    weight = load_prior(DEFAULT_PRIORS[1]).presets.denoising(sigma).weight
    result = {"benchmark": "denoise_vs_bm3d", "image": args.image, "shape": list(clean.shape), "sigma": sigma,
              "weight": weight, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
              "load_avg_start": load_average()}
    times: dict[str, list[float]] = {"cli": [], "library": [], "bm3d": [], **{k: [] for k in STARTUP},
                                     **{f"evaluation_{m}": [] for m in ALLOCATION}}
    scores: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        noisy, out = Path(tmp) / "noisy.npy", Path(tmp) / "out.png"
        np.save(noisy, y.double().numpy())
        for _ in range(args.rounds):
            t, _ = _timed(lambda: _cli(noisy, out, args.sigma))
            times["cli"].append(t)
            t, x = _timed(lambda: denoise(y[None, None], prior, sigma=sigma, solver=MAP(weight=weight)))
            times["library"].append(t)
            t, b = _timed(lambda: _bm3d(y.double().numpy(), sigma))
            times["bm3d"].append(t)
            for name, code in STARTUP.items():
                times[name].append(_timed(lambda: _python(code))[0])
            for mode in ALLOCATION:
                times[f"evaluation_{mode}"].append(_evaluation_seconds(mode))
        scores["cli"] = psnr(read_image(out, dtype=torch.float64), clean.double())  # 8-bit PNG output
        scores["library"] = psnr(x[0, 0].clamp(0, 1), clean)
        scores["bm3d"] = psnr(torch.from_numpy(np.clip(b, 0, 1)), clean.double())
    med = {k: statistics.median(v) for k, v in times.items()}
    startup = {k: round(med.pop(k), 3) for k in STARTUP}
    allocation = {m: round(med.pop(f"evaluation_{m}"), 4) for m in ALLOCATION}
    result.update({
        "seconds_median": {k: round(v, 3) for k, v in med.items()},
        "seconds_all": {k: [round(t, 3) for t in times[k]] for k in ("cli", "library", "bm3d")},
        "startup_seconds_median": startup,
        "startup_over_bm3d": round(startup["import_torch"] / med["bm3d"], 3),
        "allocation": {"evaluation_seconds_median": allocation,
                       "default_over_reuse": round(allocation["default"] / allocation["reuse"], 2)},
        "psnr": {k: round(v, 3) for k, v in scores.items()},
        "cli_over_bm3d": round(med["cli"] / med["bm3d"], 3),
        "library_over_bm3d": round(med["library"] / med["bm3d"], 3),
        "roofline": {"prior_evaluation": _prior_gflops(prior, y[None, None]),
                     "matmul_gflops": round(_matmul_gflops(), 1)},
        "load_avg_end": load_average(),
    })
    r = result["roofline"]
    r["fraction_of_matmul"] = round(r["prior_evaluation"]["gflops"] / r["matmul_gflops"], 3)
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
