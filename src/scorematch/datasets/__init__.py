"""Data sets and loaders: MNIST idx files (and, in later modules, images and patches)."""

from .paths import data_dir
from ..io.images import IMAGE_SUFFIXES, ImageFileError, dequantize, list_images, read_image, write_image
from .patches import PatchStream, load_images, split_images, whiten
from .colour import COLOUR_SET, colour_crops, colour_split
from .mnist import MNIST_FILES, downsample2x, load_mnist, read_idx

__all__ = [
    "data_dir",
    "read_idx",
    "load_mnist",
    "downsample2x",
    "MNIST_FILES",
    "read_image",
    "write_image",
    "list_images",
    "dequantize",
    "IMAGE_SUFFIXES",
    "ImageFileError",
    "PatchStream",
    "load_images",
    "split_images",
    "whiten",
    "COLOUR_SET",
    "colour_split",
    "colour_crops",
]
