"""The verdict rule (scorematch_paper.experiments.compare): a difference under two standard deviations is not
resolved (neither a win nor a tie)."""

import math

import pytest

from scorematch_paper.experiments.compare import (
    RESOLVE_SIGMAS,
    describe,
    is_tie,
    is_unresolved,
    paired_difference,
    std_of_mean,
)


def test_paired_difference_is_mean_and_sample_std_of_the_per_draw_differences():
    mean, std = paired_difference([3.0, 5.0, 10.0], [1.0, 2.0, 4.0])  # differences 2, 3, 6
    assert mean == pytest.approx(11 / 3)
    assert std == pytest.approx(math.sqrt(((2 - 11 / 3) ** 2 + (3 - 11 / 3) ** 2 + (6 - 11 / 3) ** 2) / 2))


def test_paired_difference_pairs_draws_so_a_shared_offset_cancels():
    a = [10.0, 20.0, 30.0]
    mean, std = paired_difference([v + 0.5 for v in a], a)
    assert (mean, std) == pytest.approx((0.5, 0.0))


def test_paired_difference_of_one_draw_has_no_std():
    mean, std = paired_difference([2.0], [1.5])
    assert mean == 0.5 and math.isnan(std)


@pytest.mark.parametrize("a, b", [([1.0, 2.0], [1.0]), ([], [])])
def test_paired_difference_refuses_unpaired_or_empty_input(a, b):
    with pytest.raises(ValueError, match="one length"):
        paired_difference(a, b)


def test_std_of_mean_of_independent_quantities():
    assert std_of_mean([0.3, 0.4]) == pytest.approx(0.25)
    assert std_of_mean([0.1] * 4) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        std_of_mean([])


def test_unresolved_is_strictly_below_two_standard_deviations():
    assert RESOLVE_SIGMAS == 2.0
    assert is_unresolved(0.19, 0.1)
    assert is_unresolved(-0.19, 0.1)
    assert not is_unresolved(0.2, 0.1)
    assert not is_unresolved(0.21, 0.1)
    assert not is_unresolved(0.01, 0.0)


def test_unknown_std_is_unresolved_only_when_the_caller_says_so():
    assert not is_unresolved(0.01, math.nan)
    assert is_unresolved(5.0, math.nan, nan_std_unresolved=True)


def test_is_tie_is_the_former_name_of_the_same_rule():
    assert is_tie(0.19, 0.1) and not is_tie(0.2, 0.1)
    assert is_tie(5.0, math.nan, nan_std_is_tie=True) and not is_tie(5.0, math.nan)


@pytest.mark.parametrize("diff, std", [(math.nan, 0.1), (math.inf, 0.1), (0.1, -0.1), (0.1, math.inf)])
def test_the_rule_refuses_bad_numbers(diff, std):
    with pytest.raises(ValueError):
        is_unresolved(diff, std)


@pytest.mark.parametrize("diff, std, kwargs, text", [
    (0.19, 0.03, {}, "+0.19 dB"),
    (-0.04, 0.01, {}, "-0.04 dB"),
    (0.013, 0.014, {}, "not resolved (+0.01 ± 0.01 dB)"),
    (0.013, 0.014, {"unit": ""}, "not resolved (+0.01 ± 0.01)"),
    (1.5, 0.1, {"unit": "%"}, "+1.50 %"),
    (0.19, math.nan, {}, "+0.19 dB (std unknown)"),
    (0.19, math.nan, {"nan_std_unresolved": True}, "not resolved (+0.19 dB, std unknown)"),
])
def test_describe(diff, std, kwargs, text):
    assert describe(diff, std, **kwargs) == text
