"""Data sets and loaders: MNIST idx files (and, in later modules, images and patches)."""

from .paths import data_dir
from .mnist import MNIST_FILES, downsample2x, load_mnist, read_idx

__all__ = ["data_dir", "read_idx", "load_mnist", "downsample2x", "MNIST_FILES"]
