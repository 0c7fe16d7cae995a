"""Seed statistics: mean, sample standard deviation, n and a Student-t confidence interval;
paired comparisons between rows; a test for seed distributions that a mean misdescribes.

Pure functions of lists (or seed-keyed dicts) of floats. Missing values (None, NaN) are
dropped, so n counts the seeds that actually reported the metric.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
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


# --- Comparing rows: paired tests over shared seeds ------------------------------------------

SIGNIFICANCE = 0.05   # two-sided, per pair of rows, no multiplicity correction (stated on pages)


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b``: mean difference a - b, the test used, pairs (or sizes) and p."""
    test: str            # "paired t" over shared seeds, "Welch t" without them, or "none"
    n: int               # shared seeds (paired) or the smaller sample (Welch)
    mean_diff: float
    p_value: float       # NaN when the data cannot separate the rows

    def significant(self, level: float = SIGNIFICANCE) -> bool:
        return not math.isnan(self.p_value) and self.p_value < level


def _clean(values: dict[int, float | None]) -> dict[int, float]:
    return {k: float(v) for k, v in values.items() if v is not None and not math.isnan(float(v))}


def _t_p_value(mean: float, se: float, df: float) -> float:
    """Two-sided p of a t statistic; a zero standard error with a nonzero mean is p = 0."""
    if se == 0:
        return 1.0 if mean == 0 else 0.0
    return float(2 * student_t.sf(abs(mean / se), df))


def compare(a: dict[int, float | None], b: dict[int, float | None]) -> Comparison:
    """Values keyed by seed. Seeds share their data across methods, so rows with >= 2 shared
    seeds are compared by a paired t-test on the per-seed differences (the seed-to-seed
    variation in difficulty cancels); otherwise by Welch's t-test when both have >= 2 seeds;
    otherwise the rows cannot be separated."""
    a, b = _clean(a), _clean(b)
    shared = sorted(set(a) & set(b))
    if len(shared) >= 2:
        diffs = [a[s] - b[s] for s in shared]
        m, s, n = mean_std(diffs)
        return Comparison("paired t", n, m, _t_p_value(m, s / math.sqrt(n), n - 1))
    if len(a) >= 2 and len(b) >= 2:
        ma, sa, na = mean_std(list(a.values()))
        mb, sb, nb = mean_std(list(b.values()))
        va, vb = sa * sa / na, sb * sb / nb
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1)) if se > 0 else 1.0
        return Comparison("Welch t", min(na, nb), ma - mb, _t_p_value(ma - mb, se, df))
    diff = (sum(a.values()) / len(a) - sum(b.values()) / len(b)) if a and b else math.nan
    return Comparison("none", len(shared), diff, math.nan)


# --- Spotting a seed distribution that a mean and t-interval misdescribe ----------------------

GAP_LEVEL = 0.01     # a normal sample splits this cleanly at most 1% of the time
MIN_SEEDS_FOR_GAP = 4
_SIMULATIONS = 20000


def gap_statistic(values) -> float:
    """Sorted values split at their largest gap: the gap over the pooled within-part standard
    deviation (n - 2 degrees of freedom). Large when the seeds fall into separate clumps
    (bimodal) or one seed lies far from the rest (heavy tail). Scale-free."""
    x = sorted(float(v) for v in values)
    gaps = [hi - lo for lo, hi in zip(x, x[1:])]
    cut = max(range(len(gaps)), key=gaps.__getitem__)
    parts = (x[:cut + 1], x[cut + 1:])
    within = sum(sum((v - sum(p) / len(p)) ** 2 for v in p) for p in parts)
    sd = math.sqrt(within / (len(x) - 2))
    if sd == 0:
        return 0.0 if gaps[cut] == 0 else math.inf
    return gaps[cut] / sd


@lru_cache(maxsize=None)
def gap_critical(n: int, level: float = GAP_LEVEL) -> float:
    """The (1 - level) quantile of :func:`gap_statistic` for ``n`` normal draws (seeded
    Monte Carlo, so every page gets the same threshold)."""
    x = np.sort(np.random.default_rng(n).standard_normal((_SIMULATIONS, n)), axis=1)
    gaps = np.diff(x, axis=1)
    cut = gaps.argmax(axis=1)
    stats = np.empty(_SIMULATIONS)
    for k in range(n - 1):   # rows cut after position k
        rows = cut == k
        low, high = x[rows, :k + 1], x[rows, k + 1:]
        within = (((low - low.mean(1, keepdims=True)) ** 2).sum(1)
                  + ((high - high.mean(1, keepdims=True)) ** 2).sum(1))
        stats[rows] = gaps[rows, k] / np.sqrt(within / (n - 2))
    return float(np.quantile(stats, 1 - level))


def is_clumped(values) -> bool:
    """True when the seeds look bimodal or heavy-tailed (the gap test at ``GAP_LEVEL``), so
    a mean ± std and a t-interval misdescribe them and per-seed values should be shown."""
    x = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if len(x) < MIN_SEEDS_FOR_GAP:
        return False
    return gap_statistic(x) > gap_critical(len(x))


def median_iqr(values) -> tuple[float, float, float]:
    x = np.asarray([float(v) for v in values if v is not None and not math.isnan(float(v))])
    q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return float(median), float(q1), float(q3)


# --- Multiple comparisons: Holm's step-down procedure ------------------------------------------

FAMILY_LEVEL = 0.05   # family-wise error rate of all pairwise tests within a supervision class


def holm_rejections(p_values: dict, level: float = FAMILY_LEVEL) -> set:
    """The keys whose null hypothesis Holm (1979) rejects at family-wise ``level``: sort the m
    p-values ascending and reject the i-th smallest (i from 1) while p_(i) <= level / (m - i + 1);
    stop at the first that is not. NaN p-values (untestable pairs) count in m and are never
    rejected."""
    tested = sorted(p_values.items(), key=lambda kv: (math.isnan(kv[1]), kv[1]))
    m = len(tested)
    rejected = set()
    for i, (key, p) in enumerate(tested):
        if math.isnan(p) or p > level / (m - i):
            break
        rejected.add(key)
    return rejected


# --- Intervals for accuracies: a Wilson score interval over an effective number of images -----

@dataclass(frozen=True)
class AccuracyInterval:
    low: float
    high: float
    n: int                 # seeds
    effective_images: float


def accuracy_interval(values, images: int | None, confidence: float = CONFIDENCE
                      ) -> AccuracyInterval | None:
    """An interval for the mean accuracy over seeds that stays inside [0, 1] without clipping
    and widens as seeds get fewer. The variance of the mean is the seeds' own, s^2 / n (training
    randomness and each seed's colouring of the test images), plus the binomial variance of
    accuracy measured on the ``images`` test digits every seed shares, p (1 - p) / N, which the
    seeds cannot show. Written as p (1 - p) / n_eff, it gives an effective number of images
    n_eff (Kish's design effect), and the interval is Wilson's score interval (Wilson 1927) for
    n_eff images with Student's t_{n-1} in place of the normal quantile. p in the variance is
    continuity-corrected ((k + 1/2) / (n N + 1)), so that seeds all at 0% or 100% still get
    the width of N images. ``images`` None: the seeds' variance alone. None below 2 seeds."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(clean)
    if n < 2:
        return None
    mean, std, _ = mean_std(clean)
    pooled = n * (images or 10_000)
    p = (mean * pooled + 0.5) / (pooled + 1)
    spread = p * (1 - p)
    variance = std * std / n + (spread / images if images else 0.0)
    n_eff = spread / variance if variance > 0 else math.inf
    t = t_critical(n - 1, confidence)
    if math.isinf(n_eff):
        return AccuracyInterval(mean, mean, n, n_eff)
    ratio = t * t / n_eff
    centre = (mean + ratio / 2) / (1 + ratio)
    half = t / (1 + ratio) * math.sqrt(mean * (1 - mean) / n_eff + ratio / (4 * n_eff))
    return AccuracyInterval(max(0.0, centre - half), min(1.0, centre + half), n, n_eff)
