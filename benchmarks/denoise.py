"""Benchmark: MAP denoising of one 512x512 image with the default solver and the bundled FoE; prints JSON.

    PYTHONPATH=src python benchmarks/denoise.py [--threads 2] [--image lena] [--sigma 5/256] [--profile]

Reports the wall time of ``scorematch.tasks.denoise`` (after ``scorematch.devices.reuse_freed_memory``, as the
restoration commands; L-BFGS, default settings, the model's recommended
prior weight for the noise level; float32, and float64 with ``--float64``),
the number of energy evaluations, the time per evaluation split into the prior's forward/backward
(convolutions, expert nonlinearity) and the solver's own work, and the PSNR reached. ``gradient_pass``
compares the prior's energy-and-gradient pass by the layers' own rules (``LayeredEnergy.energy_and_grad``,
what the solvers use) with the same pass by autograd, in interleaved rounds (median seconds and their ratio). Numbers are for
this machine (2 shared cores): other processes running at the same time inflate them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import scorematch  # noqa: E402
from _output import load_average  # noqa: E402
from scorematch.cli.restore import parse_sigma  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.datasets import data_dir, read_image  # noqa: E402
from scorematch.devices import reuse_freed_memory  # noqa: E402
from scorematch.prior import DEFAULT_BOUNDARY, DEFAULT_PRIORS, ImagePrior, load_prior  # noqa: E402
from scorematch.prior import evaluation  # noqa: E402
from scorematch.tasks import MAP, denoise, psnr  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image", default="lena")
    ap.add_argument("--sigma", default="5/256")
    ap.add_argument("--model", default=str(resolve(DEFAULT_PRIORS[1])))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--float64", action="store_true", help="also time float64 (slower)")
    ap.add_argument("--profile", action="store_true", help="also print the torch profiler's top operators")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (times include a synchronize)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reuse_freed_memory()  # as the restoration commands
    sigma = parse_sigma(args.sigma)
    preset = load_prior(args.model).presets.denoising(sigma)
    weight = 1.0 if preset is None else preset.weight
    out = {"benchmark": "denoise_512", "threads": args.threads, "torch": torch.__version__,
           "machine": platform.processor() or platform.machine(), "image": args.image, "sigma": sigma,
           "weight": weight, "boundary": DEFAULT_BOUNDARY, "load_avg_1min": load_average(),
           "device": _device_name(args.device)}
    for dtype in [torch.float32] + ([torch.float64] if args.float64 else []):
        prior = scorematch.load(args.model).to(device=args.device, dtype=dtype)
        for p in prior.parameters():
            p.requires_grad_(False)
        clean = read_image(data_dir() / "set12" / f"{args.image}.png", dtype=dtype)[None, None]  # (1, 1, 512, 512)
        y = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
        clean, y = clean.to(args.device), y.to(args.device)
        counter = _count_evaluations()
        times = []
        for _ in range(args.repeats):
            counter["n"] = 0
            _sync(args.device)
            t0 = time.perf_counter()
            x = denoise(y, prior, sigma=sigma, solver=MAP(weight=weight))
            _sync(args.device)
            times.append(time.perf_counter() - t0)
        n_eval = counter["n"]
        _sync(args.device)
        t0 = time.perf_counter()
        for _ in range(10):
            evaluation.energy_and_grad(prior, y, boundary=DEFAULT_BOUNDARY)
        _sync(args.device)
        t_eval = (time.perf_counter() - t0) / 10
        best = min(times)
        name = str(dtype).replace("torch.", "")
        out[name] = {
            "seconds": round(best, 3),
            "seconds_all": [round(t, 3) for t in times],
            "evaluations": n_eval,
            "seconds_per_evaluation": round(t_eval, 4),
            "prior_share": round(min(1.0, n_eval * t_eval / best), 3),
            "psnr_noisy": round(psnr(y.cpu(), clean.cpu()), 3),
            "psnr_denoised": round(psnr(x.clamp(0, 1).cpu(), clean.cpu()), 3),
            "under_10s": best <= 10.0,
        }
        out[name]["gradient_pass"] = _gradient_pass(prior, y)
        if args.profile and dtype == torch.float32:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                denoise(y, prior, sigma=sigma, solver=MAP(weight=weight))
            table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
            print(table, file=sys.stderr)
            out[name]["profile_top"] = [
                {"op": e.key, "self_cpu_s": round(e.self_cpu_time_total / 1e6, 3), "calls": e.count}
                for e in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:8]
            ]
    out["load_avg_1min_end"] = load_average()
    print(json.dumps(out, indent=2))


def _gradient_pass(prior, y, rounds: int = 7) -> dict:
    """Median seconds of one energy-and-gradient pass: the layers' rules against autograd, interleaved."""
    import statistics

    passes = {"layers": prior.energy_and_grad, "autograd": lambda x: scorematch.Energy.energy_and_grad(prior, x)}
    times = {k: [] for k in passes}
    for _ in range(rounds):
        for k, f in passes.items():
            t0 = time.perf_counter()
            f(y)
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"layers_s": round(med["layers"], 4), "autograd_s": round(med["autograd"], 4),
            "autograd_over_layers": round(med["autograd"] / med["layers"], 2), "rounds": rounds}


_ENERGY_AND_GRAD = ImagePrior.energy_and_grad  # what the solvers' objective evaluates


def _count_evaluations() -> dict:
    counter = {"n": 0}

    def counted(self, x):
        counter["n"] += 1
        return _ENERGY_AND_GRAD(self, x)

    ImagePrior.energy_and_grad = counted
    return counter


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name() if str(device).startswith("cuda") else "cpu"


if __name__ == "__main__":
    main()
