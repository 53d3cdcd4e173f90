"""The bundled grey prior on the linear inverse problems beyond the paper, against simple anchors; prints JSON.

    PYTHONPATH=src python benchmarks/inverse_problems.py [--model foe_5x5x24|deep_energy] [--images 10] [--crop 120]
        [--threads 1]

Problems (each with ``scorematch.tasks.restore`` and a bundled prior, float32: ``foe_5x5x24`` by default; the
noise-conditional ``deep_energy`` is used as the field ``E_s`` at a level ``s`` chosen per problem on the tuning
crops from :data:`DEEP_LEVELS`, prior weight 1):

- deblurring by camera-shake motion kernels (random trajectories of 13 to 27 pixels, one per image, seeded) with
  Gaussian noise 0.01, periodic boundary; anchor: Wiener deconvolution (``skimage.restoration.wiener``);
- inpainting of 50 % random missing pixels, no noise; anchor: biharmonic inpainting
  (``skimage.restoration.inpaint_biharmonic``);
- super-resolution by 3 and 4 (block average); anchor: bicubic upscale projected onto the constraint.

Every choice (our prior weight for deblurring, or the deep energy's level for every problem; Wiener's balance; our
iteration budget for inpainting) is made on the central crops of the tuning images
(``experiments.restoration.TUNE_IMAGES``) and reported on central crops of the held-out images
(``experiments.restoration.heldout_images``: no choice of the project looks at them). Per problem: the mean PSNR of
ours and of the anchor, and their difference paired over the images (mean, std of the mean, and the tie rule of
``experiments.compare``).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scorematch.datasets import data_dir  # noqa: E402
from scorematch.experiments import restoration as R  # noqa: E402
from scorematch.experiments.cache import code_fingerprint, git_state  # noqa: E402
from scorematch.experiments.compare import describe, paired_difference  # noqa: E402
from scorematch.io import read_image  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402
from scorematch.tasks import (Blur, Downsample, Inpaint, is_noise_conditional, psnr, restore,  # noqa: E402
                              superresolve)

NOISE = 0.01
WEIGHTS = (0.06, 0.12, 0.25, 0.5, 1.0)
BALANCES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
INPAINT_ITERS = (80, 200, 500)
#: Levels (1/256) of the noise-conditional energy's field ``E_s`` tried on the tuning crops.
DEEP_LEVELS = (2, 3, 5, 8)
DEEP_INPAINT_ITERS = 300


def motion_kernel(seed: int, size: int = 27) -> torch.Tensor:
    """A camera-shake kernel: a random smooth trajectory of 13 to 27 pixels, rasterized and normalized."""
    rng = np.random.default_rng(seed)
    length = rng.uniform(13, 27)
    pos, vel, pts = np.zeros(2), rng.normal(size=2), []
    for _ in range(400):
        vel = 0.9 * vel + 0.3 * rng.normal(size=2)
        vel /= max(np.linalg.norm(vel), 1e-9)
        pos = pos + vel * length / 400
        pts.append(pos.copy())
    pts = np.array(pts) - np.mean(pts, axis=0) + size // 2
    k = np.zeros((size, size))
    for y, x in pts:
        i, j = int(np.clip(round(y), 0, size - 1)), int(np.clip(round(x), 0, size - 1))
        k[i, j] += 1.0
    return torch.from_numpy(k / k.sum())


def _crop(file: Path, c: int) -> torch.Tensor:
    im = read_image(file, dtype=torch.float32)
    h, w = im.shape
    i, j = (h - c) // 2, (w - c) // 2
    return im[i : i + c, j : j + c][None, None]


def _images(names_files, c: int) -> list[torch.Tensor]:
    return [_crop(f, c) for _, f in names_files]


def _seed(tag: str, k: int) -> int:
    return R.data.noise_seed(tag, k, 0)


def _psnr(x: torch.Tensor, ref: torch.Tensor) -> float:
    return psnr(x.clamp(0, 1), ref)


def _wiener(y: torch.Tensor, k: torch.Tensor, balance: float) -> torch.Tensor:
    from skimage.restoration import wiener

    kk = k.numpy()
    # skimage's wiener is periodic with the kernel centred as in scipy's convolve, like Blur(..., "periodic")
    return torch.from_numpy(wiener(y[0, 0].double().numpy(), kk, balance, clip=False)).float()[None, None]


def _deblur_problem(images, tag):
    out = []
    for n, x in enumerate(images):
        op = Blur(motion_kernel(_seed(tag, n)))
        y = op.observe(x, sigma=NOISE, generator=torch.Generator().manual_seed(_seed(tag + "noise", n)))
        out.append((x, op, y))
    return out


def _loadavg() -> float | None:
    try:
        return round(float(Path("/proc/loadavg").read_text().split()[0]), 2)
    except OSError:
        return None


def _mean(values) -> float:
    return float(np.mean(values))


def _result(ours: list[float], anchor: list[float], bar: float) -> dict:
    diff, std = paired_difference(ours, anchor)
    std_mean = std / math.sqrt(len(ours)) if len(ours) > 1 else math.nan
    return {"ours": _mean(ours), "anchor": _mean(anchor), "ours_minus_anchor": diff, "std_of_mean": std_mean,
            "reads": describe(diff, std_mean), "bar": bar, "meets_bar": diff >= bar, "n_images": len(ours)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10, help="held-out images to report on")
    ap.add_argument("--crop", type=int, default=120, help="central crop side (divisible by 3 and 4)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", choices=("foe_5x5x24", "deep_energy"), default="foe_5x5x24")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = load_pretrained(args.model).float()
    for p in model.parameters():
        p.requires_grad_(False)
    deep = is_noise_conditional(model)

    def prior(level):
        return model.at(level / 256) if deep else model

    tune = [_crop(data_dir() / "set12" / f"{n}.png", args.crop) for n in R.TUNE_IMAGES]
    test = _images(R.heldout_images(args.images), args.crop)
    out = {"benchmark": "inverse_problems", "model": args.model, "crop": args.crop, "n_tune": len(tune),
           "n_test": len(test), "noise": NOISE, "threads": args.threads, "torch": torch.__version__,
           "machine": platform.processor() or platform.machine(), **git_state(), "fingerprint": code_fingerprint(),
           "load_avg_1min": _loadavg(), "problems": {}}

    # deblurring: the prior weight (or the deep energy's level) and Wiener's balance chosen on the tuning crops
    tune_b, test_b = _deblur_problem(tune, "tune-blur"), _deblur_problem(test, "test-blur")

    def ours_b(problem, choice):
        level, w = choice
        return [_psnr(restore(y, op, prior(level), sigma=NOISE, weight=w), x) for x, op, y in problem]

    def wiener_b(problem, b):
        return [_psnr(_wiener(y, op.kernel, b), x) for x, op, y in problem]

    choices = [(lv, 1.0) for lv in DEEP_LEVELS] if deep else [(None, w) for w in WEIGHTS]
    level, w = max(choices, key=lambda c: _mean(ours_b(tune_b, c)))
    b = max(BALANCES, key=lambda v: _mean(wiener_b(tune_b, v)))
    out["problems"]["deblur_motion_0.01"] = {"weight": w, "level": level, "wiener_balance": b,
                                             **_result(ours_b(test_b, (level, w)), wiener_b(test_b, b), bar=1.0)}

    # inpainting, 50 % random missing pixels, no noise
    from skimage.restoration import inpaint_biharmonic

    def masked(images, tag):
        out = []
        for n, x in enumerate(images):
            mask = torch.rand(x.shape[-2:], generator=torch.Generator().manual_seed(_seed(tag, n))) > 0.5
            out.append((x, mask, Inpaint(mask.float())))
        return out

    def ours_i(problem, choice):
        level, iters = choice
        return [_psnr(restore(op.A(x), op, prior(level), sigma=0.0, n_iter=int(iters)), x) for x, _, op in problem]

    tune_i, test_i = masked(tune, "tune-mask"), masked(test, "test-mask")
    choices = [(lv, DEEP_INPAINT_ITERS) for lv in DEEP_LEVELS] if deep else [(None, n) for n in INPAINT_ITERS]
    level, iters = max(choices, key=lambda c: _mean(ours_i(tune_i, c)))
    anchor_i = [_psnr(torch.from_numpy(inpaint_biharmonic(x[0, 0].double().numpy(), ~mask.numpy())).float()[None, None],
                      x) for x, mask, _ in test_i]
    out["problems"]["inpaint_50pct"] = {"iters": iters, "level": level,
                                        **_result(ours_i(test_i, (level, iters)), anchor_i, bar=0.5)}

    # super-resolution by 3 and 4
    for f in (3, 4):
        op = Downsample(f)

        def ours_s(images, level):
            return [_psnr(superresolve(op.A(x), prior(level), factor=f), x) for x in images]

        level = max(DEEP_LEVELS, key=lambda lv: _mean(ours_s(tune, lv))) if deep else None
        anchor_s = [_psnr(op.start(op.A(x)), x) for x in test]
        out["problems"][f"superres_{f}x"] = {"level": level, **_result(ours_s(test, level), anchor_s, bar=0.1)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
