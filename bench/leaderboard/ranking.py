"""Which rows of a supervision class the data separate: paired tests, Holm's correction and a
compact letter display.

Within a class every pair of ranked rows is compared on ``acc_conflicting`` (paired t over
shared seeds, Welch without them: :func:`bench.leaderboard.stats.compare`), and Holm's
procedure keeps the family-wise error of all the class's pairs at 5%. The result is shown as
letters (Piepho 2004): two rows share a letter exactly when the corrected tests do not separate
them, so "not separated" needs no transitivity it does not have (a can match b, b match c,
while a and c differ: a "ab" "b"). Letters follow the means: the best row's group is "a".
"""
from __future__ import annotations

import string
from itertools import combinations
from typing import Hashable, Sequence

from bench.leaderboard.stats import FAMILY_LEVEL, compare, holm_rejections

MIN_SEEDS_TO_RANK = 2


def separated_pairs(values: dict[Hashable, dict[int, float | None]],
                    level: float = FAMILY_LEVEL) -> set[frozenset]:
    """The pairs of rows (keys of ``values``: seed -> value) that Holm-corrected pairwise tests
    separate at family-wise ``level``."""
    tests = {frozenset((a, b)): compare(values[a], values[b]).p_value
             for a, b in combinations(values, 2)}
    return holm_rejections(tests, level)


def letter_display(order: Sequence[Hashable], separated: set[frozenset]) -> dict[Hashable, str]:
    """A compact letter display by insert-and-absorb (Piepho 2004): start with one group of
    every row; for each separated pair, split every group holding both into one without either
    member; drop groups inside others. Rows sharing a group are not separated. ``order`` (best
    first) names the groups: the group of the best row gets "a"."""
    groups: list[frozenset] = [frozenset(order)] if order else []
    for pair in sorted(separated, key=lambda p: sorted(order.index(x) for x in p)):
        a, b = sorted(pair, key=order.index)
        split = []
        for group in groups:
            if a in group and b in group:
                split += [group - {a}, group - {b}]
            else:
                split.append(group)
        groups = [g for g in split if g and not any(g < other for other in split)]
        groups = list(dict.fromkeys(groups))
    # the group whose best member ranks highest gets the first letter, and so on
    groups.sort(key=lambda g: sorted(order.index(x) for x in g))
    names = string.ascii_lowercase + string.ascii_uppercase
    letters = {row: "" for row in order}
    for name, group in zip(names, groups):
        for row in group:
            letters[row] += name
    return letters


def holds(letters: dict[Hashable, str], separated: set[frozenset]) -> bool:
    """The display's defining property: two rows share a letter exactly when the tests did
    not separate them."""
    for a, b in combinations(letters, 2):
        share = bool(set(letters[a]) & set(letters[b]))
        if share == (frozenset((a, b)) in separated):
            return False
    return True
