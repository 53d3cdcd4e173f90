"""What a training run reads and starts from: a data source by name (a bundled set, a folder of images or of
MNIST idx files) and the energy to fit (new, or loaded from a model file). Used by ``scorematch train``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..datasets import PatchStream, data_dir, downsample2x, list_images, load_images, load_mnist
from ..energies import Energy, FieldOfExperts, ProductOfExperts, laplacian_whitening_kernel

__all__ = ["MODELS", "BUNDLED_SETS", "training_data", "new_energy", "check_init", "on_device"]

#: Model kinds a run can fit: name -> class.
MODELS = {"poe": ProductOfExperts, "foe": FieldOfExperts}
#: Data sets bundled in ``data/`` that ``--data`` may name.
BUNDLED_SETS = ("mnist", "train400", "set12")


def _is_mnist_dir(path: Path) -> bool:
    return any(path.glob("train-images*idx3-ubyte*"))


def training_data(model: str, name: str, *, dtype: torch.dtype, scale: float = 1.0, n_train: int | None = None,
                  patch_size: int | None = None, whiten: int = 0,
                  kernel_size: int = 5) -> tuple[Any, tuple[int, ...], dict[str, Any]]:
    """The data of a run: MNIST digits whole (2x2-averaged to 14x14) or patches drawn from image files.

    Parameters
    ----------
    model : {"poe", "foe"}
        A PoE gets flat samples, a FoE (1, h, w) images.
    name : str
        ``"mnist"``, ``"train400"``, ``"set12"``, or a folder of images or of MNIST idx files.
    dtype, scale, n_train
        Precision, a factor on the pixel values, the first ``n_train`` digits or images only.
    patch_size, whiten, kernel_size
        Patch side (default 8 for poe, 15 for foe), Laplacian whitening size (0: none) and the FoE's
        filter size (a patch may not be smaller); image folders only.

    Returns
    -------
    data : Tensor of shape (N, 196) or (N, 1, 14, 14), or a patch stream ``(batch, generator) -> Tensor``
    shape : tuple of int
        One sample's shape.
    description : dict
        What was read, for the run's metadata.

    Raises
    ------
    ValueError
        With one line naming the setting and the fix.
    """
    path = Path(name)
    if (name == "mnist" and not path.is_dir()) or (path.is_dir() and _is_mnist_dir(path)):
        if patch_size is not None or whiten:
            raise ValueError("--patch-size and --whiten apply to image folders; MNIST digits are used whole")
        images, _ = load_mnist(None if name == "mnist" and not path.is_dir() else path, split="train")
        images = images[:n_train] if n_train is not None else images
        x = downsample2x(images, dtype=dtype) * scale  # (N, 14, 14)
        x = x.flatten(1) if model == "poe" else x.unsqueeze(1)  # (N, 196) or (N, 1, 14, 14)
        return x, tuple(x.shape[1:]), {"data": name, "kind": "mnist", "n": int(x.shape[0]), "scale": scale}
    files = list_images(_image_folder(name))  # ImageFileError if there are none
    images = load_images(files[:n_train] if n_train is not None else files, dtype=dtype)
    size = patch_size or (8 if model == "poe" else 15)
    if model == "foe" and size < kernel_size:
        raise ValueError(f"--patch-size {size} is smaller than --kernel-size {kernel_size}")
    kernel = laplacian_whitening_kernel(whiten, dtype=dtype) if whiten else None
    stream = PatchStream(images, size, flatten=(model == "poe"), scale=scale, whitening=kernel)
    shape = (size * size,) if model == "poe" else (1, size, size)
    return stream, shape, {"data": str(_image_folder(name)), "kind": "patches", "images": len(images),
                            "patch_size": size, "scale": scale, "whiten": whiten}


def _image_folder(name: str) -> Path:
    """The folder ``name`` names: an existing folder, else a bundled set."""
    path = Path(name)
    if not path.exists() and name in BUNDLED_SETS:
        path = data_dir() / name
    if not path.exists():
        raise ValueError(f"--data {name}: not a bundled data set ({', '.join(BUNDLED_SETS)}) nor an existing folder; "
                         "pass a folder of images")
    if not path.is_dir():
        raise ValueError(f"--data {name} is a file; pass the folder that holds the images")
    return path


def new_energy(model: str, shape: tuple[int, ...], *, experts: int | None = None, kernel_size: int = 5,
               learn_alpha: bool | None = None, seed: int = 0) -> Energy:
    """A new energy with random filters seeded by ``seed`` for samples of ``shape``.

    ``experts`` defaults to the input dimension for a PoE and 24 for a FoE; ``learn_alpha`` to no for a PoE
    and yes for a FoE.
    """
    gen = torch.Generator().manual_seed(seed)
    if model == "poe":
        return ProductOfExperts(shape[0], experts or shape[0], generator=gen, learn_alpha=bool(learn_alpha))
    return FieldOfExperts(experts or 24, kernel_size, generator=gen,
                          learn_alpha=True if learn_alpha is None else learn_alpha)


def check_init(energy: Energy, name: str, model: str, shape: tuple[int, ...], *, experts: int | None = None,
               kernel_size: int | None = None, learn_alpha: bool | None = None) -> Energy:
    """``energy`` (loaded from the model file ``name``) if it fits the data's ``shape`` and every flag given
    (not None) agrees with the file; else ValueError naming the difference."""
    config = energy.config()
    flags = {"n_experts": experts, "kernel_size": kernel_size, "learn_alpha": learn_alpha}
    mismatch = {k: (config[k], v) for k, v in flags.items() if k in config and v is not None and v != config[k]}
    if mismatch:
        raise ValueError(f"--init {name} has {mismatch} (file, flag): drop those flags or the --init")
    if model == "poe" and energy.dim != shape[0]:
        raise ValueError(f"--init {name} is a PoE on {energy.dim} dimensions but the data has {shape[0]} "
                         f"(shape {shape}); use a model trained on the same kind of data")
    return energy


def on_device(stream: Callable[[int, torch.Generator], torch.Tensor],
              device: torch.device) -> Callable[[int, torch.Generator], torch.Tensor]:
    """A data stream whose batches are moved to ``device`` (the draws stay on the CPU generator)."""
    def sample(batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return stream(batch_size, generator).to(device)

    return sample
