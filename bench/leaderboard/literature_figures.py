"""Published Colored MNIST figures of the LfF/DFA protocol, each with the source it was read
from, and how each source's official code chose the model it reports.

A figure enters :data:`PUBLISHED` only with the paper, its table and the address of the page
it was read from; a number that cannot be quoted from a source stays out, never typed from
memory (docs/protocols.md). None is here yet: the stored copies of the papers that could be
searched for this module (DFA's text on object.cloud.sdsc.edu and in Google's SPIQA dump,
ar5iv/arXiv pages of the papers that reuse the protocol) answer with their opening pages only,
not with the tables, and no repository file in the code index quotes them. The table module
(:mod:`bench.leaderboard.literature`) shows our rows alone until a figure is added here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedFigure:
    """One published cell: ``method`` is ours that stands for it (erm for "Vanilla"),
    ``ratio`` the conflict ratio, ``value`` (and ``std``) in % of the paper's metric."""
    method: str
    ratio: float
    value: float
    std: float | None
    paper: str          # e.g. "Lee et al. 2021 (DFA)"
    table: str          # e.g. "Table 1"
    address: str        # the page the figure was read from
    selection: str      # how the paper's code chose the reported model (SELECTION)


# How each source's official code picks the model whose accuracy it reports, read from the code.
SELECTION = {
    "LfF": ("no validation split: the unbiased test set is evaluated every epoch "
            "(alinlab/LfF train.py:269-303) and the last step's model is saved "
            "(train.py:305-317); which of the logged values the paper reports, the code "
            "does not say"),
    "DFA": ("best test epoch: test accuracy every 500 steps, the best one kept and saved "
            "(kakaoenterprise/Learning-Debiased-Disentangled learner.py:328-341)"),
}

PUBLISHED: tuple[PublishedFigure, ...] = ()
