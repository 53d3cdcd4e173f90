"""``scorematch denoise``, ``superres``, ``deblur`` and ``inpaint``: restore image files with a learned prior by
calling the library's :func:`scorematch.denoise` and :func:`scorematch.restore` (the same pixels as a Python call)."""

from __future__ import annotations

import argparse
import copy
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..devices import add_device_argument, resolve_device, reuse_freed_memory
import numpy as np

from ..io.images import ALPHA_SUFFIXES, BIT_DEPTHS, ImageFileError, ImageInfo, output_bits, read_image_info, write_image
from ..metrics import psnr
from ..prior import BOUNDARIES, DEFAULT_PRIORS, ImagePrior, default_prior, load_prior
from ..restoration import denoise, estimate_noise, restore
from ..tasks import MAP, Blur, Downsample, Inpaint, PaperSteps, Tweedie
from ..tasks.operators import BLUR_BOUNDARIES, LinearOperator
from ..tasks.solvers import resolve
from ..validation import check_number, parse_sigma
from .batch import expand_inputs, plan_outputs, run_batch

__all__ = ["add_parser", "parse_sigma", "read_input", "read_kernel", "read_mask", "NOISY_RANGE"]

#: Each restoration command and the argument that names its input image.
RESTORE_COMMANDS = {"denoise": "noisy", "superres": "lowres", "deblur": "blurry", "inpaint": "image"}
#: Float input values accepted around [0, 1] (noise leaves it); beyond, the file is on another scale (0..255).
NOISY_RANGE = (-1.0, 2.0)

DENOISE_EXAMPLES = """examples:
  scorematch denoise photo.png -o clean.png                      # the noise level estimated (printed)
  scorematch denoise noisy.png -o clean.png --sigma 15/255 --reference original.png
  scorematch denoise noisy.npy -o clean.npy --sigma 0.0195 --method map --weight 0.5
  scorematch denoise noisy.png -o clean.png --sigma 5/256 --model foe_5x5x24 --method paper
  scorematch denoise noisy255.npy -o clean255.npy --sigma 5/256 --scale 255   # a float array on 0..255
  scorematch denoise noisy.png -o clean.tif --bits 16
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


def _note(args: argparse.Namespace, text: str) -> None:
    """One line on stderr about what the command did that the user may not expect."""
    print(f"scorematch {args.command}: note: {text}", file=sys.stderr)


def _output_bits(args: argparse.Namespace, info: ImageInfo) -> int | None:
    """``--bits``, else the input's depth where the output format holds it (16-bit PNG in, 16-bit PNG out)."""
    follow = info.bits if info.bits in BIT_DEPTHS.get(Path(args.output).suffix.lower(), ()) else None
    return output_bits(args.output, args.bits if args.bits is not None else follow)


def _prepare(args: argparse.Namespace) -> torch.device:
    """The checks and settings every command shares; the device to run on."""
    check_number("--scale", args.scale, minimum=0, strict=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    reuse_freed_memory()
    return resolve_device(args.device)


def _prior(args: argparse.Namespace, channels: int) -> ImagePrior:
    """``--model`` (a bundled name or a file), else the default prior for ``channels``, with ``--boundary`` and
    ``--tile``, checked against the input's channels."""
    prior = load_prior(args.model) if args.model else default_prior(channels)
    changes = {k: v for k, v in (("boundary", args.boundary), ("tile", args.tile)) if v is not None}
    prior = prior.with_settings(**changes) if changes else prior
    try:
        prior.check(channels)
    except ValueError as e:
        raise ValueError(f"--model {prior.name}: {e}") from None
    if channels == 3 and prior.in_channels == 1 and args.model is not None:
        how = ("its luminance and two opponent-colour channels, each at its own noise level"
               if args.command == "denoise" else "each of its channels")
        _note(args, f"{getattr(args, RESTORE_COMMANDS[args.command])} is a colour image; the grey prior restores "
                    f"{how} (the output keeps the colour)")
    return prior


def _solver(args: argparse.Namespace) -> MAP | PaperSteps | Tweedie | None:
    """The solver the flags ask for (None: the prior's presets decide)."""
    method = args.method
    if method == "tweedie":
        if args.weight is not None or args.iters is not None:
            raise ValueError("--method tweedie takes no --weight or --iters (one gradient evaluation)")
        return Tweedie()
    if method == "paper":
        return PaperSteps(weight=args.weight, iterations=args.iters)
    if method == "map" or args.weight is not None or args.iters is not None:
        return MAP(weight=args.weight, iterations=args.iters)
    return None


def _reference(args: argparse.Namespace, shape: tuple[int, int], channels: int) -> torch.Tensor | None:
    """The ``--reference`` image, checked against the output's (H, W) and channels before any work is done."""
    if args.reference is None:
        return None
    ref, _ = read_input(args.reference, scale=args.scale)
    if tuple(ref.shape[-2:]) != tuple(shape):
        raise ValueError(f"--reference has shape {tuple(ref.shape[-2:])}, the output {tuple(shape)}")
    if ref.shape[1] != channels:
        kinds = {1: "grey", 3: "colour"}
        raise ValueError(f"--reference is a {kinds[ref.shape[1]]} image, the output {kinds[channels]}")
    return ref


def _written(x: torch.Tensor, bits: int | None) -> torch.Tensor:
    """The values a file of ``bits`` bits holds for ``x`` (clipped, quantized; ``None``: float, clipped)."""
    x = x.clamp(0, 1)
    return x if bits is None else torch.round(x * (2**bits - 1)) / (2**bits - 1)


def _finish(args: argparse.Namespace, x: torch.Tensor, info: ImageInfo, ref: torch.Tensor | None, bits: int | None,
            report: dict[str, Any], t0: float, y_start: torch.Tensor | None = None) -> int:
    """Write the output (with the input's alpha channel), print the PSNR of what was written (with
    ``--reference``) and the time taken."""
    write_image(args.output, x[0], bits=bits, scale=args.scale, alpha=_alpha(args, info, tuple(x.shape[-2:])))
    if ref is not None:
        report["psnr"] = round(psnr(_written(x.double(), bits), ref), 4)
        if y_start is not None:
            report["psnr_input"] = round(psnr(y_start, ref), 4)
        print(json.dumps(report))
    if _lines(args):
        print(f"scorematch {args.command}: wrote {args.output} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


def _alpha(args: argparse.Namespace, info: ImageInfo, size: tuple[int, int]) -> np.ndarray | None:
    """The input's alpha channel for an output of (H, W) ``size``: as it is, upscaled by a super-resolution's factor
    (each value repeated), or extended by its edge values (valid deblurring); None, said in a note, when the output
    format cannot hold one."""
    if info.alpha is None:
        return None
    if Path(args.output).suffix.lower() not in ALPHA_SUFFIXES:
        _note(args, f"the input's alpha channel is dropped: {Path(args.output).suffix} cannot hold one (write "
                    f"{' or '.join(ALPHA_SUFFIXES[:2])} to keep it)")
        return None
    a = info.alpha
    if a.shape == size:
        return a
    if size[0] % a.shape[0] == 0 and size[0] // a.shape[0] == size[1] // a.shape[1]:
        f = size[0] // a.shape[0]
        return np.kron(a, np.ones((f, f)))
    dh, dw = size[0] - a.shape[0], size[1] - a.shape[1]
    return np.pad(a, ((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)), mode="edge")


def _started(args: argparse.Namespace, y: torch.Tensor, prior: ImagePrior) -> None:
    """The line that says the long work begins (when stages are reported as lines), after every check passed."""
    if _lines(args):
        kind = "colour" if y.shape[1] == 3 else "grey"
        path = getattr(args, RESTORE_COMMANDS[args.command])
        print(f"scorematch {args.command}: {path}: {y.shape[-1]}x{y.shape[-2]} {kind}, restoring with {prior.name}...",
              file=sys.stderr)


def _lines(args: argparse.Namespace) -> bool:
    """Whether a file's stages are reported as lines on stderr: one file, stderr not a terminal (a terminal gets
    progress bars; a batch reports per file)."""
    return not sys.stderr.isatty() and not getattr(args, "batch", False)


def _load(args: argparse.Namespace, path: str) -> tuple[torch.Tensor, ImageInfo, torch.device, torch.dtype]:
    device = _prepare(args)
    y, info = read_input(path, scale=args.scale)
    if info.orientation != 1:
        _note(args, f"{path}: {info.orientation_note}; the output is upright")
    return y, info, device, torch.float64 if args.float64 else torch.float32


def _sigma(args: argparse.Namespace, y: torch.Tensor, prior: ImagePrior) -> float:
    """``--sigma``, or for ``auto`` the estimate with the prior (:func:`scorematch.estimate_noise`), said on stderr."""
    if str(args.sigma).strip().lower() != "auto":
        return parse_sigma(args.sigma)
    sigma = float(estimate_noise(y, prior).max())
    _note(args, f"estimated noise std {sigma:.4g} ({sigma * 255:.3g}/255); give --sigma to override")
    return sigma


def _run(args: argparse.Namespace) -> int:
    """Restore the command's inputs: one file into ``--output``, or many (files, folders, globs) into a folder,
    finished outputs skipped (unless ``--force``), failures reported on one line each (exit code 1)."""
    name = RESTORE_COMMANDS[args.command]
    check_number("--jobs", args.jobs, minimum=1)
    inputs = expand_inputs(getattr(args, name))
    if len(inputs) > 1 and args.reference is not None:
        raise ValueError("--reference compares one output with its clean image: give one input file")
    pairs = plan_outputs(inputs, args.output, suffix=args.suffix)
    single = len(pairs) == 1 and not Path(args.output).is_dir()
    if single:
        return _one(args, *pairs[0])
    args.batch = True  # the batch reports each file; the file's own lines are left out
    result = run_batch(pairs, functools.partial(_one, args), force=args.force, jobs=args.jobs)
    return result.exit_code


def _one(args: argparse.Namespace, src: Path, dst: Path) -> int:
    """The command on one input file ``src``, written to ``dst``."""
    args = copy.copy(args)
    setattr(args, RESTORE_COMMANDS[args.command], str(src))
    args.output = str(dst)
    return FILE_COMMANDS[args.command](args)


def run_denoise(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    y, info, device, dtype = _load(args, args.noisy)
    ref = _reference(args, y.shape[-2:], y.shape[1])
    bits = _output_bits(args, info)
    prior = _prior(args, y.shape[1])
    solver = _solver(args)
    y = y.to(device, dtype)
    sigma = _sigma(args, y, prior)
    report: dict[str, Any] = {"model": prior.name, "sigma": sigma}
    if y.shape[1] == 3 and prior.in_channels == 1:
        report["colour"] = "opponent"
    else:
        report["solver"] = _describe(resolve(prior, "denoise", sigma, solver))
    prior.check_level(sigma)
    _started(args, y, prior)
    x = denoise(y, sigma, prior, solver=solver, progress=sys.stderr.isatty()).cpu()
    return _finish(args, x, info, ref, bits, report, t0, y_start=y.cpu().double())


def run_superres(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    y, info, device, dtype = _load(args, args.lowres)
    ref = _reference(args, (args.factor * y.shape[-2], args.factor * y.shape[-1]), y.shape[1])
    bits = _output_bits(args, info)
    prior = _prior(args, y.shape[1])
    op = Downsample(args.factor)
    solver = _solver(args)
    report = {"model": prior.name, "factor": args.factor, "solver": _describe(resolve(prior, op.task, 0.0, solver))}
    _started(args, y, prior)
    x = restore(y.to(device, dtype), op, prior, sigma=0.0, solver=solver, progress=sys.stderr.isatty()).cpu()
    return _finish(args, x, info, ref, bits, report, t0)


def _restore_file(args: argparse.Namespace, y: torch.Tensor, info: ImageInfo, op: LinearOperator, sigma: float,
                  device: torch.device, dtype: torch.dtype, t0: float) -> int:
    """Deblurring or inpainting: :func:`scorematch.restore` with ``op`` and write the output."""
    h, w = op.image_size(*y.shape[-2:])
    ref = _reference(args, (h, w), y.shape[1])
    bits = _output_bits(args, info)
    prior = _prior(args, y.shape[1])
    solver = _solver(args)
    report = {"model": prior.name, "sigma": sigma, "solver": _describe(resolve(prior, op.task, sigma, solver))}
    _started(args, y, prior)
    x = restore(y.to(device, dtype), op, prior, sigma=sigma, solver=solver, progress=sys.stderr.isatty()).cpu()
    start = op.start(y) if tuple(y.shape[-2:]) == (h, w) else None
    return _finish(args, x, info, ref, bits, report, t0, y_start=start)


def run_deblur(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    sigma = parse_sigma(args.sigma)
    y, info, device, dtype = _load(args, args.blurry)
    op = Blur(read_kernel(args.kernel).to(device, dtype), boundary=args.blur_boundary)
    return _restore_file(args, y, info, op, sigma, device, dtype, t0)


def run_inpaint(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    sigma = 0.0 if args.sigma is None else parse_sigma(args.sigma)
    y, info, device, dtype = _load(args, args.image)
    op = Inpaint(read_mask(args.mask, tuple(y.shape[-2:])).to(device))
    return _restore_file(args, y, info, op, sigma, device, dtype, t0)


#: Each restoration command's work on one file.
FILE_COMMANDS = {"denoise": run_denoise, "superres": run_superres, "deblur": run_deblur, "inpaint": run_inpaint}


def _describe(solver: MAP | PaperSteps | Tweedie) -> dict[str, Any]:
    """What a solver runs, for the JSON report (its set fields)."""
    fields = {k: v for k, v in solver.to_dict().items() if v is not None and not isinstance(v, torch.Tensor)}
    return {"method": {MAP: "map", PaperSteps: "paper", Tweedie: "tweedie"}[type(solver)], **fields}


def _common(p: argparse.ArgumentParser, *, methods: tuple[str, ...]) -> None:
    p.add_argument("-o", "--output", required=True,
                   help="output image (.png/.tif/... 8/16-bit, or .npy float); with several inputs, or an existing "
                        "folder, the folder the outputs go to (each named after its input)")
    p.add_argument("--suffix", help="the outputs' format in a folder, e.g. .png (default: each input's)")
    p.add_argument("--force", action="store_true", help="redo outputs that exist (default: a rerun skips them)")
    p.add_argument("--jobs", type=int, default=1,
                   help="files restored in parallel by this many worker processes (default 1; under torchrun the "
                        "ranks share the files)")
    p.add_argument("--bits", type=int, choices=(8, 16),
                   help="bits per pixel of an image output (default: the input's, where the format holds it "
                        "(.png, .tif, .pgm hold 16); else 16 for .tif, 8 for the others)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="float images (.npy, float TIFF) in and out are on the 0..SCALE scale, e.g. 255 (default 1); "
                        "without it float values beyond -1..2 are refused. Integer images are unaffected, and "
                        "--sigma stays on the [0, 1] scale")
    p.add_argument("--model", help=f"prior: a bundled name (scorematch models) or a model file (default: "
                                   f"{DEFAULT_PRIORS[1]} for grey input, {DEFAULT_PRIORS[3]} for colour)")
    p.add_argument("--reference", help="clean image: print the PSNR (dB) of the written output as JSON")
    p.add_argument("--method", choices=methods, default="auto",
                   help="solver: auto (default: the prior's preset for the task and noise level), map (L-BFGS MAP), "
                        "paper (the paper's annealed gradient steps)"
                        + (", tweedie (a noise-conditional prior's posterior mean, one gradient)"
                           if "tweedie" in methods else ""))
    p.add_argument("--weight", type=float, help="prior weight of MAP (default: the prior's preset, else 1)")
    p.add_argument("--iters", type=int, help="iterations at most (default: the prior's preset, else the solver's)")
    p.add_argument("--tile", type=int, help="evaluate the prior in tiles of this many pixels a side (default: "
                                            "automatic for large images)")
    p.add_argument("--boundary", choices=BOUNDARIES,
                   help="how the prior meets the image border (default: the prior's: replicate for the window "
                        "fields (FoEs), symmetric for the U-Net; 'valid': a field's windows inside the image, a "
                        "network's own zero padding)")
    p.add_argument("--float64", action="store_true", help="compute in float64 (default float32, faster)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    add_device_argument(p)


def _command(sub: argparse._SubParsersAction, name: str, summary: str, description: str,
             examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=description, epilog=examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "denoise", "remove Gaussian noise from an image with a learned prior",
                 "Denoise with a learned prior as its presets prescribe for the noise level (Tweedie's estimate or "
                 "MAP). A colour image with a grey prior is denoised on its luminance and two opponent-colour "
                 "channels, each at its own noise level.", DENOISE_EXAMPLES)
    p.add_argument("noisy", nargs="+", help="noisy images: files (PNG/TIFF/... or a float .npy array, whose values "
                                            "may leave [0, 1] as noise does, within -1..2; see --scale), folders or "
                                            "glob patterns")
    p.add_argument("--sigma", default="auto", help="noise std on the [0, 1] scale: 15/255 or 0.0588, or auto "
                                                   "(default: estimated from the image, and printed)")
    _common(p, methods=("auto", "map", "tweedie", "paper"))
    p.set_defaults(func=_run)

    q = _command(sub, "superres", "super-resolution by 2, 3 or 4 with a learned prior",
                 "Upscale by --factor: the most probable image under the prior whose factor x factor block averages "
                 "equal the input (Kingma & LeCun 2010, sec. 4.3).", SUPERRES_EXAMPLES)
    q.add_argument("lowres", nargs="+", help="low-resolution images: files (PNG/TIFF/... or .npy), folders or globs")
    q.add_argument("--factor", type=int, choices=(2, 3, 4), default=2, help="upscale factor (default 2)")
    _common(q, methods=("auto", "map", "paper"))
    q.set_defaults(func=_run)

    d = _command(sub, "deblur", "remove a known blur (and Gaussian noise) with a learned prior",
                 "MAP deblurring: the most probable image x under the prior given y = k * x + n, k a known kernel "
                 "(convolution, centre pixel (h // 2, w // 2) at the origin).", DEBLUR_EXAMPLES)
    d.add_argument("blurry", nargs="+", help="blurred images: files (PNG/TIFF/... or .npy), folders or globs")
    d.add_argument("--kernel", required=True, help="blur kernel: .npy array or a grey image, normalized to sum 1")
    d.add_argument("--sigma", required=True, type=str, help="noise std on the [0, 1] scale: 0.01 or 2/256")
    d.add_argument("--blur-boundary", choices=BLUR_BOUNDARIES, default="periodic",
                   help="periodic (default: the image wraps around) or valid (the blurred image is smaller than "
                        "the sharp one by the kernel size minus one: a real photo)")
    _common(d, methods=("auto", "map", "paper"))
    d.set_defaults(func=_run)

    i = _command(sub, "inpaint", "fill in missing pixels with a learned prior",
                 "MAP inpainting: the known pixels (non-zero in --mask) are kept exactly, or, with --sigma, treated "
                 "as noisy; the others are filled in by the prior.", INPAINT_EXAMPLES)
    i.add_argument("image", nargs="+", help="images with missing pixels (their values are ignored): files "
                                            "(PNG/TIFF/... or .npy), folders or globs; one --mask for all")
    i.add_argument("--mask", required=True, help="mask of the image's size: non-zero = known pixel (.npy or image)")
    i.add_argument("--sigma", type=str, help="noise std of the known pixels (default: none, kept exactly)")
    _common(i, methods=("auto", "map", "paper"))
    i.set_defaults(func=_run)
