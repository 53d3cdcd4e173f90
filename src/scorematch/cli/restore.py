"""``scorematch denoise`` and ``scorematch superres``: MAP restoration of one image with a learned prior."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from ..datasets.images import ImageFileError, read_image, write_image
from ..devices import add_device_argument, resolve_device
from ..validation import parse_sigma
from ..energies.base import Energy
from ..serialization import load
from ..tasks import BOUNDARIES, DEFAULT_BOUNDARY

__all__ = ["add_parser", "parse_sigma", "default_model_path", "read_input", "recommended_weight"]

DENOISE_EXAMPLES = """examples:
  scorematch denoise noisy.npy -o clean.png --sigma 5/256
  scorematch denoise noisy.png -o clean.npy --sigma 0.0195 --reference original.png
  scorematch denoise noisy.png -o clean.png --sigma 15/256 --model my_foe.safetensors --method paper
  scorematch denoise noisy.png -o clean.png --sigma 5/256 --boundary valid
"""

SUPERRES_EXAMPLES = """examples:
  scorematch superres small.png -o big.png
  scorematch superres small.png -o big.png --reference original.png --method paper
"""


def default_model_path() -> Path:
    """The FoE bundled with the package (``scorematch/pretrained/foe_5x5x24.safetensors``)."""
    return Path(__file__).resolve().parent.parent / "pretrained" / "foe_5x5x24.safetensors"


def read_input(path: str | Path, *, allow_out_of_range: bool = False) -> torch.Tensor:
    """An input image as a float64 (1, 1, H, W) tensor; ``.npy`` floats may leave [0, 1] if allowed (noisy)."""
    path = Path(path)
    if path.suffix.lower() == ".npy" and allow_out_of_range:
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ImageFileError(f"{path}: not a readable .npy array ({exc})") from None
        if arr.ndim != 2 or arr.size == 0 or arr.dtype.kind != "f":
            raise ImageFileError(f"{path}: expected a non-empty 2-D float array, got {arr.dtype} {arr.shape}")
        if not np.isfinite(arr).all():
            raise ImageFileError(f"{path}: the image contains NaN or inf values")
        img = torch.from_numpy(arr.astype(np.float64))
    else:
        img = read_image(path, dtype=torch.float64)
    return img.reshape(1, 1, *img.shape)


def _model_path(path: str | None) -> Path:
    if not path:
        p = default_model_path()
        if not p.is_file():
            raise FileNotFoundError(f"the bundled model is missing ({p}); pass --model")
        return p
    p = Path(path)
    if p.is_file():
        return p
    from ..pretrained import resolve

    return resolve(path)


def _load_model(path: str | None) -> Energy:
    p = _model_path(path)
    energy = load(p)
    if not hasattr(energy, "kernel_size"):
        raise ValueError(f"{p} holds a {type(energy).__name__}; an image prior (ImageFoE/FieldOfExperts) is needed")
    for q in energy.parameters():
        q.requires_grad_(False)
    return energy.double()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="output image (.png/.tif/... 8/16-bit, or .npy float)")
    p.add_argument("--model", help="prior model file (default: the bundled RSM FoE 5x5x24)")
    p.add_argument("--reference", help="clean image: print the PSNR (dB) as JSON")
    p.add_argument("--method", choices=("lbfgs", "paper"), default="lbfgs",
                   help="solver: L-BFGS (default) or the paper's annealed gradient steps")
    p.add_argument("--iters", type=int, help="iterations (default: 150 L-BFGS / 300 paper for denoise; 200 for superres)")
    p.add_argument("--tile", type=int, help="evaluate the prior in tiles of this many pixels (large images)")
    p.add_argument("--boundary", choices=BOUNDARIES, default=DEFAULT_BOUNDARY,
                   help=f"how the prior treats the image border (default: {DEFAULT_BOUNDARY}; 'valid' constrains "
                        "border pixels less)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    add_device_argument(p)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("denoise", help="remove Gaussian noise from an image (MAP with a learned FoE prior)",
                       description="MAP denoising (Kingma & LeCun 2010, eq. 10) with a Field-of-Experts prior.",
                       epilog=DENOISE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("noisy", help="noisy image: PNG/TIFF/... or a float .npy array (values may leave [0, 1])")
    p.add_argument("--sigma", required=True, type=str, help="noise std on the [0, 1] scale: 5/256 or 0.0195")
    p.add_argument("--weight", type=float, help="prior weight (default: the model's recommended weight, else 1)")
    _common(p)
    p.set_defaults(func=run_denoise)

    q = sub.add_parser("superres", help="2x super-resolution with a learned FoE prior",
                       description="Upscale by 2: the most probable image under the prior whose 2x2 block "
                       "averages equal the input (Kingma & LeCun 2010, sec. 4.3).",
                       epilog=SUPERRES_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("lowres", help="low-resolution image: PNG/TIFF/... or .npy")
    _common(q)
    q.set_defaults(func=run_superres)


def _report(out: torch.Tensor, reference: str | None, extra: dict) -> None:
    if reference is None:
        return
    from ..tasks import psnr

    ref = read_input(reference)
    if ref.shape != out.shape:
        raise ValueError(f"--reference has shape {tuple(ref.shape[-2:])}, the output {tuple(out.shape[-2:])}")
    print(json.dumps({**extra, "psnr": round(psnr(out.clamp(0, 1), ref), 4)}))


def run_denoise(args: argparse.Namespace) -> int:
    from ..tasks import denoise, psnr

    sigma = parse_sigma(args.sigma)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    y = read_input(args.noisy, allow_out_of_range=True)
    energy = _load_model(args.model).to(device)
    weight = args.weight if args.weight is not None else recommended_weight(args.model, sigma)
    x = denoise(y.to(device), energy, sigma=sigma, method=args.method, n_iter=args.iters, weight=weight,
                tile=args.tile, boundary=args.boundary).cpu()
    write_image(args.output, x[0, 0])
    extra = {"sigma": sigma, "weight": weight}
    if args.reference is not None:
        ref = read_input(args.reference)
        if ref.shape == y.shape:
            extra["psnr_input"] = round(psnr(y, ref), 4)
    _report(x, args.reference, extra)
    return 0


def recommended_weight(model: str | None, sigma: float) -> float:
    """The prior weight stored in a model file for the nearest noise level (``prior_weights``), else 1."""
    from ..serialization import load_info

    extra = load_info(_model_path(model)).get("extra", {})
    table = extra.get("prior_weights")
    if isinstance(table, dict) and table:
        levels = {float(k) / 256: float(v) for k, v in table.items()}
        nearest = min(levels, key=lambda s: abs(math.log(s / sigma)))
        return levels[nearest]
    w = extra.get("prior_weight")
    return float(w) if isinstance(w, (int, float)) else 1.0


def run_superres(args: argparse.Namespace) -> int:
    from ..tasks import superresolve

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    y = read_input(args.lowres)
    energy = _load_model(args.model).to(device)
    x = superresolve(y.to(device), energy, method=args.method, n_iter=args.iters, tile=args.tile,
                     boundary=args.boundary).cpu()
    write_image(args.output, x[0, 0])
    _report(x, args.reference, {"factor": 2})
    return 0
