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


def test_paired_comparison_matches_scipy_and_uses_only_shared_seeds():
    from scipy.stats import ttest_rel
    from bench.leaderboard.stats import compare
    a = {0: 0.90, 1: 0.80, 2: 0.85, 3: 0.95, 9: 0.1}
    b = {0: 0.88, 1: 0.79, 2: 0.80, 3: 0.94, 7: 0.9}
    test = compare(a, b)
    expected = ttest_rel([0.90, 0.80, 0.85, 0.95], [0.88, 0.79, 0.80, 0.94])
    assert test.test == "paired t" and test.n == 4
    assert abs(test.p_value - expected.pvalue) < 1e-12
    assert abs(test.mean_diff - 0.0225) < 1e-12


def test_without_shared_seeds_the_comparison_is_welch():
    from scipy.stats import ttest_ind
    from bench.leaderboard.stats import compare
    a, b = {0: 0.9, 1: 0.8, 2: 0.85}, {5: 0.6, 6: 0.7}
    test = compare(a, b)
    expected = ttest_ind([0.9, 0.8, 0.85], [0.6, 0.7], equal_var=False)
    assert test.test == "Welch t" and abs(test.p_value - expected.pvalue) < 1e-12


def test_rows_with_one_seed_each_cannot_be_separated():
    from bench.leaderboard.stats import compare
    test = compare({0: 0.9}, {0: 0.1, 1: None})
    assert test.test == "none" and not test.significant()


def test_identical_differences_are_certain_and_zero_differences_are_not():
    from bench.leaderboard.stats import compare
    assert compare({0: 0.5, 1: 0.6}, {0: 0.4, 1: 0.5}).p_value == 0.0
    assert compare({0: 0.5, 1: 0.6}, {0: 0.5, 1: 0.6}).p_value == 1.0


def test_gap_statistic_by_hand():
    from bench.leaderboard.stats import gap_statistic
    # split 0, 1, 2 | 10: gap 8; within: ss = 2 over n - 2 = 2 -> sd 1
    assert gap_statistic([10, 0, 2, 1]) == 8.0
    assert gap_statistic([0.3, 0.3, 0.3, 0.3]) == 0.0


def test_bimodal_and_heavy_tailed_seeds_are_spotted_and_normal_ones_mostly_not():
    import numpy as np
    from bench.leaderboard.stats import GAP_LEVEL, is_clumped
    assert is_clumped([0.0, 0.029, 0.0, 0.779, 0.008])          # LfF's five seeds
    assert is_clumped([0.0, 0.01, 0.02, 0.80, 0.81])             # two clumps
    assert not is_clumped([0.949, 0.951, 0.945, 0.953, 0.947])
    assert not is_clumped([0.0, 0.5, 0.9])                       # too few seeds to tell
    rng = np.random.default_rng(123)
    rate = np.mean([is_clumped(rng.normal(0.8, 0.02, 5)) for _ in range(2000)])
    assert rate < 3 * GAP_LEVEL


def test_median_and_iqr():
    from bench.leaderboard.stats import median_iqr
    assert median_iqr([0.0, 0.029, 0.0, 0.779, 0.008, None]) == (0.008, 0.0, 0.029)
