"""Published Colored MNIST figures of the LfF/DFA protocol, each with the source it was read
from, and how each source's official code chose the model it reports.

A figure enters :data:`PUBLISHED` only with the paper, its table and the address of the page
it was read from; a number that cannot be quoted from a source stays out, never typed from
memory (docs/protocols.md). LfF's and DFA's own tables could not be read: the stored copies of
both papers (DFA's text on object.cloud.sdsc.edu and in Google's SPIQA dump, ar5iv/arXiv pages
of the papers that reuse the protocol) answer with their opening pages only, and no repository
file in the code index quotes them. What could be read in full is a later paper that reran the
protocol's methods with their official code: DeNetDM (Sreelatha et al., NeurIPS 2024), Table 1,
CMNIST columns, five seeds, mean (std). Those are DeNetDM's reruns, labelled so on the page,
not LfF's or DFA's published numbers.
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
    address: str        # the paper's page
    selection: str      # how the paper's code chose the reported model (SELECTION)
    read_from: str = ""  # where its text was read, when not at ``address``


# How each source's official code picks the model whose accuracy it reports, read from the code.
SELECTION = {
    "LfF": ("no validation split: the unbiased test set is evaluated every epoch "
            "(alinlab/LfF train.py:269-303) and the last step's model is saved "
            "(train.py:305-317); which of the logged values the paper reports, the code "
            "does not say"),
    "DFA": ("best test epoch: test accuracy every 500 steps, the best one kept and saved "
            "(kakaoenterprise/Learning-Debiased-Disentangled learner.py:328-341)"),
}

DENETDM = "Sreelatha et al. 2024 (DeNetDM, NeurIPS 2024): reruns of each method's official code"
DENETDM_TABLE = ("Table 1, CMNIST columns (caption: \"For CMNIST, we utilize the official "
                 "repositories to obtain the models\"; \u00a74.1: five seeds, mean (std))")
DENETDM_ADDRESS = "https://arxiv.org/abs/2403.19863"
DENETDM_READ_FROM = ("the paper's full text in the search tool's code index (file id "
                     "58240237676), read 2026-12-05")
DENETDM_SELECTION = ("not stated by DeNetDM; the official code it reran keeps the best test "
                     "checkpoint for DFA (learner.py:337-341) and LC (learner.py:603-606), and "
                     "logs test accuracy every epoch, saving the last model, for LfF "
                     "(train.py:269-317)")

# DeNetDM Table 1, CMNIST 0.5 / 1.0 / 2.0 / 5.0 (% conflicting), as printed: mean (std); its
# Group DRO row ("✓": bias labels) prints no std.
_DENETDM_ROWS = {
    "erm": ((35.34, 0.13), (50.34, 0.16), (62.29, 1.47), (77.63, 0.13)),
    "jtt": ((53.03, 3.89), (61.68, 2.02), (74.23, 3.21), (85.03, 1.10)),
    "lff-paper": ((63.39, 1.97), (74.01, 2.21), (80.48, 0.45), (85.39, 0.94)),
    "dfa": ((59.12, 3.15), (71.04, 1.02), (82.86, 2.27), (88.29, 1.50)),
    "groupdro": ((59.67, None), (71.33, None), (76.30, None), (84.40, None)),
}

PUBLISHED: tuple[PublishedFigure, ...] = tuple(
    PublishedFigure(method, ratio, value, std, DENETDM, DENETDM_TABLE, DENETDM_ADDRESS,
                    DENETDM_SELECTION, DENETDM_READ_FROM)
    for method, cells in _DENETDM_ROWS.items()
    for ratio, (value, std) in zip((0.005, 0.01, 0.02, 0.05), cells))
