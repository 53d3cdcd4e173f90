"""Benchmark: the choices of :func:`scorematch.tasks.estimate_noise`, made on the tuning images only; JSON.

    PYTHONPATH=src python paper/benchmarks/noise_estimation_tuning.py [--model deep_energy] [--threads T] [--out F]

Tuning images: the six grey Set12 images of :data:`scorematch_paper.experiments.restoration.TUNE_IMAGES` (whole) and
the six colour photos of ``colour_split()["tune"]``; 5, 15, 25, 50 and 75 (/255), one noise draw per image and level
as in ``paper/benchmarks/noise_estimation.py``. Per level, the estimated / true sigma (mean, min, max over the images) of:

- ``mad``: the wavelet MAD with each wavelet of :data:`~scorematch.tasks.noise_level.WAVELETS` (and scikit-image's
  ``estimate_sigma`` where it is installed, for reference): chooses :data:`~scorematch.tasks.noise_level.MAD_WAVELET`;
- ``rms_ratio`` (grey): ``RMS(r(s)) / s`` of the Tweedie residual ``r(s) = s^2 dE_s/dy`` at 0.85, 1 and 1.15 times
  the true sigma, the quantity a fixed point ``s <- RMS(r(s)) / k`` would use;
- ``h_at_truth``: the self-consistency ratio ``h`` of the energy method at the true sigma, grey and, for a colour
  image, in each of :data:`~scorematch.tasks.noise_level.COLOUR_SPACES`: chooses
  :data:`~scorematch.tasks.noise_level.ENERGY_TARGET`;
- ``energy``: the energy method as the code has it (its target), with the gradient evaluations it took; colour in
  each colour space: chooses :data:`~scorematch.tasks.noise_level.COLOUR_SPACE`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit, load_average  # noqa: E402
from noise_estimation import LEVELS, noisy, probe  # noqa: E402

from scorematch.datasets import colour_split, data_dir, read_image  # noqa: E402
from scorematch.prior import ImagePrior, load_prior  # noqa: E402
from scorematch.provenance import git_state  # noqa: E402
from scorematch.tasks.noise_level import (  # noqa: E402
    COLOUR_SPACE, COLOUR_SPACES, ENERGY_EVALS, ENERGY_TARGET, WAVELETS, consistency_ratio, energy_sigma, mad_sigmas,
    noise_channels, tweedie_residual)
from scorematch_paper.experiments.restoration import TUNE_IMAGES  # noqa: E402


class Counted(ImagePrior):
    """A noise-conditional prior that counts its gradient evaluations (one per :meth:`at`)."""

    def __init__(self, prior: ImagePrior) -> None:
        super().__init__(prior.energy, presets=prior.presets, boundary=prior.boundary, tile=prior.tile,
                         name=prior.name)
        self.calls = 0

    def at(self, level):
        self.calls += 1
        return super().at(level)


def grey_tune() -> list[tuple[str, torch.Tensor]]:
    return [(n, read_image(data_dir() / "set12" / f"{n}.png", dtype=torch.float32)[None, None]) for n in TUNE_IMAGES]


def colour_tune() -> list[tuple[str, torch.Tensor]]:
    return [(f"colour/{f.stem}", read_image(f, dtype=torch.float32, colour=True)[None])
            for f in colour_split()["tune"]]


def spread(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.mean(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def skimage_sigma(y: torch.Tensor) -> float | None:
    try:
        from skimage.restoration import estimate_sigma
    except ImportError:
        return None
    return float(estimate_sigma(y[0].double().numpy(), channel_axis=0, average_sigmas=True))


def h_at(y: torch.Tensor, model, sigma: float, space: str, gen: torch.Generator) -> float:
    """``h`` at ``sigma`` for one image (1, C, H, W)."""
    z, scales = noise_channels(y, model, space)
    v = (2 * torch.randint(0, 2, z.shape, generator=gen) - 1).to(z.dtype)
    f, _ = consistency_ratio(z, model, torch.tensor([sigma]), scales.float(), v)
    return float(f.exp())


def rms_ratios(y: torch.Tensor, model, sigma: float) -> dict[str, float]:
    out = {}
    for mult in (0.85, 1.0, 1.15):
        s = mult * sigma
        r = tweedie_residual(y, model, torch.full((1, y.shape[1]), s))
        out[str(mult)] = float(r.pow(2).mean().sqrt()) / s
    return out


def run_set(images, model, levels, spaces: list[str], grey: bool) -> dict:
    out: dict = {}
    for level in levels:
        sigma = level / 255
        acc: dict[str, list[float]] = {}
        for name, x in images:
            y = noisy(x, name, level)
            for w in WAVELETS:
                acc.setdefault(f"mad_{w}", []).append(float(mad_sigmas(y, wavelet=w).mean()) / sigma)
            sk = skimage_sigma(y)
            if sk is not None:
                acc.setdefault("mad_skimage", []).append(sk / sigma)
            if grey:
                for mult, v in rms_ratios(y, model, sigma).items():
                    acc.setdefault(f"rms_ratio_at_{mult}", []).append(v)
            start = mad_sigmas(y).mean(1)
            for space in spaces:
                acc.setdefault(f"h_at_truth_{space}", []).append(h_at(y, model, sigma, space, probe(name, level)))
                counted = Counted(model)
                t = time.perf_counter()
                s = energy_sigma(y, counted, start, n_eval=ENERGY_EVALS, generator=probe(name, level), space=space)
                acc.setdefault(f"energy_{space}", []).append(float(s[0]) / sigma)
                acc.setdefault(f"energy_{space}_gradients", []).append(counted.calls)
                acc.setdefault(f"energy_{space}_seconds", []).append(time.perf_counter() - t)
        out[str(level)] = {k: spread(v) for k, v in acc.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="deep_energy", help="a bundled noise-conditional model's name or a model file")
    ap.add_argument("--levels", nargs="+", type=int, default=list(LEVELS), help="noise levels on the 0..255 scale")
    ap.add_argument("--spaces", nargs="+", default=list(COLOUR_SPACES), choices=COLOUR_SPACES,
                    help="colour spaces of the energy method to compare")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model = load_prior(args.model)
    start = time.perf_counter()
    grey = run_set(grey_tune(), model, args.levels, ["rgb"], grey=True)
    colour = run_set(colour_tune(), model, args.levels, args.spaces, grey=False)
    state = git_state(ROOT)
    emit({"benchmark": "noise_estimation_tuning", "commit": (state["commit"] or "unknown")[:7],
          "dirty": state["dirty"], "model": str(args.model), "energy_target": ENERGY_TARGET,
          "colour_space": COLOUR_SPACE, "energy_evals": ENERGY_EVALS, "threads": torch.get_num_threads(),
          "load_average": load_average(), "seconds": round(time.perf_counter() - start, 1),
          "grey": grey, "colour": colour}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
