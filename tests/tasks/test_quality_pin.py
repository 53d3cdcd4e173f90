"""The bundled default prior's denoising quality, pinned: a change that degrades it fails CI.

Crops of two tuning images (never a reported image) are denoised with ``foe_5x5x24`` as its presets prescribe (MAP
at the weight its file recommends) and the PSNRs compared with ``tests/helpers/quality_pin.json`` (+-0.02 dB). A
deliberate change of the model or solver updates the pin with ``python3 tests/tasks/test_quality_pin.py --update``
(and says why in the commit).
"""

import json
import sys
from pathlib import Path

import pytest
import torch

from scorematch.datasets import data_dir, read_image
from scorematch.prior import load_prior
from scorematch.tasks import Denoising, denoise, psnr

PIN = Path(__file__).parents[1] / "helpers" / "quality_pin.json"
CASES = [("cameraman", 5), ("cameraman", 25), ("parrot", 15)]  # (tuning image, sigma in 1/256)
CROP = 64


def measure(image: str, level: int) -> float:
    """PSNR (dB) of the default prior's MAP estimate on a central crop, float64, one fixed noise draw."""
    x = read_image(data_dir() / "set12" / f"{image}.png", dtype=torch.float64)
    i, j = (x.shape[0] - CROP) // 2, (x.shape[1] - CROP) // 2
    x = x[i : i + CROP, j : j + CROP][None, None]
    y = Denoising(level / 256)(x, generator=torch.Generator().manual_seed(level))
    prior = load_prior("foe_5x5x24").to(dtype=torch.float64)
    out = denoise(y, prior, sigma=level / 256)  # the file's preset: MAP at its recommended weight
    return psnr(out.clamp(0, 1), x)


@pytest.mark.parametrize("image,level", CASES)
def test_default_prior_quality_is_pinned(image, level):
    pinned = json.loads(PIN.read_text())[f"{image}/{level}"]
    assert measure(image, level) == pytest.approx(pinned, abs=0.02)


if __name__ == "__main__" and "--update" in sys.argv:
    PIN.write_text(json.dumps({f"{im}/{lv}": round(measure(im, lv), 4) for im, lv in CASES}, indent=1) + "\n")
    print(PIN.read_text())
