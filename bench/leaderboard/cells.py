"""What a table cell holds: which seeds' values count, why the others do not, and the text.

A seed's value counts unless it is missing or not a valid estimate, and every reason has its
own mark, so a reader can tell "not measured" from "measured and excluded":

- ``—``    not measured (the run did not compute it);
- ``n/c``  an LLC whose SGLD chains did not pass the convergence check;
- ``<0``   a negative LLC: the weights are not at a local minimum of the loss it is measured
           on (e.g. a model measured on images it was not trained on), so it is not an LLC;
- ``n/a``  not defined for the row's method, which says why (``Method.llc_not_defined``: its
           reported weights are by construction at no minimum of the training loss); a
           property of the row, not of a seed;
- ``few``  a statistic over a model-dependent population (ε-to-flip on correctly classified
           images) where that seed had fewer than ``MIN_IMAGES`` such images.

A cell shows the mean ± std over the counted seeds, ``(n=k)`` when not every seed counted,
and how many seeds each reason removed; with no counted seed, the marks alone.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

NOT_MEASURED = "—"
NOT_CONVERGED = "n/c"
NEGATIVE = "<0"
TOO_FEW = "few"
NOT_DEFINED = "n/a"
MARKS = {
    NOT_MEASURED: "not measured",
    NOT_CONVERGED: "LLC chains did not pass the convergence check",
    NEGATIVE: "negative LLC: the weights are not at a minimum of the loss it is measured on, "
              "so it is no estimate",
    TOO_FEW: "fewer than {min_images} correctly classified images in that seed's sample",
    NOT_DEFINED: "not defined for the row's method (the LLC section says why)",
}
# An ε-to-flip median over fewer images than this says little about the model: such seeds
# do not count (the sampled 500 images per split leave JTT ~400 correct conflicting ones, a
# colour-reading ERM 0-27).
MIN_IMAGES = 30
# A metric whose run also stores a validity flag counts only where the flag is 1.
VALID_ONLY_WHEN = {"llc": "llc_converged"}
# A metric that cannot take values below a bound counts only at or above it (the LLC is >= 0
# at a local minimum of the loss it is measured on).
VALID_AT_LEAST = {"llc": 0.0}
# A statistic over a model-dependent population names the metric holding its size.
POPULATION = {"eps_to_flip_aligned_correct": "eps_to_flip_aligned_correct_n",
              "eps_to_flip_conflicting_correct": "eps_to_flip_conflicting_correct_n"}


def exclusion(metric: str, metrics: dict[str, float]) -> str | None:
    """Why the run's ``metric`` does not count (a mark), or None when it does."""
    value = metrics.get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_MEASURED
    flag = VALID_ONLY_WHEN.get(metric)
    if flag is not None and metrics.get(flag, 1.0) != 1.0:
        return NOT_CONVERGED
    if metric in VALID_AT_LEAST and value < VALID_AT_LEAST[metric]:
        return NEGATIVE
    size = POPULATION.get(metric)
    if size is not None and metrics.get(size, 0.0) < MIN_IMAGES:
        return TOO_FEW
    return None


def valid_value(metric: str, metrics: dict[str, float]) -> float | None:
    """The run's ``metric`` where it counts, else None."""
    return None if exclusion(metric, metrics) else metrics[metric]


@dataclass(frozen=True)
class Excluded:
    """The seeds a cell leaves out, by reason (a mark), in a fixed order."""
    counts: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, metric: str, records) -> "Excluded":
        reasons = Counter(exclusion(metric, r.metrics) for r in records)
        reasons.pop(None, None)
        return cls(tuple((mark, reasons[mark]) for mark in MARKS if reasons.get(mark)))

    def text(self, shown_alone: bool) -> str:
        """``"3 n/c, 1 <0"``; alone (no seed counted) a single reason is just its mark."""
        if shown_alone and len(self.counts) == 1:
            return self.counts[0][0]
        return ", ".join(f"{count} {mark}" for mark, count in self.counts)


def legend(min_images: int = MIN_IMAGES) -> str:
    """One sentence per mark, for the pages' reading guide."""
    parts = [f"`{mark}`: {text.format(min_images=min_images)}" for mark, text in MARKS.items()]
    return "; ".join(parts)
