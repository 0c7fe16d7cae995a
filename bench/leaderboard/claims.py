"""Numbers in prose that cannot outlive their records.

A number in the README or the docs that comes from the committed records carries an invisible
marker right after it naming where it comes from::

    ERM scores 2.7%<!--claim headline|erm (epochs=10)|acc_conflicting|mean|.1%--> on ...

Fields: the protocol page's slug (``headline`` for the main protocol), the row label as the
page shows it, the metric (or ``pick:RULE:METRIC``, ``pick:RULE:epoch``: a selection rule's
pick; or ``minus:ROW B:METRIC``: the per-seed difference row − ROW B over the seeds where both
have a valid value, as the pages' paired comparisons take it), the statistic (``mean``,
``std``, ``min``, ``max``, ``n``, ``seed=K``, or ``p``: the two-sided paired t-test's p of a
``minus:`` difference) and a format (a Python format spec, with an optional ``100*`` scale: ``100*.1f``
writes 0.027 as ``2.7``). ``tests/test_docs_claims.py`` recomputes every marked number from the
records and fails when the text no longer says it, so a sentence is corrected when its number
moves. A reader sees only the number.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bench.leaderboard.cells import valid_value
from bench.leaderboard.stats import compare, mean_std

CLAIM = re.compile(r"(?P<value>[-+]?\d[\d,]*(?:\.\d+)?%?)<!--claim (?P<body>[^>]*?)-->")
MARKER = re.compile(r"<!--claim ")


@dataclass(frozen=True)
class Claim:
    value: str
    slug: str
    row: str
    metric: str
    stat: str
    fmt: str
    line: int


def find_claims(text: str) -> list[Claim]:
    """Every claim of ``text``; a marker without a number right before it is an error (it
    would otherwise be skipped, and the text beside it never checked)."""
    line_of = lambda at: text.count("\n", 0, at) + 1   # noqa: E731
    out, ends = [], set()
    for match in CLAIM.finditer(text):
        fields = [f.strip() for f in match.group("body").split("|")]
        if len(fields) != 5:
            raise ValueError(f"line {line_of(match.start())}: a claim needs "
                             f"slug|row|metric|stat|format, got {match.group('body')!r}")
        out.append(Claim(match.group("value"), *fields, line=line_of(match.start())))
        ends.add(match.end("value"))                 # where this claim's marker starts
    for marker in MARKER.finditer(text):
        if marker.start() not in ends:
            before = text[max(0, marker.start() - 12):marker.start()]
            raise ValueError(f"line {line_of(marker.start())}: a claim marker with no number "
                             f"right before it: {before!r}")
    return out


def statistic(values: dict[int, float | None], stat: str) -> float:
    counted = [v for v in values.values() if v is not None]
    if stat.startswith("seed="):
        value = values.get(int(stat.split("=", 1)[1]))     # absent seed or value: NaN
        return math.nan if value is None else value
    if stat == "n":
        return float(len(counted))
    if stat in ("min", "max"):
        return (min if stat == "min" else max)(counted) if counted else math.nan
    mean, std, _ = mean_std(counted)
    return {"mean": mean, "std": std}[stat]


def claimed_value(metric: str, record) -> float | None:
    """A record's metric, or ``pick:RULE:METRIC`` (``pick:RULE:epoch``): what selection rule
    RULE's pick scored (its epoch); None where the record lacks it (counted as absent)."""
    if not metric.startswith("pick:"):
        return valid_value(metric, record.metrics)
    _, rule, name = metric.split(":", 2)
    picked = (record.selection or {}).get(rule) or {}
    value = picked.get("epoch") if name == "epoch" else (picked.get("metrics") or {}).get(name)
    return None if value is None else float(value)


def render(value: float, fmt: str) -> str:
    scale = 1.0
    if fmt.startswith("100*"):
        scale, fmt = 100.0, fmt[len("100*"):]
    return format(value * scale, fmt)


def check(claims: list[Claim], rows_by_slug: dict[str, dict[str, object]]) -> list[str]:
    """One message per claim whose text differs from what its records say."""
    problems = []
    for claim in claims:
        rows = rows_by_slug.get(claim.slug)
        row = None if rows is None else rows.get(claim.row)
        if row is None:
            problems.append(f"line {claim.line}: no row {claim.row!r} on page {claim.slug!r}")
            continue
        if claim.metric.startswith("minus:"):
            _, other_label, metric = claim.metric.split(":", 2)
            other = rows.get(other_label)
            if other is None:
                problems.append(f"line {claim.line}: no row {other_label!r} on page "
                                f"{claim.slug!r}")
                continue
            mine = {r.seed: claimed_value(metric, r) for r in row.records}
            theirs = {r.seed: claimed_value(metric, r) for r in other.records}
            values = {s: v - theirs[s] for s, v in mine.items()
                      if v is not None and theirs.get(s) is not None}
            if claim.stat == "p":
                expected = render(compare(mine, theirs).p_value, claim.fmt)   # the page's test
            else:
                expected = render(statistic(values, claim.stat), claim.fmt)
        else:
            values = {r.seed: claimed_value(claim.metric, r) for r in row.records}
            expected = render(statistic(values, claim.stat), claim.fmt)
        if expected != claim.value:
            problems.append(f"line {claim.line}: says {claim.value}, the records say {expected} "
                            f"({claim.row}, {claim.metric}, {claim.stat} on {claim.slug})")
    return problems
