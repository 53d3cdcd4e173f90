"""A 5x5x24 Field of Experts trained by contrastive divergence (CD-1 with HMC), the paper's Figure 2i.

The CD-1 baseline of the paper's tables is Roth & Black's FoE: Student-t experts, CD with one
hybrid-Monte-Carlo transition per data point. Here the same estimator is run on the same data and
conventions as the regularized-score-matching FoE: ``data/train400`` images times ``scale`` (0..255 by
default), whitened with :func:`~scorematch.laplacian_whitening_kernel` (5x5), random 15x15 patches
(Roth & Black's training patch size). The model lives in the whitened domain; the prior on raw images
is ``foe.whitened(laplacian_whitening_kernel())`` applied to ``scale * x``.

``run(out_dir, quick=...)`` trains (or reuses) the model and draws Figure 2i; ``train_cd_foe`` is the
function other experiments call to get the model file.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch

from scorematch.config import TrainConfig
from scorematch.datasets import PatchStream, load_images
from scorematch.energies import FieldOfExperts, laplacian_whitening_kernel
from scorematch.estimators import contrastive_divergence_loss
from scorematch.io.atomic import atomic_path
from scorematch.samplers import StepSizeController
from scorematch.serialization import load, save
from scorematch.train import fit
from scorematch_paper.experiments.cache import Cache
from scorematch_paper.paths import data_path

__all__ = ["train_cd_foe", "run", "plot", "summary", "MODEL_NAME"]

logger = logging.getLogger(__name__)

MODEL_NAME = "cd_foe_5x5x24.safetensors"


def _settings(*, quick: bool, scale: float, steps: int | None, **kw: Any) -> dict[str, Any]:
    s = {
        "n_experts": 24,
        "kernel_size": 5,
        "scale": float(scale),
        "whitening": {"kind": "laplacian", "size": 5, "sigma": 1.0},
        "images": "train400",
        "n_images": 40 if quick else None,
        "patch_size": 15,
        "batch_size": 100 if quick else 200,
        "steps": steps if steps is not None else (60 if quick else 3000),
        "lr": 0.01,
        "schedule": "cosine",
        "sampler": "hmc",
        "cd_steps": 1,
        "n_leapfrog": 10 if quick else 30,
        "initial_step_size": 0.05,
        "target_acceptance": 0.9,
        "seed": 0,
    }
    unknown = set(kw) - set(s)
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    s.update(kw)
    return s


def train_cd_foe(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    scale: float = 255.0,
    steps: int | None = None,
    images: str | os.PathLike | None = None,
    progress: bool = False,
    device: str = "cpu",
    reuse_bundled: bool = True,
    cache: Cache | None = None,
    **settings: Any,
) -> Path:
    """Train (or reuse) the CD-1 FoE 5x5x24 on whitened Train400 patches and return its model path.

    Parameters
    ----------
    out_dir : path-like
        The model is written to ``out_dir / "cd_foe_5x5x24.safetensors"`` with its settings in the
        file's metadata and in ``cd_foe_5x5x24.json``; a run with identical settings is reused.
    quick : bool
        A tiny run for tests (about 10 s): fewer images, steps and leapfrog steps.
    scale : float
        Pixel scale of the training images (255: the 0..255 scale), applied before whitening.
    steps : int, optional
        Adam steps (default 3000, quick 60).
    images : path-like, optional
        A folder of training images instead of the bundled ``train400``.
    progress : bool
        Show a progress bar.
    device : str
        Where to train (``"cpu"`` or ``"cuda"``); the saved model is on the CPU.
    reuse_bundled : bool
        If the bundled ``scorematch/pretrained/cd_foe_5x5x24.safetensors`` was made by this function with
        identical settings, copy it instead of training (a CPU retrain takes tens of minutes); its metadata
        says where it was trained. Pass False to retrain (``cache.force`` does too).
    cache : Cache, optional
        What may be reused (default: a new :class:`~scorematch_paper.experiments.cache.Cache`): a model trained here
        is reused when its stamp is current for the settings and the code.
    **settings
        Overrides of the other settings (``patch_size``, ``batch_size``, ``lr``, ``n_leapfrog``,
        ``initial_step_size``, ``target_acceptance``, ``seed``, ``n_images``, ...).

    Returns
    -------
    Path
        The model file; ``scorematch.load`` gives a :class:`~scorematch.FieldOfExperts` on whitened
        images of the given scale. Its metadata (``scorematch.load_info(path)["extra"]``) records the
        scale, whitening, sampler and final HMC step size and acceptance rate.
    """
    out_dir = Path(out_dir)
    if images is not None:
        settings["images"] = str(images)
    cfg = _settings(quick=quick, scale=scale, steps=steps, **settings)
    model_path = out_dir / MODEL_NAME
    info_path = out_dir / MODEL_NAME.replace(".safetensors", ".json")
    cache = cache or Cache()
    if cache.model_is_current(model_path, cfg) and info_path.is_file():
        logger.info("reusing %s", model_path)
        return model_path
    if reuse_bundled and not cache.force and _copy_bundled(cfg, model_path, info_path):
        return model_path
    generator = torch.Generator().manual_seed(cfg["seed"])
    train = load_images(data_path(cfg["images"]), limit=cfg["n_images"])
    kernel = laplacian_whitening_kernel(cfg["whitening"]["size"], sigma=cfg["whitening"]["sigma"])
    sampler = PatchStream(train, cfg["patch_size"], scale=cfg["scale"], whitening=kernel)
    foe = FieldOfExperts(cfg["n_experts"], cfg["kernel_size"], generator=generator).to(device)

    def data(batch_size: int, gen: torch.Generator) -> torch.Tensor:
        return sampler(batch_size, gen).to(device)  # (B, 1, patch, patch)
    controller = StepSizeController(cfg["initial_step_size"], target=cfg["target_acceptance"])
    loss = functools.partial(
        contrastive_divergence_loss,
        sampler=cfg["sampler"],
        steps=cfg["cd_steps"],
        step_size=controller,
        n_leapfrog=cfg["n_leapfrog"],
    )
    acceptance: list[float] = []

    def record(step: int, value: float, energy: FieldOfExperts) -> None:
        acceptance.append(controller.last_acceptance)

    config = TrainConfig(
        steps=cfg["steps"], batch_size=cfg["batch_size"], lr=cfg["lr"], schedule=cfg["schedule"],
        seed=cfg["seed"], log_every=max(1, cfg["steps"] // 50), checkpoint_every=0,
    )
    t0 = time.perf_counter()
    result = fit(foe, data, loss, config=config, run_dir=out_dir / "cd_foe_run", progress=progress,
                 callback=record)
    seconds = time.perf_counter() - t0
    extra = {
        "estimator": "contrastive divergence (CD-1, HMC)",
        "domain": f"images * {cfg['scale']:g}, whitened by the {cfg['whitening']['size']}x"
        f"{cfg['whitening']['size']} Laplacian kernel",
        "settings": cfg,
        "final_step_size": controller.value,
        "final_acceptance": controller.last_acceptance,
        "train_seconds": seconds,
    }
    save(result.energy.cpu(), model_path, metadata={**extra, "stamp": cache.stamp(cfg)})
    history = [dict(row, acceptance=a) for row, a in zip(result.history, acceptance)]
    with atomic_path(info_path) as tmp:
        tmp.write_text(json.dumps({**extra, "history": history}, indent=2))
    logger.info("CD-1 FoE trained in %.1f s (step size %.3g, acceptance %.2f)", seconds, controller.value,
                controller.last_acceptance)
    return model_path


def _copy_bundled(cfg: dict[str, Any], model_path: Path, info_path: Path) -> bool:
    """Copy the bundled CD-1 model into place when its recorded settings equal ``cfg``."""
    from scorematch.pretrained import models_dir
    from scorematch.serialization import load_info

    bundled = models_dir() / MODEL_NAME
    if not bundled.is_file():
        return False
    extra = load_info(bundled)["extra"]
    if extra.get("settings") != cfg:
        return False
    model_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_path) as tmp:
        tmp.write_bytes(bundled.read_bytes())
    with atomic_path(info_path) as tmp:
        tmp.write_text(json.dumps({**extra, "reused": f"bundled {bundled.name}", "history": []}, indent=2))
    logger.info("using the bundled %s (same settings; reuse_bundled=False retrains)", bundled.name)
    return True


def run(out_dir: str | os.PathLike, *, quick: bool = False, progress: bool = True,
        device: str = "cpu", cache: Cache | None = None) -> dict[str, Any]:
    """Train the CD-1 FoE (Figure 2i) and draw its filters; returns :func:`summary`."""
    out_dir = Path(out_dir)
    train_cd_foe(out_dir, quick=quick, progress=progress, device=device, cache=cache)
    plot(out_dir)
    return summary(out_dir)


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Figure 2i: the CD-1 FoE's 24 filters (in the whitened domain, and composed with the whitening)."""
    from scorematch.energies.layers import compose_kernels
    from scorematch_paper.experiments.filter_grid import save_filter_grid

    out_dir = Path(out_dir)
    foe = load(out_dir / MODEL_NAME, expect=FieldOfExperts)
    info = json.loads((out_dir / MODEL_NAME.replace(".safetensors", ".json")).read_text())
    ws = info["settings"]["whitening"]
    with torch.no_grad():
        filters = foe.filters  # (24, 5, 5)
        order = torch.argsort(foe.alpha, descending=True)
        labels = [f"a={foe.alpha[i]:.2g}" for i in order]
        kernel = laplacian_whitening_kernel(ws["size"], sigma=ws["sigma"]).reshape(1, 1, ws["size"], ws["size"])
        composed = compose_kernels(kernel, foe.filter_layer.weight)[:, 0]  # (24, 9, 9): filters on raw images
    return [
        save_filter_grid(filters[order], out_dir / "fig2i_cd_foe_filters.png", ncols=8, labels=labels,
                         title="CD-1 FoE 5x5x24 filters (whitened domain), sorted by alpha"),
        save_filter_grid(composed[order], out_dir / "fig2i_cd_foe_filters_raw.png", ncols=8,
                         title="CD-1 FoE filters composed with the Laplacian whitening (raw-image domain)"),
    ]


def summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Headline numbers: training time, final HMC step size and acceptance, alpha range."""
    out_dir = Path(out_dir)
    info = json.loads((out_dir / MODEL_NAME.replace(".safetensors", ".json")).read_text())
    foe = load(out_dir / MODEL_NAME, expect=FieldOfExperts)
    alpha = foe.alpha.detach()
    return {
        "model": str(out_dir / MODEL_NAME),
        "train_seconds": info["train_seconds"],
        "steps": info["settings"]["steps"],
        "final_step_size": info["final_step_size"],
        "final_acceptance": info["final_acceptance"],
        "alpha_min": float(alpha.min()),
        "alpha_max": float(alpha.max()),
    }
