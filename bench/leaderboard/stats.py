"""Seed aggregation: mean, sample standard deviation, n and a Student-t confidence interval.

Pure functions of lists of floats. Missing values (None, NaN) are dropped, so n counts the
seeds that actually reported the metric.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import t as student_t

from bench.metrics import mean_std

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float        # sample std (n - 1); NaN when n < 2
    ci_low: float     # Student-t interval for the mean; NaN when n < 2
    ci_high: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2


def t_critical(df: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided critical value of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"Student's t needs at least 1 degree of freedom, got {df}")
    return float(student_t.ppf(0.5 + confidence / 2, df))


def summarize(values, confidence: float = CONFIDENCE) -> Summary:
    """mean ± t_{n-1} · s / sqrt(n): the interval for the mean over seeds (seeds treated as
    independent draws; with 5 seeds t = 2.776, so the interval is wide, as it should be)."""
    m, s, n = mean_std(values)
    if n < 2:
        return Summary(n, m, s, math.nan, math.nan)
    half = t_critical(n - 1, confidence) * s / math.sqrt(n)
    return Summary(n, m, s, m - half, m + half)
