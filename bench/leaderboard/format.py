"""Cell text: mean ± std over the seeds that count, an interval that fits accuracies, the seeds
themselves where a mean misdescribes them or they are too few to test, and the marks that say
why seeds were left out (:mod:`bench.leaderboard.cells`)."""
from __future__ import annotations

from bench.leaderboard.cells import NOT_DEFINED, NOT_MEASURED, Excluded, valid_value
from bench.leaderboard.stats import (MIN_SEEDS_FOR_GAP, accuracy_interval, is_clumped,
                                     mean_std, median_iqr)


def scored_images(records) -> int | None:
    """The number of headline test images each seed was scored on (its confusion matrix's
    total), when every seed reports the same number; else None."""
    sizes = {sum(map(sum, r.confusion)) for r in records if r.confusion}
    return sizes.pop() if len(sizes) == 1 and all(r.confusion for r in records) else None


def per_seed_text(values: dict[int, float | None], scale: float, digits: int) -> str:
    return ", ".join(NOT_MEASURED if v is None else f"{v * scale:.{digits}f}"
                     for v in values.values())


def mean_text(values: list[float], scale: float, digits: int, interval=None) -> str:
    mean, std, n = mean_std(values)
    text = f"{mean * scale:.{digits}f}"
    if n >= 2:
        text += f" ± {std * scale:.{digits}f}"
        if interval is not None:
            text += f" [{interval.low * scale:.{digits}f}, {interval.high * scale:.{digits}f}]"
    return text


def seeds_cell(values: dict[int, float | None], scale: float, digits: int, *,
               accuracy: bool = False, interval: bool = True, images: int | None = None,
               excluded: Excluded | None = None) -> str:
    """The text of one cell from seed -> value (None: the seed does not count). ``accuracy``:
    the headline metric, with its interval (unless ``interval`` is False), per-seed values when
    fewer than 4 seeds count, and median, IQR and per-seed values when the seeds are
    clumped."""
    counted = [v for v in values.values() if v is not None]
    if not counted:
        return excluded.text(shown_alone=True) if excluded and excluded.counts else NOT_MEASURED
    if accuracy and is_clumped(counted):
        median, q1, q3 = median_iqr(counted)
        text = (f"median {median * scale:.{digits}f}, IQR [{q1 * scale:.{digits}f}, "
                f"{q3 * scale:.{digits}f}]; per seed {per_seed_text(values, scale, digits)}")
    else:
        bounds = accuracy_interval(counted, images) if accuracy and interval else None
        text = mean_text(counted, scale, digits, bounds)
        if accuracy and 2 <= len(counted) < MIN_SEEDS_FOR_GAP:
            # Too few seeds for the clump test: a 9 / 75 / 77 split would pass for a wide
            # interval, so the seeds themselves are shown beside the mean.
            text += f"; per seed {per_seed_text(values, scale, digits)}"
    if len(counted) != len(values):
        left_out = excluded.text(shown_alone=False) if excluded and excluded.counts else ""
        text += f" (n={len(counted)}" + (f"; {left_out})" if left_out else ")")
    return text


def value_cell(row, column) -> str:
    """A table cell: ``column.metric`` over the row's seeds (``n/a`` where the row's method
    declares it undefined)."""
    if column.metric in row.undefined:
        return NOT_DEFINED
    values = {r.seed: valid_value(column.metric, r.metrics) for r in row.records}
    return seeds_cell(values, column.scale, column.digits, accuracy=column.with_ci,
                      images=scored_images(row.records) if column.with_ci else None,
                      excluded=Excluded.of(column.metric, row.records))
