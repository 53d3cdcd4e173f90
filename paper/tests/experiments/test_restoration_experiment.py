"""Smoke test of ``scorematch_paper.experiments.restoration`` (quick mode): every stage, table and figure."""

import json

import pytest

from scorematch.prior import DEFAULT_BOUNDARY
from scorematch_paper.experiments import restoration


@pytest.mark.slow
def test_restoration_quick(tmp_path):
    out = restoration.run(tmp_path, quick=True, progress=False)
    assert {r["image"] for r in out["table1"]} == set(restoration.TABLE1_IMAGES)
    assert len(out["table2"]) == len(restoration.TABLE2_IMAGES)
    for name in ("fig2efg_psnr_vs_lambda.png", "fig2j_rsm_foe_filters.png", "fig2mq_lena_details.png",
                 "table1.csv", "table2.csv", "heldout.csv", "weights.json", "choices.json"):
        assert (tmp_path / name).is_file(), name
    text = restoration.report(tmp_path)
    assert "Table 1" in text and "Table 2" in text and "Validation images" in text
    assert "the same recipe, only the estimator swapped" in text  # the CD-1 column isolates the estimator
    assert {r["method"] for r in out["heldout"]} >= {"rsm", "cd1", "foe_5x5x24"}
    assert f"'{DEFAULT_BOUNDARY}' boundary rule" in text  # the run states how the solvers treat the border
    # cached: a second run recomputes nothing and gives the same numbers
    again = restoration.run(tmp_path, quick=True, progress=False)
    assert json.dumps(again["table1"], sort_keys=True) == json.dumps(out["table1"], sort_keys=True)


def _counting(f):
    calls = []

    def score(w):
        calls.append(w)
        return f(w)
    return score, calls


@pytest.mark.parametrize("peak", [0.1, 0.3, 0.5, 0.7, 1.0, 1.4])
def test_climb_finds_the_best_of_a_unimodal_grid_with_fewer_evaluations(peak):
    grid = restoration.WEIGHTS
    score, calls = _counting(lambda w: -abs(w - peak))
    curve = restoration.climb(score, grid)
    assert restoration.tuning.best_point(curve) == peak
    assert len(calls) == len(set(calls)) < len(grid)  # each point scored once, never the whole grid
    assert list(curve) == [str(w) for w in sorted(calls)]


def test_climb_edge_cases():
    assert restoration.climb(lambda w: 1.0, [0.5]) == {"0.5": 1.0}
    # a flat curve stops at once: the middle point and its two neighbours (ties keep the current point)
    assert list(restoration.climb(lambda w: 0.0, [1, 2, 3, 4, 5])) == ["2.0", "3.0", "4.0"]
    # a diverging (non-finite) region counts as the lowest score
    curve = restoration.climb(lambda w: float("nan") if w > 2 else w, [1, 2, 3, 4, 5])
    assert restoration.tuning.best_point(curve) == 2.0 and curve["3.0"] == float("-inf")
