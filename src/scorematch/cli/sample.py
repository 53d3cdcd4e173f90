"""``scorematch sample``: draw samples from a trained model with an MCMC sampler and save them as a PNG grid."""

from __future__ import annotations

import argparse
import math

import torch

from ..devices import add_device_argument

EXAMPLES = """examples:
  scorematch sample --model cd_foe_5x5x24 -o samples.png
  scorematch sample --model runs/patches/runs/baseline__lam0.01__s0__....safetensors -o patches.png --n 64
  scorematch sample --model roth_black_3x3x8 -o rb.png --sampler hmc --steps 300
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample",
        help="draw samples from a model (Langevin/MALA or HMC) into a PNG grid",
        description="Draw samples from a trained energy with Metropolis-adjusted Langevin or Hamiltonian Monte "
        "Carlo. A PoE on k x k patches gives patches; a Field of Experts gives images of --size pixels (on the "
        "pixel scale and whitening recorded in the model file). Each sample is shown min-max scaled.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="a bundled model name (see 'scorematch models') or a model file")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    p.add_argument("--size", type=int, default=48, help="image side for a Field of Experts (default 48)")
    p.add_argument("--sampler", choices=("langevin", "hmc"), default="langevin")
    p.add_argument("--steps", type=int, default=500, help="MCMC transitions (default 500)")
    p.add_argument("--burn-in", type=int, default=None,
                   help="transitions with step-size adaptation before the kept ones (default steps/2)")
    p.add_argument("--step-size", type=float, default=0.05, help="initial step size (adapted during burn-in)")
    p.add_argument("--seed", type=int, default=0)
    add_device_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..datasets import write_image
    from ..devices import resolve_device
    from ..energies import FieldOfExperts, ImageFoE, ProductOfExperts, laplacian_whitening_kernel
    from ..pretrained import resolve
    from ..io.tiles import tile
    from ..samplers import draw_samples
    from ..serialization import load, load_info

    if args.n < 1 or args.steps < 1 or args.size < 3:
        raise ValueError("--n and --steps must be >= 1 and --size >= 3")
    path = resolve(args.model)
    device = resolve_device(args.device)
    model = load(path).double().to(device)
    extra = load_info(path).get("extra", {})
    g = torch.Generator().manual_seed(args.seed)
    if isinstance(model, ProductOfExperts):
        k = math.isqrt(model.dim)
        if k * k != model.dim:
            raise ValueError(f"a PoE on {model.dim} values is not a square patch model")
        energy, scale = model, 1.0
        x = 0.5 + 0.1 * torch.randn(args.n, model.dim, generator=g, dtype=torch.float64)
        shape = (k, k)
    elif isinstance(model, ImageFoE):  # a prior on [0, 1] images: it carries its own scale and whitening
        energy, scale = model, 1.0
        x = 0.5 + 0.1 * torch.randn(args.n, 1, args.size, args.size, generator=g, dtype=torch.float64)
        shape = (args.size, args.size)
    elif isinstance(model, FieldOfExperts):
        scale, whitening = _training_domain(extra)
        energy = model
        if whitening:
            energy = model.whitened(laplacian_whitening_kernel(whitening["size"], sigma=whitening.get("sigma", 1.0),
                                                               dtype=torch.float64))
        x = scale * (0.5 + 0.1 * torch.randn(args.n, 1, args.size, args.size, generator=g, dtype=torch.float64))
        shape = (args.size, args.size)
    else:
        raise ValueError(f"sampling supports PoE and FoE models, not {type(model).__name__}")
    out, step_size = draw_samples(energy, x.to(device), kernel=args.sampler, steps=args.steps,
                                  burn_in=args.burn_in, step_size=args.step_size * (scale if scale > 1 else 1.0),
                                  generator=g)
    tiles = out.samples.cpu().reshape(args.n, *shape)
    lo = tiles.flatten(1).amin(1).view(-1, 1, 1)
    hi = tiles.flatten(1).amax(1).view(-1, 1, 1)
    grid = tile((tiles - lo) / (hi - lo).clamp_min(1e-12), fill=1.0, border=True)  # each sample min-max scaled
    write_image(args.output, grid)
    print(f"{args.n} samples ({args.sampler}, {args.steps} transitions, final step {step_size:.3g}, "
          f"acceptance {float(out.acceptance.mean()):.2f}) -> {args.output}")
    return 0


def _training_domain(extra: dict) -> tuple[float, dict | None]:
    """The pixel scale and the Laplacian whitening ``{"size", "sigma"}`` (None: none) a FieldOfExperts file was
    trained in, from its metadata: an experiment's ``settings``, a ``scorematch train`` run's ``data``, or the
    file's own keys (the bundled Roth & Black model); scale 1 and no whitening when none says."""
    for d in (extra.get("settings"), extra.get("data"), extra):
        if isinstance(d, dict) and "scale" in d:
            whitening = d.get("whitening") or ({"size": d["whiten"]} if d.get("whiten") else None)
            return float(d["scale"]), whitening
    return 1.0, None
