"""Benchmark: BM3D on the restoration experiment's held-out images, beside the run's priors; prints JSON.

    PYTHONPATH=src python paper/benchmarks/heldout_bm3d.py [--heldout docs/results/restoration/heldout.json] [--out F]

For every held-out image (:func:`scorematch_paper.experiments.restoration.heldout_images`) and noise level of the
stored held-out table, the noisy image is drawn exactly as the experiment drew it (same seed), denoised by BM3D
(the ``bm3d`` package, ``pip install bm3d``; ``sigma_psd`` = the true noise level) and scored. The output gives, per level, BM3D's mean
PSNR and, for each method of the stored table, BM3D minus that method paired over the images (mean, std of the
mean, images where BM3D is higher): the bar a deep prior has to reach (issue 17). The JSON carries a stamp
(:func:`scorematch_paper.stamps.stamp`) of the code that drew and scored the images, and the SHA-256 of the table it
compared with (rerun it after the restoration stage is republished).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit  # noqa: E402
from scorematch.datasets import read_image  # noqa: E402
from scorematch_paper.experiments.restoration.data import noise, noise_seed, heldout_images  # noqa: E402
from scorematch.tasks import psnr  # noqa: E402
from scorematch_paper.stamps import stamp  # noqa: E402


def _bm3d(y: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    return np.asarray(bm3d.bm3d(y, sigma_psd=sigma), dtype=np.float64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", type=Path, default=ROOT / "docs" / "results" / "restoration" / "heldout.json")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    args.heldout = args.heldout.resolve()  # recorded relative to the repository root
    stored = json.loads(args.heldout.read_text())
    settings, rows = stored["settings"], stored["result"]
    if settings.get("heldout_crop"):
        raise SystemExit("the stored table was computed on crops; this script scores whole images")
    files = dict(heldout_images())
    scores: dict[int, dict[str, float]] = {}
    for r in rows:
        x = read_image(files[r["image"]], dtype=torch.float32)[None, None]
        y = noise(x, r["level"], noise_seed(r["image"], r["level"], 0))
        if abs(psnr(y, x) - r["noisy"]) > 1e-6:
            raise SystemExit(f"{r['image']} at {r['level']}/256: not the experiment's noise draw")
        out = _bm3d(y[0, 0].double().numpy(), r["level"] / 256)
        scores.setdefault(r["level"], {})[r["image"]] = psnr(torch.from_numpy(np.clip(out, 0, 1)), x[0, 0].double())
    result = {"benchmark": "heldout_bm3d",
              **stamp("scorematch_paper.experiments.restoration.data", "scorematch.metrics"),
              "heldout_file": str(args.heldout.relative_to(ROOT)),
              "heldout_sha256": hashlib.sha256(args.heldout.read_bytes()).hexdigest(), "levels": {}}
    for level, bm in sorted(scores.items()):
        rs = [r for r in rows if r["level"] == level]
        entry = {"n_images": len(rs), "bm3d_psnr": round(statistics.mean(bm.values()), 3), "bm3d_minus": {}}
        for method in [k for k in rs[0] if k not in ("image", "level")]:
            d = [bm[r["image"]] - r[method] for r in rs]
            entry["bm3d_minus"][method] = {"mean": round(statistics.mean(d), 3),
                                           "std_of_mean": round(statistics.stdev(d) / math.sqrt(len(d)), 3),
                                           "images_bm3d_higher": sum(v > 0 for v in d)}
        result["levels"][str(level)] = entry
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
