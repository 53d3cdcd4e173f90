"""Files in and out: atomic writes, images (8/16-bit, gray or colour, alpha, float ``.npy``), result tables, image grids."""

from .atomic import atomic_path, save_figure
from .images import (ALPHA_SUFFIXES, BIT_DEPTHS, IMAGE_SUFFIXES, ORIENTATIONS, ImageFileError, ImageInfo, dequantize,
                     list_images, output_bits, read_image, read_image_info, write_image)
from .tables import write_csv, write_json
from .tiles import tile

__all__ = ["atomic_path", "save_figure", "write_json", "write_csv", "read_image", "read_image_info", "write_image", "output_bits",
           "list_images", "dequantize", "ImageInfo", "ImageFileError", "IMAGE_SUFFIXES", "BIT_DEPTHS", "ALPHA_SUFFIXES", "ORIENTATIONS", "tile"]
