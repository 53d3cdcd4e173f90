"""The beyond-the-paper stage (``scorematch_paper.experiments.beyond``) on a tiny configuration: units, table, figure,
report, the cache, the paired comparisons and the motion kernels."""

import json
import math

import pytest
import torch

from scorematch_paper.experiments import beyond
from scorematch_paper.experiments.beyond import compute
from scorematch_paper.experiments.beyond.summaries import comparison
from scorematch_paper.experiments.cache import Cache

TINY = beyond.BeyondConfig.quick().replace(grey_images=2, grey_crop=36, table2_crop=24, colour_images=2, colour_crop=24,
                                           colour_tune_crop=24, tv_weights=(0.04,), inpaint_iters=(20,))


def test_a_tiny_run_writes_units_table_figure_and_report(tmp_path):
    table = beyond.run(tmp_path, config=TINY, progress=False)
    grey = {"deblur": "wiener", "inpaint": "biharmonic", "superres_2x": "bicubic", "superres_3x": "bicubic",
            "superres_4x": "bicubic", "table2_superres_2x": "bicubic"}
    for problem, anchor in grey.items():
        entry = table["problems"][problem]
        assert set(entry["means"]) == {"foe_5x5x24", anchor}
        assert entry["n_images"] == (5 if problem.startswith("table2") else 2)
        assert [(c["ours"], c["other"]) for c in entry["comparisons"]] == [("foe_5x5x24", anchor)]
    colour = table["problems"]["colour_15"]
    assert colour["means"]["colour_prior"] > colour["means"]["noisy"]
    methods = set(compute.available_colour_methods(TINY))
    ours = {"colour_prior", "opponent_foe_5x5x24"}
    assert ours <= methods and colour["means"]["opponent_foe_5x5x24"] > colour["means"]["noisy"]
    assert {(c["ours"], c["other"]) for c in colour["comparisons"]} == {(a, b) for a in ours for b in methods - ours}
    assert table["problems"]["deblur"]["choices"]["foe_5x5x24"][1] in TINY.weights  # chosen from the grid
    for problem in (*grey, "colour_15"):
        assert (tmp_path / "pictures" / problem / "clean.png").is_file()
    assert (tmp_path / "beyond.png").is_file()
    text = beyond.report(tmp_path)
    assert "| castle | " in text and "Table 2 image" in text  # the per-image 2x table
    assert "| 15/256 | `foe_5x5x24` on opponent channels |" in text  # ours minus the others
    assert "| deblurring, motion kernels" in text and "| 15/256 |" in text and f"{tmp_path.name}/beyond.png" in text
    stamps = {p.name: json.loads(p.read_text())["stamp"] for p in (tmp_path / "units").glob("*.json")}
    again = beyond.run(tmp_path, config=TINY, progress=False, cache=Cache())  # a new run reuses every unit
    assert again == table
    assert stamps == {p.name: json.loads(p.read_text())["stamp"] for p in (tmp_path / "units").glob("*.json")}


def test_without_bm3d_the_colour_table_says_so(tmp_path, monkeypatch):
    real = compute.importlib.util.find_spec
    monkeypatch.setattr(compute.importlib.util, "find_spec", lambda name: None if name == "bm3d" else real(name))
    assert "cbm3d" not in compute.available_colour_methods(TINY)
    beyond.run(tmp_path, config=TINY.replace(grey_images=1), progress=False)
    assert "`bm3d` package is not installed" in beyond.report(tmp_path)


def test_comparison_is_paired_over_images():
    c = comparison([30.0, 31.0, 32.5], [29.0, 30.5, 31.0])
    assert c["diff"] == pytest.approx(1.0)
    assert c["std_of_mean"] == pytest.approx(math.sqrt(((0.0) ** 2 + 0.5 ** 2 + 0.5 ** 2) / 2) / math.sqrt(3))
    assert c["reads"] == "+1.00 dB" and c["n_images"] == 3
    assert comparison([30.0, 30.1], [30.05, 30.0])["reads"].startswith("not resolved")


@pytest.mark.parametrize("seed", range(5))
def test_motion_kernels_are_normalized_trajectories(seed):
    k = beyond.motion_kernel(seed)
    assert k.shape == (27, 27) and k.dtype == torch.float64
    assert float(k.sum()) == pytest.approx(1.0) and bool((k >= 0).all())
    rows, cols = torch.nonzero(k, as_tuple=True)
    extent = max(int(rows.max() - rows.min()), int(cols.max() - cols.min())) + 1
    assert 2 <= extent <= 27  # a trajectory of at most 27 pixels, not a point
    assert torch.equal(k, beyond.motion_kernel(seed))


def test_config_refusals():
    with pytest.raises(ValueError, match="divisible by 3 and 4"):
        beyond.BeyondConfig(grey_crop=50)
    with pytest.raises(ValueError, match="priors must not be empty"):
        beyond.BeyondConfig(priors=())
