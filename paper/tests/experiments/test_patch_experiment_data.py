"""The data of the natural-image patch experiment: held-out test patches, dequantized by one grey level."""

import dataclasses

import torch
import torch.nn.functional as F

from scorematch.datasets import split_images
from scorematch_paper.experiments import patches as P


def test_patch_experiment_data_are_held_out_and_dequantized_by_one_grey_level():
    cond = dataclasses.replace(P.CONDITIONS[0], n_train=500)
    data = P.prepare_data(cond, n_test=300, limit=20)
    assert data["train"].shape == (500, 64) and data["test"].shape == (300, 64)
    noise = data["test_dequantized"] - data["test"]
    assert noise.abs().max() <= 0.5 / 255 + 1e-12 and noise.std() > 0.2 / 255
    assert torch.allclose(data["test"] * 255, torch.round(data["test"] * 255), atol=1e-9)  # 8-bit PNG data
    # test patches come from the held-out images only: each occurs in a held-out image
    ims = P.fit._images(cond.source, cond.quantize8, 20)
    _, held = split_images(list(ims), holdout=cond.holdout)
    patch = data["test"][0].view(1, 1, 8, 8)
    found = any(
        bool(((F.unfold(im[None, None], 8) - patch.reshape(1, 64, 1)).abs().amax(1) < 1e-12).any())
        for im in held
    )
    assert found
    stats = P.fit.data_statistics(data)
    assert 0 <= stats["train"]["flat_fraction"] <= 1 and stats["train"]["equal_horizontal_neighbours"] > 0
