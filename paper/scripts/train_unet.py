"""Train the U-Net energy (the default denoising prior) by denoising score matching; resumable.

    python paper/scripts/train_unet.py --out runs/unet_grey [--data train400|colour] [--steps N] [--resume]
        [--threads T] [--device cpu|cuda]

Grey: the training nine tenths of ``data/train400``; its validation curve uses the first 12 images of the other
tenth (the validation set). Colour: the training images of the colour split (``colour_split()["train"]``); the
curve uses central 256x256 crops of the first 6 colour held-out images. The recipe is ``UNetRecipe()``.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from scorematch.datasets import colour_crops, colour_split, load_images, split_images  # noqa: E402
from scorematch.unet_training import UNetRecipe, train_unet_energy  # noqa: E402

DATA = {"train400": "train400 (the training 9/10)", "colour": "bsds300-train (the colour split's training images)"}


def training_and_validation(data: str) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The training images and the validation images (N, C, H, W) of a data set of :data:`DATA`."""
    if data == "colour":
        split = colour_split()
        train = [colour_crops([f], None)[0] for f in split["train"]]
        return train, colour_crops(split["heldout"][:6], 256)
    train, held = split_images(load_images("train400"), holdout=0.1)
    return train, torch.stack(held[:12])[:, None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", choices=sorted(DATA), default="train400")
    ap.add_argument("--steps", type=int, default=UNetRecipe().steps)
    ap.add_argument("--lr", type=float, default=UNetRecipe().lr)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = UNetRecipe(steps=args.steps, lr=args.lr)
    train, validation = training_and_validation(args.data)
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {args.device}"
    result = train_unet_energy(train, args.out, recipe, validation=validation, resume=args.resume,
                               device=args.device, progress=sys.stderr.isatty(),
                               metadata={"data": DATA[args.data], "machine": machine})
    print(f"{result.steps} steps in {result.seconds:.0f} s, final loss {result.final_loss:.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
