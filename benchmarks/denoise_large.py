"""Benchmark: peak memory of tiled MAP denoising on a large image (4096x4096 by default); prints JSON.

    PYTHONPATH=src python benchmarks/denoise_large.py [--size 4096] [--tile 512] [--iters 5] [--check 768]
        [--out FILE.json]

Runs ``denoise(y, ImagePrior(energy, tile=T), ...)`` in a fresh subprocess (so its peak resident memory,
``ru_maxrss``, is its own) for the tiled solve of a ``size x size`` image and, for comparison, the untiled solve
(one tile of the whole image: without ``tile`` an ImagePrior tiles an image of more than
:data:`~scorematch.prior.AUTO_TILE_PIXELS` pixels by itself); and checks on
a ``check x check`` image that the tiled and untiled results agree (max abs difference). Peak memory does
not depend on the number of iterations, so a few iterations suffice; seconds per iteration are reported.
The JSON also records the torch version, the machine and its load average before and after (other processes
sharing the cores slow the solve, not its memory); ``--out`` writes it to a file as well.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREADS = 2  # torch threads of the solve

CHILD = r"""
import json, resource, sys, time, torch
sys.path.insert(0, {src!r})
import scorematch
from scorematch.pretrained import resolve
from scorematch.prior import DEFAULT_PRIORS, ImagePrior
from scorematch.tasks import MAP, denoise
torch.set_num_threads({threads})
size, tile, iters = {size}, {tile}, {iters}
energy = scorematch.load(resolve(DEFAULT_PRIORS[1]))
for p in energy.parameters():
    p.requires_grad_(False)
prior = ImagePrior(energy, tile=tile or size)  # untiled: one tile of the whole image
g = torch.Generator().manual_seed(0)
y = 0.5 + 0.1 * torch.randn(1, 1, size, size, generator=g)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
x = denoise(y, prior, sigma=5 / 256, solver=MAP(iterations=iters))
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"size": size, "tile": tile, "iters": iters, "seconds": dt,
                  "peak_rss_mib": peak / 1024, "rss_before_solve_mib": base / 1024}}))
"""


def _child(size: int, tile: int | None, iters: int) -> dict:
    code = CHILD.format(src=str(ROOT / "src"), threads=THREADS, size=size, tile=tile, iters=iters)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3000)
    if out.returncode != 0:
        return {"size": size, "tile": tile, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--check", type=int, default=768)
    ap.add_argument("--skip-untiled", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import torch

    import scorematch
    from scorematch.pretrained import resolve
    from scorematch.prior import DEFAULT_PRIORS, ImagePrior
    from scorematch.tasks import MAP, denoise

    res = {"benchmark": "denoise_large", "threads": THREADS, "torch": torch.__version__,
           "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "load_avg_1min": round(os.getloadavg()[0], 2)}
    prior = scorematch.load(resolve(DEFAULT_PRIORS[1])).double()
    for p in prior.parameters():
        p.requires_grad_(False)
    y = 0.5 + 0.1 * torch.randn(1, 1, args.check, args.check, generator=torch.Generator().manual_seed(1),
                                dtype=torch.float64)
    a = denoise(y, prior, sigma=5 / 256, solver=MAP(iterations=40))
    b = denoise(y, ImagePrior(prior, tile=args.tile // 2), sigma=5 / 256, solver=MAP(iterations=40))
    res["equality_check"] = {"size": args.check, "tile": args.tile // 2, "iters": 40, "dtype": "float64",
                             "max_abs_diff": float((a - b).abs().max())}
    res["tiled"] = _child(args.size, args.tile, args.iters)
    if not args.skip_untiled:
        res["untiled"] = _child(args.size, None, args.iters)
    res["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
