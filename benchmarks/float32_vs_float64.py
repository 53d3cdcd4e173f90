"""float32 against float64 MAP restoration with the bundled prior on the tuning crops; prints JSON.

    PYTHONPATH=src python benchmarks/float32_vs_float64.py > docs/results/benchmarks/float32_vs_float64.json

The check behind the CLI's float32 default (``--float64`` keeps the old path): denoising at 1, 5, 15 and 25 /256
(the model card's weight for each level, one noise draw) and 2x super-resolution, each on the six 128x128 tuning
crops (:data:`TUNE_IMAGES`, the research package's tuning images, with its noise draws; never a reported image),
mean PSNR per precision, their difference, and the seconds (one thread; other processes on the machine inflate them, the PSNRs do not move).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scorematch.datasets import data_dir, read_image  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402
from scorematch.prior import load_prior  # noqa: E402
from scorematch.tasks import MAP, Denoising, Downsample, denoise, psnr, superresolve  # noqa: E402

LEVELS = (1, 5, 15, 25)
MODEL = "foe_5x5x24"
#: Set12 images in neither of the paper's tables: the tuning images of the restoration experiment
#: (``scorematch_paper.experiments.restoration.TUNE_IMAGES`` in paper/).
TUNE_IMAGES = ("cameraman", "couple", "man", "monarch", "starfish", "parrot")


def tune_set(crop: int) -> torch.Tensor:
    """The central ``crop x crop`` crops of :data:`TUNE_IMAGES`, shape (6, 1, crop, crop), as the experiment's."""
    out = []
    for name in TUNE_IMAGES:
        im = read_image(data_dir() / "set12" / f"{name}.png", dtype=torch.float32)  # (H, W)
        h, w = (im.shape[0] // 2) * 2, (im.shape[1] // 2) * 2
        i, j = (h - crop) // 2, (w - crop) // 2
        out.append(im[i : i + crop, j : j + crop][None, None])  # (1, 1, crop, crop)
    return torch.cat(out)


def noisy(x: torch.Tensor, level: int, name: str) -> torch.Tensor:
    """``x`` plus Gaussian noise of std ``level``/256, drawn as the experiment draws the noise named ``name``."""
    seed = int(hashlib.sha1(f"{name}/{level}/0".encode()).hexdigest()[:8], 16)
    return Denoising(level / 256)(x, generator=torch.Generator().manual_seed(seed))


def _prior(dtype: torch.dtype):
    p = load_pretrained(MODEL).to(dtype)
    for q in p.parameters():
        q.requires_grad_(False)
    return p


def _mean_psnr(x: torch.Tensor, ref: torch.Tensor) -> float:
    return sum(psnr(x[b].double().clamp(0, 1), ref[b]) for b in range(len(ref))) / len(ref)


def _compare(run) -> dict:
    row = {}
    for dtype in (torch.float64, torch.float32):
        t0 = time.perf_counter()
        row[str(dtype).replace("torch.", "")] = {"psnr": run(dtype), "seconds": round(time.perf_counter() - t0, 2)}
    row["float32_minus_float64_db"] = row["float32"]["psnr"] - row["float64"]["psnr"]
    return row


def main() -> None:
    torch.set_num_threads(1)
    x = tune_set(128).double()  # (6, 1, 128, 128)
    out = {"benchmark": "float32_vs_float64", "model": MODEL, "images": list(TUNE_IMAGES), "crop": 128,
           "torch": torch.__version__, "machine": platform.processor() or platform.machine(), "threads": 1,
           "denoise": {}}
    for lv in LEVELS:
        y = noisy(x, lv, "float32_check")
        w = load_prior(MODEL).presets.denoising(lv / 256).weight
        out["denoise"][str(lv)] = {"weight": w, **_compare(
            lambda dt: _mean_psnr(denoise(y.to(dt), _prior(dt), sigma=lv / 256, solver=MAP(weight=w)), x))}
    low = Downsample(2).A(x)
    out["superres_2x"] = _compare(lambda dt: _mean_psnr(superresolve(low.to(dt), _prior(dt)), x))
    diffs = [r["float32_minus_float64_db"] for r in out["denoise"].values()] + [out["superres_2x"]["float32_minus_float64_db"]]
    out["largest_abs_difference_db"] = max(abs(d) for d in diffs)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
