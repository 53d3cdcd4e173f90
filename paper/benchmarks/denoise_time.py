"""The default ``scorematch denoise`` end to end against (colour) BM3D end to end, and its memory on a large photo.

    python paper/benchmarks/denoise_time.py [--rounds 3] [--threads 2] [--large 3000x2000] [--out FILE.json]

Each measurement is a fresh process from the command line to the written PNG (reading, the model or BM3D, writing):
ours is ``scorematch denoise IN -o OUT --sigma S`` (the default prior and its presets), and without ``--sigma``
(the command's default: the level estimated by the prior, ``ours_auto``), BM3D a Python process that
reads the same PNG, runs ``bm3d.bm3d`` (grey) or ``bm3d.bm3d_rgb`` (colour) at the same sigma and writes a PNG.
Images: the 512x512 grey Lena of Set12 and a colour photo of the test set resized to 768x512 (bicubic; timing
makes no choice), with Gaussian noise of 25/255 (seeded), quantized to 8 bits. Rounds interleave ours and BM3D; the medians are compared.
The large photo (``--large``, default 3000x2000) is the colour one upscaled (bicubic) plus noise; for it the peak
resident memory of our process (``ru_maxrss`` of the child) and the time per pixel against the 768x512 case.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _output import cpu_model, emit, load_average  # noqa: E402

from scorematch.pretrained import resolve  # noqa: E402
from scorematch.prior import DEFAULT_PRIORS  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402

SIGMA = 25 / 255
GREY = ROOT / "data" / "set12" / "lena.png"
COLOUR = ROOT / "data" / "testset" / "live1_manfishing.png"
BM3D = """
import sys, numpy as np, bm3d
from PIL import Image
y = np.asarray(Image.open(sys.argv[1])) / 255.0
out = bm3d.bm3d_rgb(y, sigma_psd=float(sys.argv[3])) if y.ndim == 3 else bm3d.bm3d(y, sigma_psd=float(sys.argv[3]))
Image.fromarray(np.uint8(np.round(np.clip(out, 0, 1) * 255))).save(sys.argv[2])
"""
#: Runs a command and prints its wall seconds and peak resident memory (KiB) as JSON: one measurement per process.
MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(json.dumps({"seconds": time.perf_counter() - t, "max_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def noisy_png(src: Path, dst: Path, *, size: tuple[int, int] | None = None, seed: int = 0) -> tuple[int, int, int]:
    """``src`` (resized to ``size`` = (W, H) if given) plus Gaussian noise of :data:`SIGMA`, as an 8-bit PNG."""
    from PIL import Image

    im = Image.open(src)
    if size is not None:
        im = im.resize(size, Image.BICUBIC)
    x = np.asarray(im) / 255.0
    y = x + SIGMA * np.random.default_rng(seed).standard_normal(x.shape)
    Image.fromarray(np.uint8(np.round(np.clip(y, 0, 1) * 255))).save(dst)
    return (*x.shape[:2], x.shape[2] if x.ndim == 3 else 1)


def measure(cmd: list[str], threads: int) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ours(src: Path, dst: Path, threads: int, *, auto: bool = False) -> list[str]:
    """The command at the true sigma, or (``auto``) with the noise level estimated, the command's default."""
    sigma = [] if auto else ["--sigma", str(SIGMA)]
    return ["scorematch", "denoise", str(src), "-o", str(dst), *sigma, "--threads", str(threads)]


def bm3d(src: Path, dst: Path) -> list[str]:
    return [sys.executable, "-c", BM3D, str(src), str(dst), str(SIGMA)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--large", default="3000x2000", help="W x H of the large colour photo ('' to skip)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    models = {DEFAULT_PRIORS[k]: resolve(DEFAULT_PRIORS[k]).resolve().relative_to(ROOT) for k in (1, 3)}
    result = {"benchmark": "denoise_time", "default_priors": DEFAULT_PRIORS, **stamp("scorematch.cli", models=models, parts=(*DENOISING, "noise_target")),
              "cpu": cpu_model(), "threads": args.threads, "load_average_start": load_average(), "sigma": SIGMA}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = {"grey_512x512": noisy_png(GREY, tmp / "grey.png"), "colour_768x512": noisy_png(COLOUR, tmp / "c.png", size=(768, 512))}
        files = {"grey_512x512": tmp / "grey.png", "colour_768x512": tmp / "c.png"}
        for name, path in files.items():
            times = {"ours": [], "ours_auto": [], "bm3d": []}
            for _ in range(args.rounds):
                times["ours"].append(measure(ours(path, tmp / "o.png", args.threads), args.threads)["seconds"])
                times["ours_auto"].append(measure(ours(path, tmp / "a.png", args.threads, auto=True),
                                                  args.threads)["seconds"])
                times["bm3d"].append(measure(bm3d(path, tmp / "b.png"), args.threads)["seconds"])
            med = {k: statistics.median(v) for k, v in times.items()}
            result[name] = {"shape": cases[name], "seconds": times, "median": med,
                            "ratio_ours_to_bm3d": round(med["ours"] / med["bm3d"], 3),
                            "ratio_auto_to_bm3d": round(med["ours_auto"] / med["bm3d"], 3)}
            print(f"{name}: ours {med['ours']:.2f} s (sigma estimated: {med['ours_auto']:.2f} s), bm3d "
                  f"{med['bm3d']:.2f} s", file=sys.stderr, flush=True)
        if args.large:
            w, h = (int(v) for v in args.large.split("x"))
            shape = noisy_png(COLOUR, tmp / "large.png", size=(w, h), seed=1)
            got = measure(ours(tmp / "large.png", tmp / "ol.png", args.threads), args.threads)
            auto = measure(ours(tmp / "large.png", tmp / "al.png", args.threads, auto=True), args.threads)
            per_pixel = got["seconds"] / (w * h)
            small = result["colour_768x512"]["median"]["ours"] / (768 * 512)
            result["large"] = {"shape": shape, "seconds": round(got["seconds"], 2),
                               "seconds_auto": round(auto["seconds"], 2),
                               "peak_memory_gib": round(got["max_rss_kib"] / 2**20, 3),
                               "seconds_per_megapixel": round(per_pixel * 1e6, 3),
                               "per_pixel_ratio_to_768x512": round(per_pixel / small, 3)}
    result["load_average_end"] = load_average()
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
