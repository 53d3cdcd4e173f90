"""How a padded network meets the image border: the boundary rule and the margin of a padded prior, chosen on the
colour tuning photos.

    python paper/benchmarks/border_rule.py [--levels 15 25 50] [--threads T] [--out FILE.json]

The six colour tuning photos (:func:`scorematch.datasets.colour_split` ``["tune"]``), whole, with Gaussian noise
of each level (/255; one draw per photo and level, seeded by both; not clipped), denoised by ``scorematch.denoise``
with the default prior and its presets at the true sigma under each rule of :data:`RULES`: ``"valid"`` (the
network's own zero padding) and the image extended by ``margin`` pixels (symmetric or reflect;
:data:`scorematch.prior.evaluation.PADDED_MARGIN`, which this script sets per rule). For each: the PSNR of the
2-pixel frame, of the interior and of the whole photo (``border_quality.parts``), and the whole photo's PSNR minus
that of ``"valid"`` (paired over the photos: mean, std, photos above). The rule and margin with the largest mean gain
over the levels are :data:`~scorematch.prior.PADDED_BOUNDARY` and ``PADDED_MARGIN``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "paper" / "benchmarks"))

from _output import cpu_model, emit, load_average  # noqa: E402
from border_quality import parts  # noqa: E402

import scorematch as sm  # noqa: E402
from scorematch.datasets import colour_split  # noqa: E402
from scorematch.prior import DEFAULT_PRIORS, evaluation, load_prior  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402

#: The rules compared: (boundary, margin); margin 0 for "valid".
RULES = (("valid", 0), ("symmetric", 8), ("symmetric", 16), ("symmetric", 32), ("reflect", 16), ("reflect", 32))


def rule_name(boundary: str, margin: int) -> str:
    return boundary if boundary == "valid" else f"{boundary}/{margin}"


def paired(gains: list[float]) -> dict[str, float]:
    """The mean, std and count above zero of per-photo differences (dB)."""
    return {"mean": round(statistics.mean(gains), 4), "std": round(statistics.stdev(gains), 4),
            "above": sum(g > 0 for g in gains), "n": len(gains)}


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", type=float, nargs="+", default=[15, 25, 50])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    name, t0 = DEFAULT_PRIORS[3], time.perf_counter()
    rows = []
    for level in args.levels:
        sigma = level / 255
        for f in colour_split()["tune"]:
            with Image.open(f) as im:
                x = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
            seed = int(hashlib.sha1(f"border_rule/{f.stem}/{level}".encode()).hexdigest()[:8], 16)
            y = x + sigma * np.random.default_rng(seed).standard_normal(x.shape)
            for boundary, margin in RULES:
                evaluation.PADDED_MARGIN = margin
                out = sm.denoise(y, sigma, prior=load_prior(name, boundary=boundary), channel_axis=-1)
                rows.append({"level": level, "photo": f.name, "rule": rule_name(boundary, margin), **parts(out, x),
                             "whole_psnr": 10 * math.log10(1 / float(((np.clip(out, 0, 1) - x) ** 2).mean()))})
            print(f"{level:g}/255 {f.name}", file=sys.stderr, flush=True)
    gains = {}
    for boundary, margin in RULES[1:]:
        rule = rule_name(boundary, margin)
        per_level = {}
        for level in args.levels:
            base = {r["photo"]: r["whole_psnr"] for r in rows if r["level"] == level and r["rule"] == "valid"}
            per_level[f"{level:g}"] = paired([r["whole_psnr"] - base[r["photo"]] for r in rows
                                              if r["level"] == level and r["rule"] == rule])
        gains[rule] = {"per_level": per_level,
                       "mean_over_levels": round(statistics.mean(v["mean"] for v in per_level.values()), 4)}
    best = max(gains, key=lambda k: gains[k]["mean_over_levels"])
    means = {rule_name(*r): {f"{level:g}": {k: round(statistics.mean(
        row[k] for row in rows if row["level"] == level and row["rule"] == rule_name(*r)), 3)
        for k in ("frame_psnr", "interior_psnr", "whole_psnr")} for level in args.levels} for r in RULES}
    emit({"benchmark": "border_rule", **stamp("scorematch.restoration", models={
        name: resolve(name).resolve().relative_to(ROOT)}, parts=DENOISING), "prior": name, "levels_over_255": args.levels,
          "cpu": cpu_model(), "threads": args.threads, "load_average_end": load_average(),
          "seconds": round(time.perf_counter() - t0, 1), "best": best, "gain_over_valid": gains, "means": means,
          "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
