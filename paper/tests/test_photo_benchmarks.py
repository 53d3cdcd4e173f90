"""The summaries of the default denoiser's benchmarks (``paper/benchmarks/denoise_photos.py``,
``colour_choice.py``): the verdict rule and the paired counts, on made-up rows (the benchmarks run for an hour and
write their JSON only at the end, so a mistake here would lose the run)."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(set_name: str, image: str, ours: float, bm3d: float) -> dict:
    return {"set": set_name, "kind": "grey", "image": image, "level": "15", "ours": ours, "bm3d": bm3d,
            "ours_seconds": 1.0, "bm3d_seconds": 2.0}


def test_denoise_photos_verdicts_need_two_standard_errors():
    summarize = _module("denoise_photos").summarize
    above = summarize([_row("test", str(i), 30.3 + 0.01 * i, 30.0) for i in range(5)])["test/grey/15"]
    assert above["verdict"] == "above BM3D" and (above["ours_better"], above["bm3d_better"]) == (5, 0)
    assert above["diff"] == pytest.approx(0.32) and above["n"] == 5
    mixed = summarize([_row("test", str(i), 30.0 + d, 30.0) for i, d in enumerate((0.3, -0.2, 0.1))])["test/grey/15"]
    assert mixed["verdict"] == "not resolved" and (mixed["ours_better"], mixed["bm3d_better"]) == (2, 1)
    single = summarize([_row("set12", "a", 31.0, 30.0)])["set12/grey/15"]
    assert single["verdict"] == "not resolved" and math.isnan(single["diff_stderr"])  # one image decides nothing


def test_colour_choice_pairs_per_photo_and_masks_the_training_crop():
    choice = _module("colour_choice")
    d = choice.paired([1.0, 2.0, 3.5], [1.5, 1.0, 3.0])
    assert (d["better"], d["worse"]) == (2, 1) and d["mean"] == pytest.approx(1 / 3, abs=1e-4)
    x = np.zeros((2, 2, 3))
    out = np.full((2, 2, 3), 0.1)
    out[0, 0] = 1.0  # a large error where the mask leaves the pixel out
    keep = np.ones((2, 2), dtype=bool)
    keep[0, 0] = False
    assert choice.masked_psnr(out, x, keep) == pytest.approx(20.0)  # 10 log10(1 / 0.01) over the kept pixels


def test_colour_choice_finds_a_rotated_crop():
    choice = _module("colour_choice")
    rng = np.random.default_rng(0)
    photo = rng.random((200, 240))
    crop = np.rot90(photo, 1)[30 : 30 + choice.CROP, 10 : 10 + choice.CROP].copy()  # rotated frame (240, 200)
    templates = np.stack([crop - crop.mean(), rng.random((choice.CROP, choice.CROP)) - 0.5])
    templates /= np.sqrt((templates**2).sum((1, 2), keepdims=True))
    mask, corr = choice.train_crop_mask(photo, templates)
    assert corr > 0.99 and mask.sum() == choice.CROP**2
    rotated = np.zeros((240, 200), dtype=bool)
    rotated[30 : 30 + choice.CROP, 10 : 10 + choice.CROP] = True
    assert np.array_equal(mask, np.rot90(rotated, -1))
