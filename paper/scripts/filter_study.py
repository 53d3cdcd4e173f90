"""Why RSM FoE filters come out as checkerboards, and which training conditions give smooth oriented ones.

1. Radial power spectrum of train400 patches (0..255) after each whitening filter: the LoG with sigma 1 (our
   default) leaves ~100x less power near the Nyquist frequency than at its 0.2 cycles/px peak; score matching
   (a Fisher divergence, dominated by the data's highest-precision directions) then pulls the filters there.
2. Short trainings of the 5x5x24 FoE (whitened- or pixel-space score matching, unit or free filter norms, scale,
   whitening), each drawn (whitened domain and composed with the whitening, sorted by alpha * |w|^2) and scored by
   MAP denoising at 5/256 on the tuning crops (restoration.tuning.weight_curve; never the test images).

Usage (one thread; about 1-2 minutes per training on a shared 2-core machine)::

    PYTHONPATH=src python paper/scripts/filter_study.py OUT_DIR [NAME ...]

Writes OUT_DIR/spectra.json, OUT_DIR/NAME_w.png, OUT_DIR/NAME_raw.png, OUT_DIR/results.jsonl.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from scorematch import save
from scorematch.datasets.patches import PatchStream, load_images, split_images
from scorematch.energies.foe import FieldOfExperts, laplacian_whitening_kernel
from scorematch.energies.image_prior import ImageFoE
from scorematch.energies.layers import compose_kernels
from scorematch.estimators.score_matching import score_matching_loss
from scorematch_paper.experiments.filter_grid import save_filter_grid
from scorematch_paper.experiments.restoration import RECIPE  # noqa: E402
from scorematch_paper.experiments.restoration.data import frozen, tune_set  # noqa: E402
from scorematch_paper.experiments.restoration.tuning import weight_curve  # noqa: E402
from scorematch.priors import FoERecipe, train_image_foe
from scorematch.train import fit

STEPS = 1500
#: name -> changes to restoration.RECIPE (whitening "zca5": a 5x5 ZCA filter estimated from the data)
VARIANTS = {
    "pixel_unit": {},
    "pixel_free": {"normalize_filters": False},
    "whitened_unit": {"space": "whitened"},
    "whitened_free": {"space": "whitened", "normalize_filters": False},
    "whitened_unit_scale10": {"space": "whitened", "scale": 10.0},
    "log05_unit_scale255": {"space": "whitened", "whitening_sigma": 0.5},
    "log05_free": {"space": "whitened", "whitening_sigma": 0.5, "normalize_filters": False},
    "log05_unit_scale20": {"space": "whitened", "whitening_sigma": 0.5, "scale": 20.0},
    "zca5_free": {"space": "whitened", "whitening": "zca5", "normalize_filters": False},
    "zca5_unit_scale20": {"space": "whitened", "whitening": "zca5", "scale": 20.0},
}
BANDS = [(0.02, 0.06), (0.06, 0.12), (0.12, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.71)]


def zca_kernel(images, k: int = 5) -> torch.Tensor:
    """Central row of the ZCA matrix of k x k patches (0..255, eps 1), unit norm, shape (k, k)."""
    x = PatchStream(list(images), k)(50000, torch.Generator().manual_seed(1)).double()[:, 0].reshape(50000, -1) * 255
    d, v = torch.linalg.eigh(torch.cov(x.T))
    zk = (v @ torch.diag(1 / torch.sqrt(d + 1.0)) @ v.T)[(k * k) // 2].reshape(k, k)
    return (zk / zk.norm()).float()


def spectra(images) -> dict[str, list[float]]:
    """Radial power of whitened 32x32 patches per frequency band (cycles/px), relative to the largest band."""
    raw = PatchStream(list(images), 32)(3000, torch.Generator().manual_seed(0)).double()[:, 0].numpy() * 255
    power = (np.abs(np.fft.fft2(raw)) ** 2).mean(0)
    f = np.fft.fftfreq(32)
    r = np.hypot(*np.meshgrid(f, f, indexing="ij"))
    out = {"bands": [list(b) for b in BANDS]}
    kernels = {"none": np.ones((1, 1)), "zca5": zca_kernel(images).double().numpy(),
               **{f"log_sigma{s}": laplacian_whitening_kernel(5, sigma=s).double().numpy() for s in (0.5, 0.7, 1.0)}}
    for name, k in kernels.items():
        p = power * np.abs(np.fft.fft2(k, s=(32, 32))) ** 2
        band = np.array([p[(r >= a) & (r < b)].mean() for a, b in BANDS])
        out[name] = [round(float(v), 4) for v in band / band.max()]
    return out


def train(name: str, images, changes: dict) -> ImageFoE:
    changes = {"steps": STEPS, **changes}
    if changes.get("whitening") != "zca5":
        return train_image_foe(list(images), RECIPE, holdout=None, **changes)
    changes.pop("whitening")
    r = FoERecipe(**{**RECIPE.to_dict(), **changes})
    kernel = zca_kernel(images)
    data = PatchStream(list(images), r.patch_size, scale=r.scale, whitening=kernel)(
        r.n_patches, torch.Generator().manual_seed(r.seed))
    foe = FieldOfExperts(r.n_experts, r.kernel_size, normalize_filters=r.normalize_filters,
                         generator=torch.Generator().manual_seed(r.seed))
    fit(foe, data, functools.partial(score_matching_loss, lam=r.lam * r.scale**2), steps=r.steps,
        batch_size=r.batch_size, lr=r.lr, seed=r.seed, log_every=max(1, r.steps // 5), checkpoint_every=0)
    prior = ImageFoE.from_foe(foe, scale=r.scale, whitening_size=5)
    with torch.no_grad():
        prior.layers[0].raw_weight.copy_(r.scale * kernel.reshape(1, 1, 5, 5))  # replaces the LoG
    return prior


def draw(prior: ImageFoE, out: Path, name: str) -> dict:
    with torch.no_grad():
        f = prior.filters
        strength = prior.alpha * f.flatten(1).norm(dim=1) ** 2
        order = torch.argsort(strength, descending=True)
        labels = [f"a={prior.alpha[i]:.2g} |w|={f[i].norm():.2g}" for i in order]
        save_filter_grid(f[order], out / f"{name}_w.png", ncols=8, labels=labels,
                         title=f"{name}: learned filters (whitened domain), by alpha |w|^2")
        comp = compose_kernels(prior.layers[0].raw_weight, prior.layers[1].weight)[:, 0][order]
        save_filter_grid(comp, out / f"{name}_raw.png", ncols=8, title=f"{name}: composed with the whitening")
        return {"alpha": [round(float(prior.alpha[i]), 4) for i in order],
                "norms": [round(float(f[i].norm()), 3) for i in order]}


def main(out: str, names: list[str]) -> None:
    torch.set_num_threads(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images, _ = split_images(load_images("train400"), holdout=0.1)
    (out / "spectra.json").write_text(json.dumps(spectra(images), indent=1))
    x = tune_set(128)
    for name in names or list(VARIANTS):
        t0 = time.perf_counter()
        prior = train(name, images, dict(VARIANTS[name]))
        row = {"name": name, "changes": VARIANTS[name], "steps": STEPS, "train_seconds": time.perf_counter() - t0}
        save(prior, out / f"{name}.safetensors", metadata=row)
        row.update(draw(prior, out, name))
        row["curve5"] = weight_curve(frozen(prior), x, 5, (0.1, 0.2, 0.3, 0.5, 0.7, 1.0), None)
        row["best5"] = max(row["curve5"].values())
        print(json.dumps(row), flush=True)
        with open(out / "results.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
