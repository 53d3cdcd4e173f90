"""Does the image border get the interior's quality? The default denoiser against colour BM3D near the frame.

    python paper/benchmarks/border_quality.py [--limit 10] [--level 25] [--out FILE.json]

The first ``--limit`` colour validation photos (:func:`scorematch.datasets.colour_split` ``["heldout"]``), whole,
with Gaussian noise of ``--level``/255 (one draw per photo, seeded by photo; not clipped), denoised by
``scorematch.denoise`` (the default prior and its presets) and by ``bm3d.bm3d_rgb`` at the true sigma. For each, the
fraction of the pixel values (all channels) off the clean photo by more than :data:`OFF` grey levels, in the
:data:`FRAME`-pixel frame and in the interior, and the PSNR of each part; means over the photos.
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

from _output import cpu_model, emit, load_average  # noqa: E402

import scorematch as sm  # noqa: E402
from scorematch.datasets import colour_split  # noqa: E402
from scorematch.prior import DEFAULT_PRIORS  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402

#: The width of the frame (pixels).
FRAME = 2
#: A value is "off" beyond this many grey levels (of 255).
OFF = 20


def frame_mask(shape: tuple[int, int], width: int = FRAME) -> np.ndarray:
    """True on the ``width``-pixel frame of an (H, W) image."""
    mask = np.ones(shape, dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def parts(out: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """The fraction of values off by more than :data:`OFF` levels and the PSNR, in the frame and the interior."""
    err = np.clip(out, 0, 1) - x  # (H, W, 3)
    frame = frame_mask(x.shape[:2])
    result = {}
    for name, where in (("frame", frame), ("interior", ~frame)):
        e = err[where]
        result[f"{name}_off"] = float((np.abs(e) * 255 > OFF).mean())
        result[f"{name}_psnr"] = 10 * math.log10(1 / float((e**2).mean()))
    return result


def main(argv: list[str] | None = None) -> int:
    import bm3d
    from PIL import Image

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--level", type=float, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sigma, t0, rows = args.level / 255, time.perf_counter(), []
    for f in colour_split()["heldout"][: args.limit]:
        with Image.open(f) as im:
            x = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
        seed = int(hashlib.sha1(f"border/{f.stem}/{args.level}".encode()).hexdigest()[:8], 16)
        y = x + sigma * np.random.default_rng(seed).standard_normal(x.shape)
        ours = parts(sm.denoise(y, sigma, channel_axis=-1), x)
        theirs = parts(np.asarray(bm3d.bm3d_rgb(y, sigma_psd=sigma)), x)
        rows.append({"photo": f.name, "ours": ours, "bm3d": theirs})
        print(f"{f.name}: frame off {ours['frame_off']:.4f} (BM3D {theirs['frame_off']:.4f})", file=sys.stderr,
              flush=True)
    means = {who: {k: round(statistics.mean(r[who][k] for r in rows), 5) for k in rows[0][who]}
             for who in ("ours", "bm3d")}
    emit({"benchmark": "border_quality", **stamp("scorematch.restoration", models={
        DEFAULT_PRIORS[3]: resolve(DEFAULT_PRIORS[3]).resolve().relative_to(ROOT)}, parts=DENOISING), "level": args.level,
          "frame": FRAME, "off_levels": OFF, "cpu": cpu_model(), "threads": args.threads,
          "load_average_end": load_average(), "seconds": round(time.perf_counter() - t0, 1), "means": means,
          "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
