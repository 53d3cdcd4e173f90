"""Benchmark: deep energies on the tuning images (where their recipes are chosen), BM3D beside; JSON.

    PYTHONPATH=src python paper/benchmarks/deep_energy_tuning.py --model NAME=FILE [--model NAME=FILE ...] [--out F]

The whole 256x256 Set12 images of :data:`scorematch_paper.experiments.restoration.TUNE_IMAGES` at 5, 15 and 25/256, one
noise draw each (the restoration experiment's seeds), denoised by each model's Tweedie estimate
(:func:`scorematch.tasks.tweedie`) and by BM3D (``bm3d`` package) in the same loop. Per level and model:
the mean PSNR, each image's, and the paired difference to BM3D (mean, std of the mean). Choices between deep
energies (architecture, patch size, training loss) are made on these numbers, never on the held-out images of
``paper/benchmarks/deep_energy.py``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit  # noqa: E402
from deep_energy import bm3d_denoise, paired  # noqa: E402

from scorematch import load_info  # noqa: E402
from scorematch.datasets import data_dir, read_image  # noqa: E402
from scorematch_paper.experiments.restoration import TUNE_IMAGES  # noqa: E402
from scorematch_paper.experiments.restoration.data import noise, noise_seed  # noqa: E402
from scorematch.pretrained import load_pretrained, resolve  # noqa: E402
from scorematch.tasks import psnr, tweedie  # noqa: E402

LEVELS = (5, 15, 25)


def _named(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--model takes NAME=FILE, got {text!r}")
    return name, path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=_named, action="append", required=True, help="NAME=FILE (repeatable)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    models = {name: load_pretrained(path).eval() for name, path in args.model}
    scores: dict[int, dict[str, list[float]]] = {lv: {"bm3d": [], **{n: [] for n in models}} for lv in LEVELS}
    for image in TUNE_IMAGES:
        x = read_image(next((data_dir() / "set12").glob(f"{image}.*")), dtype=torch.float32)[None, None]
        for level in LEVELS:
            y = noise(x, level, noise_seed(image, level, 0))
            for name, model in models.items():
                with torch.no_grad():
                    out = tweedie(y, model, sigma=level / 256)
                scores[level][name].append(psnr(out.clamp(0, 1), x))
            scores[level]["bm3d"].append(psnr(bm3d_denoise(y, level / 256), x))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    result = {"benchmark": "deep_energy_tuning", "commit": commit.strip(), "images": list(TUNE_IMAGES),
              "models": {name: {"file": path, "info": load_info(resolve(path))} for name, path in args.model},
              "threads": torch.get_num_threads(), "levels": {}}
    for level, s in scores.items():
        result["levels"][str(level)] = {
            **{f"{k}_psnr": round(statistics.mean(v), 3) for k, v in s.items()},
            "per_image": {k: [round(p, 3) for p in v] for k, v in s.items()},
            **{f"{n}_minus_bm3d": paired(s[n], s["bm3d"]) for n in models}}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
