"""``scorematch denoise``, ``superres``, ``deblur`` and ``inpaint``: MAP restoration of one image with a learned
prior (one solver, :func:`scorematch.tasks.restore`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..io.images import BIT_DEPTHS, ImageFileError, ImageInfo, output_bits, read_image_info, write_image
from ..devices import add_device_argument, resolve_device, reuse_freed_memory
from ..validation import check_number, parse_sigma
from ..energies.base import Energy
from ..pretrained import (DEFAULT_COLOUR_DENOISER, DEFAULT_COLOUR_PRIOR, default_prior, recommended_level,
                          recommended_weight, resolve)
from ..serialization import load
from ..tasks import BLUR_BOUNDARIES, BOUNDARIES, DEFAULT_BOUNDARY
from ..tasks._objective import channels_of, check_channels
from ..tasks.superres import PAPER_STEP_SCALE

__all__ = ["add_parser", "parse_sigma", "read_input", "read_kernel", "read_mask", "NOISY_RANGE"]

#: Each restoration command and the argument that names its input image.
RESTORE_COMMANDS = {"denoise": "noisy", "superres": "lowres", "deblur": "blurry", "inpaint": "image"}
#: Float input values accepted around [0, 1] (noise leaves it); beyond, the file is on another scale (0..255).
NOISY_RANGE = (-1.0, 2.0)

DENOISE_EXAMPLES = """examples:
  scorematch denoise noisy.npy -o clean.png --sigma 5/256
  scorematch denoise noisy.png -o clean.npy --sigma 0.0195 --reference original.png
  scorematch denoise noisy.png -o clean.png --sigma 15/256 --model my_foe.safetensors --method paper
  scorematch denoise noisy.png -o clean.png --sigma 5/256 --boundary valid
  scorematch denoise noisy255.npy -o clean255.npy --sigma 5/256 --scale 255   # a float array on 0..255
  scorematch denoise noisy.png -o clean.tif --sigma 5/256 --bits 16
  scorematch denoise photo.png -o clean.png --sigma 15/256   # colour: deep_energy on the opponent channels
  scorematch denoise photo.png -o clean.png --sigma 15/256 --model foe_colour_5x5x24   # the colour FoE
"""

SUPERRES_EXAMPLES = """examples:
  scorematch superres small.png -o big.png
  scorematch superres small.png -o big.png --factor 4
  scorematch superres small.png -o big.png --reference original.png --method paper
"""

DEBLUR_EXAMPLES = """examples:
  scorematch deblur blurry.png -o sharp.png --kernel kernel.npy --sigma 0.01
  scorematch deblur photo.png -o sharp.png --kernel kernel.png --sigma 2/256 --blur-boundary valid
"""

INPAINT_EXAMPLES = """examples:
  scorematch inpaint damaged.png --mask known.png -o filled.png
  scorematch inpaint noisy.png --mask known.npy -o filled.png --sigma 5/256
"""


def read_input(path: str | Path, *, scale: float = 1.0) -> tuple[torch.Tensor, ImageInfo]:
    """An input image as a float64 (1, C, H, W) tensor (C = 3 for colour, else 1), and what the file held.

    Float data (``.npy``, float TIFF) is divided by ``scale`` and may then leave [0, 1] (noise does) but not
    :data:`NOISY_RANGE`: values beyond it are on another scale (0..255, 0..65535), an error that names the fix.
    """
    img, info = read_image_info(path, dtype=torch.float64, scale=scale, check_range=False, colour=True)
    lo, hi = img.min().item(), img.max().item()
    if lo < NOISY_RANGE[0] or hi > NOISY_RANGE[1]:
        s = 255 if max(hi, -lo) <= 2 * 255 else 65535
        raise ImageFileError(
            f"{path}: values span {lo:.5g}..{hi:.5g}, far outside [0, 1] (noise may take them to "
            f"{NOISY_RANGE[0]:g}..{NOISY_RANGE[1]:g}, not beyond): divide by {s}, or pass --scale {s}"
        )
    return img.reshape(1, -1, *img.shape[-2:]), info


def _read(path: str, args: argparse.Namespace) -> tuple[torch.Tensor, ImageInfo]:
    """:func:`read_input` with ``--scale``."""
    return read_input(path, scale=args.scale)


def _note_grey_on_colour(args: argparse.Namespace, energy: Energy, channels: int) -> None:
    """One note on stderr when a grey prior of ``--model`` restores a colour image (each channel alone; the default
    colour denoiser's opponent channels are no surprise: ``--help`` says so)."""
    if channels == 3 and channels_of(energy) == 1 and args.model is not None:
        path = getattr(args, RESTORE_COMMANDS[args.command])
        how = ("its luminance and two opponent-colour channels, each at its own noise level"
               if args.command == "denoise" else "each of its channels")
        print(f"scorematch {args.command}: note: {path} is a colour image; the grey prior restores {how} (the output "
              "keeps the colour)", file=sys.stderr)


def _output_bits(args: argparse.Namespace, info: ImageInfo) -> int | None:
    """``--bits``, else the input's depth where the output format holds it (16-bit PNG in, 16-bit PNG out)."""
    follow = info.bits if info.bits in BIT_DEPTHS.get(Path(args.output).suffix.lower(), ()) else None
    return output_bits(args.output, args.bits if args.bits is not None else follow)


def _prepare(args: argparse.Namespace) -> torch.device:
    """The checks and settings both commands share; the device to run on."""
    check_number("--scale", args.scale, minimum=0, strict=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    reuse_freed_memory()
    return resolve_device(args.device)


def _model_path(path: str | None, channels: int, command: str) -> Path:
    """The model file of ``--model`` (a file or a bundled name), else the bundled default of ``command`` for
    ``channels``."""
    return resolve(path or default_prior(channels, command))


def _load_model(path: str | None, args: argparse.Namespace, device: torch.device, channels: int = 1) -> Energy:
    """The prior for images of ``channels`` channels (``--model``, else the bundled default for them), checked
    against the input's channels, frozen, on ``device`` in float32 (float64 with ``--float64``)."""
    p = _model_path(path, channels, args.command)
    energy = load(p)
    if not hasattr(energy, "kernel_size"):
        raise ValueError(f"{p} holds a {type(energy).__name__}; an image prior (ImageFoE/FieldOfExperts) is needed")
    try:
        check_channels(energy, channels)
    except ValueError as e:
        raise ValueError(f"--model {p.stem}: {e}") from None
    _note_grey_on_colour(args, energy, channels)
    for q in energy.parameters():
        q.requires_grad_(False)
    return energy.to(device=device, dtype=_dtype(args))


def _map_prior(energy: Energy, model: Path, task: str) -> tuple[Energy, float | None]:
    """The MAP prior of ``task`` (``deblur``, ``inpaint``, ``superres_<f>x``): a noise-conditional model's field
    ``E_s`` at the level its file recommends for the task (:func:`~scorematch.pretrained.recommended_level`), else
    the energy itself; and that level (None when none applies)."""
    from ..tasks import is_noise_conditional

    level = recommended_level(model, task) if is_noise_conditional(energy) else None
    return (energy if level is None else energy.at(level)), level


def _dtype(args: argparse.Namespace) -> torch.dtype:
    return torch.float64 if args.float64 else torch.float32


def _common(p: argparse.ArgumentParser, *, denoising: bool = False) -> None:
    p.add_argument("-o", "--output", required=True, help="output image (.png/.tif/... 8/16-bit, or .npy float)")
    p.add_argument("--bits", type=int, choices=(8, 16),
                   help="bits per pixel of an image output (default: the input's, where the format holds it "
                        "(.png, .tif, .pgm hold 16); else 16 for .tif, 8 for the others)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="float images (.npy, float TIFF) in and out are on the 0..SCALE scale, e.g. 255 (default 1); "
                        "without it float values beyond -1..2 are refused. Integer images are unaffected, and "
                        "--sigma stays on the [0, 1] scale")
    p.add_argument("--model", help="prior model file or bundled name (default: the bundled RSM FoE 5x5x24 for grey "
                                   f"input; for colour input the colour RSM FoE {DEFAULT_COLOUR_PRIOR}, and for "
                                   f"denoising {DEFAULT_COLOUR_DENOISER} on the luminance and opponent channels)")
    p.add_argument("--reference", help="clean image: print the PSNR (dB) as JSON")
    if denoising:
        p.add_argument("--method", choices=("auto", "lbfgs", "paper", "tweedie"), default="auto",
                       help="solver: auto (default: for a noise-conditional model such as deep_energy, L-BFGS MAP "
                            "with its field at the level and weight its file recommends for --sigma, else Tweedie; "
                            "else lbfgs), L-BFGS MAP, the paper's annealed gradient steps, or Tweedie's posterior "
                            "mean (one gradient of the model at --sigma)")
    else:
        p.add_argument("--method", choices=("lbfgs", "paper"), default="lbfgs",
                       help="solver: L-BFGS (default) or the paper's annealed gradient steps")
    p.add_argument("--iters", type=int, help="iterations (default: 60 L-BFGS / 300 paper for denoise, 80 / 200 "
                   "for superres, 150 for deblur and noisy inpaint, 500 for exact inpaint)")
    p.add_argument("--tile", type=int, help="evaluate the prior in tiles of this many pixels (large images)")
    p.add_argument("--boundary", choices=BOUNDARIES, default=DEFAULT_BOUNDARY,
                   help=f"how the prior treats the image border (default: {DEFAULT_BOUNDARY}; 'valid' constrains "
                        "border pixels less)")
    p.add_argument("--float64", action="store_true",
                   help="compute in float64 (default float32, faster; the two are compared on the tuning crops in "
                        "docs/results/benchmarks/float32_vs_float64.json)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    add_device_argument(p)


def _command(sub: argparse._SubParsersAction, name: str, summary: str, description: str,
             examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=description, epilog=examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "denoise", "remove Gaussian noise from an image (MAP with a learned FoE prior)",
                 "MAP denoising (Kingma & LeCun 2010, eq. 10) with a learned prior: the bundled FoE by default, "
                 f"and for a colour image {DEFAULT_COLOUR_DENOISER} on its luminance and two opponent-colour "
                 "channels, each at its own noise level (as any grey prior on a colour image); a noise-conditional "
                 "model such as deep_energy serves as its field with the level, weight and iterations its file "
                 "recommends.",
                 DENOISE_EXAMPLES)
    p.add_argument("noisy", help="noisy image: PNG/TIFF/... or a float .npy array (values may leave [0, 1] as noise "
                                 "does, within -1..2; see --scale)")
    p.add_argument("--sigma", required=True, type=str, help="noise std on the [0, 1] scale: 5/256 or 0.0195")
    p.add_argument("--weight", type=float, help="prior weight (default: the model's recommended weight, else 1)")
    _common(p, denoising=True)
    p.set_defaults(func=run_denoise)

    q = _command(sub, "superres", "super-resolution by 2, 3 or 4 with a learned FoE prior",
                 "Upscale by --factor: the most probable image under the prior whose factor x factor block averages "
                 "equal the input (Kingma & LeCun 2010, sec. 4.3).", SUPERRES_EXAMPLES)
    q.add_argument("lowres", help="low-resolution image: PNG/TIFF/... or .npy")
    q.add_argument("--factor", type=int, choices=(2, 3, 4), default=2, help="upscale factor (default 2)")
    _common(q)
    q.set_defaults(func=run_superres)

    d = _command(sub, "deblur", "remove a known blur (and Gaussian noise) with a learned FoE prior",
                 "MAP deblurring: the most probable image x under the prior given y = k * x + n, k a known kernel "
                 "(convolution, centre pixel (h // 2, w // 2) at the origin).", DEBLUR_EXAMPLES)
    d.add_argument("blurry", help="blurred image: PNG/TIFF/... or .npy")
    d.add_argument("--kernel", required=True, help="blur kernel: .npy array or a grey image, normalized to sum 1")
    d.add_argument("--sigma", required=True, type=str, help="noise std on the [0, 1] scale: 0.01 or 2/256")
    d.add_argument("--blur-boundary", choices=BLUR_BOUNDARIES, default="periodic",
                   help="periodic (default: the image wraps around) or valid (the blurred image is smaller than "
                        "the sharp one by the kernel size minus one: a real photo)")
    d.add_argument("--weight", type=float, help="prior weight (default: the model's recommended denoising weight "
                                                "at --sigma)")
    _common(d)
    d.set_defaults(func=run_deblur)

    i = _command(sub, "inpaint", "fill in missing pixels with a learned FoE prior",
                 "MAP inpainting: the known pixels (non-zero in --mask) are kept exactly, or, with --sigma, treated "
                 "as noisy; the others are filled in by the prior.", INPAINT_EXAMPLES)
    i.add_argument("image", help="image with missing pixels (their values are ignored): PNG/TIFF/... or .npy")
    i.add_argument("--mask", required=True, help="mask of the image's size: non-zero = known pixel (.npy or image)")
    i.add_argument("--sigma", type=str, help="noise std of the known pixels (default: none, kept exactly)")
    i.add_argument("--weight", type=float, help="prior weight with --sigma (default: the model's recommended one)")
    _common(i)
    i.set_defaults(func=run_inpaint)


def _reference(args: argparse.Namespace, shape: tuple[int, int], channels: int) -> torch.Tensor | None:
    """The ``--reference`` image, checked against the output's (H, W) and channels before any work is done."""
    if args.reference is None:
        return None
    ref, _ = _read(args.reference, args)
    if tuple(ref.shape[-2:]) != tuple(shape):
        raise ValueError(f"--reference has shape {tuple(ref.shape[-2:])}, the output {tuple(shape)}")
    if ref.shape[1] != channels:
        kinds = {1: "grey", 3: "colour"}
        raise ValueError(f"--reference is a {kinds[ref.shape[1]]} image, the output {kinds[channels]}")
    return ref


def _report(out: torch.Tensor, ref: torch.Tensor | None, extra: dict) -> None:
    if ref is None:
        return
    from ..tasks import psnr

    print(json.dumps({**extra, "psnr": round(psnr(out.clamp(0, 1), ref), 4)}))


def run_denoise(args: argparse.Namespace) -> int:
    from ..tasks import psnr
    from ..tasks.recommended import recommended_denoise

    sigma = parse_sigma(args.sigma)
    device = _prepare(args)
    y, info = _read(args.noisy, args)
    ref = _reference(args, y.shape[-2:], y.shape[1])
    bits = _output_bits(args, info)
    energy = _load_model(args.model, args, device, y.shape[1])
    model = _model_path(args.model, y.shape[1], args.command)
    x, settings = recommended_denoise(y.to(device, _dtype(args)), energy, model, sigma=sigma, method=args.method,
                                      weight=args.weight, n_iter=args.iters, tile=args.tile, boundary=args.boundary,
                                      progress=sys.stderr.isatty())
    x = x.cpu()
    write_image(args.output, x[0], bits=bits, scale=args.scale)
    extra = {"model": model.stem, "sigma": sigma, **settings}
    if ref is not None:
        extra["psnr_input"] = round(psnr(y, ref), 4)
    _report(x, ref, extra)
    return 0


def run_superres(args: argparse.Namespace) -> int:
    from ..tasks import superresolve

    device = _prepare(args)
    y, info = _read(args.lowres, args)
    ref = _reference(args, (args.factor * y.shape[-2], args.factor * y.shape[-1]), y.shape[1])
    bits = _output_bits(args, info)
    model = _model_path(args.model, y.shape[1], args.command)
    energy, level = _map_prior(_load_model(args.model, args, device, y.shape[1]), model, f"superres_{args.factor}x")
    x = superresolve(y.to(device, _dtype(args)), energy, factor=args.factor, method=args.method,
                     n_iter=args.iters, tile=args.tile, boundary=args.boundary,
                     progress=sys.stderr.isatty()).cpu()
    write_image(args.output, x[0], bits=bits, scale=args.scale)
    _report(x, ref, {"model": model.stem, "factor": args.factor, **({} if level is None else {"level": level})})
    return 0


def read_kernel(path: str) -> torch.Tensor:
    """A blur kernel (.npy or grey image) as a float64 (kh, kw) tensor normalized to sum 1."""
    k, _ = read_image_info(path, dtype=torch.float64, check_range=False)
    if not torch.isfinite(k).all():
        raise ValueError(f"--kernel {path} contains NaN or inf values")
    if not k.sum() > 0:
        raise ValueError(f"--kernel {path} sums to {float(k.sum()):.4g}; a blur kernel needs a positive sum")
    return k / k.sum()


def read_mask(path: str, shape: tuple[int, int]) -> torch.Tensor:
    """A mask of the image's (H, W) size (non-zero = known pixel) as a float64 0/1 tensor."""
    m, _ = read_image_info(path, dtype=torch.float64, check_range=False)
    if tuple(m.shape) != tuple(shape):
        raise ValueError(f"--mask {path} is {tuple(m.shape)}, the image {tuple(shape)}: give a mask of the image's size")
    if not torch.isfinite(m).all():
        raise ValueError(f"--mask {path} contains NaN or inf values")
    if not (m != 0).any():
        raise ValueError(f"--mask {path} marks no pixel as known (all zero)")
    return (m != 0).double()


def _solve(args: argparse.Namespace, y: torch.Tensor, info: ImageInfo, op, sigma: float, device, task: str) -> int:
    """Run :func:`~scorematch.tasks.restore` for ``op`` and write the output (``task``: deblur or inpaint)."""
    from ..tasks import psnr, restore

    h, w = op.image_size(*y.shape[-2:])
    ref = _reference(args, (h, w), y.shape[1])
    bits = _output_bits(args, info)
    model = _model_path(args.model, y.shape[1], args.command)
    energy, level = _map_prior(_load_model(args.model, args, device, y.shape[1]), model, task)
    weight = 1.0 if sigma == 0 else (args.weight if args.weight is not None
                                     else recommended_weight(model, sigma))
    x = restore(y.to(device, _dtype(args)), op, energy, sigma=sigma, weight=weight, method=args.method,
                n_iter=args.iters, tile=args.tile, boundary=args.boundary,
                step_scale=PAPER_STEP_SCALE if sigma == 0 and args.method == "paper" else None,
                progress=sys.stderr.isatty()).cpu()
    write_image(args.output, x[0], bits=bits, scale=args.scale)
    extra = {"model": model.stem, "sigma": sigma, "weight": weight, **({} if level is None else {"level": level})}
    if ref is not None and tuple(y.shape[-2:]) == (h, w):
        extra["psnr_input"] = round(psnr(op.start(y), ref), 4)
    _report(x, ref, extra)
    return 0


def run_deblur(args: argparse.Namespace) -> int:
    from ..tasks import Blur

    sigma = parse_sigma(args.sigma)
    device = _prepare(args)
    y, info = _read(args.blurry, args)
    op = Blur(read_kernel(args.kernel).to(device), boundary=args.blur_boundary)
    return _solve(args, y, info, op, sigma, device, "deblur")


def run_inpaint(args: argparse.Namespace) -> int:
    from ..tasks import Inpaint

    sigma = 0.0 if args.sigma is None else parse_sigma(args.sigma)
    device = _prepare(args)
    y, info = _read(args.image, args)
    op = Inpaint(read_mask(args.mask, tuple(y.shape[-2:])).to(device))
    return _solve(args, y, info, op, sigma, device, "inpaint")
