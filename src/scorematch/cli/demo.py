"""``scorematch demo``: a few seconds of regularized score matching on bundled MNIST digits."""

from __future__ import annotations

import argparse
import functools

import torch

from ..datasets import downsample2x, load_mnist
from ..devices import add_device_argument, resolve_device
from ..energies import ProductOfExperts
from ..estimators import score_matching_loss
from ..train import fit

EXAMPLES = """examples:
  scorematch demo
  scorematch demo --steps 500 --lam 0.003
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="train a small PoE on bundled MNIST digits and print the loss going down",
        description="Train a square Product of Student-t experts on 2x-downsampled MNIST digits by "
        "regularized score matching (curvature backpropagation), printing the loss and the exact "
        "test log-likelihood.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--steps", type=int, default=300, help="Adam steps (default 300)")
    p.add_argument("--lam", type=float, default=0.01, help="regularization weight lambda (default 0.01)")
    p.add_argument("--n-train", type=int, default=5000, help="training digits (default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the model is small, and more threads spin on a busy machine)")
    add_device_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images, _ = load_mnist(split="train")
    test_images, _ = load_mnist(split="test")
    device = resolve_device(args.device)
    x = downsample2x(images[: args.n_train]).flatten(1).to(device)  # (N, 196)
    x_test = downsample2x(test_images[:2000]).flatten(1).to(device)  # (2000, 196)
    model = ProductOfExperts(196, 196, learn_alpha=False, generator=torch.Generator().manual_seed(args.seed))
    model = model.to(device)
    print(f"training a 196x196 PoE by regularized score matching (lambda={args.lam}) on {len(x)} digits")
    loss = functools.partial(score_matching_loss, lam=args.lam)

    def report(step: int, value: float, energy: ProductOfExperts) -> None:
        print(f"  step {step:5d}  loss {value:12.3f}")

    log_every = max(1, args.steps // 10)
    fit(model, x, loss, steps=args.steps, batch_size=500, lr=0.01, seed=args.seed, log_every=log_every,
        callback=report)
    with torch.no_grad():
        ll = model.log_likelihood(x_test).mean().item()
    print(f"exact test log-likelihood: {ll:.1f} nats per digit ({ll / 196:.3f} per pixel)")
    return 0
