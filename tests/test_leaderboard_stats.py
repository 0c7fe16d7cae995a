"""Seed statistics against hand-computed values and Student-t table values."""
import math

import pytest

from bench.leaderboard.stats import summarize, t_critical


def test_mean_and_sample_std_by_hand():
    s = summarize([1, 2, 3, 4])
    assert s.mean == 2.5
    # squares of deviations: 2.25 + 0.25 + 0.25 + 2.25 = 5; / (n - 1) = 5/3
    assert s.std == pytest.approx(math.sqrt(5 / 3))


def test_missing_values_are_dropped_not_zeroed():
    s = summarize([0.5, None, float("nan"), 0.7])
    assert s.n == 2
    assert s.mean == pytest.approx(0.6)


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (29, 2.0452)])
def test_t_critical_matches_the_table(df, expected):
    assert t_critical(df) == pytest.approx(expected, abs=1e-4)


def test_t_critical_needs_a_degree_of_freedom():
    with pytest.raises(ValueError):
        t_critical(0)


def test_confidence_interval_by_hand():
    # mean 0.9, s = 0.1, n = 3: half width = t_{0.975, 2} * 0.1 / sqrt(3) = 4.302653 * 0.057735
    s = summarize([0.8, 0.9, 1.0])
    assert (s.n, s.mean, s.std) == (3, pytest.approx(0.9), pytest.approx(0.1))
    assert s.half_width == pytest.approx(0.248414, abs=1e-6)
    assert (s.ci_low, s.ci_high) == (pytest.approx(0.651586, abs=1e-6),
                                     pytest.approx(1.148414, abs=1e-6))


def test_five_seeds_interval_is_wider_than_the_normal_one():
    values = [0.85, 0.86, 0.87, 0.88, 0.89]
    s = summarize(values)
    normal_half = 1.959964 * s.std / math.sqrt(5)
    assert s.half_width == pytest.approx(2.776445 * s.std / math.sqrt(5), rel=1e-6)
    assert s.half_width > normal_half


def test_a_single_seed_has_no_spread_or_interval():
    s = summarize([0.42])
    assert s.n == 1 and s.mean == 0.42
    assert math.isnan(s.std) and math.isnan(s.ci_low) and math.isnan(s.ci_high)
    assert summarize([]).n == 0 and math.isnan(summarize([]).mean)
