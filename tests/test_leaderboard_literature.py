"""The literature table: our rows of the lff-cmnist preset in the papers' layout, per
selection rule, with a published figure beside ours only when it comes with its source."""
from __future__ import annotations

import dataclasses

from bench.leaderboard import pages
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.literature import (SLUG, literature_page, picked_metrics,
                                          unbiased_accuracy)
from bench.leaderboard.literature_figures import PUBLISHED, PublishedFigure
from bench.record import RunRecord
from bench.runs.grid import SweepGrid, expand

CATALOG = MethodCatalog.from_registry()


def record(method: str, ratio: float, seed: int, aligned: float, conflicting: float,
           source: str = "mnist", **sets) -> RunRecord:
    grid = SweepGrid((method,), protocol="lff-cmnist", conflict_ratios=(ratio,), first_seed=seed,
                     sets=tuple((k, (str(v),)) for k, v in sets.items()))
    (job,) = expand(grid, source)
    picks = {"val-acc": {"epoch": 90, "score": 0.9, "curve": [],
                         "metrics": {"acc_aligned": aligned, "acc_conflicting": conflicting}},
             "oracle-test": {"epoch": 40, "score": 0.95, "curve": [],
                             "metrics": {"acc_aligned": 1.0, "acc_conflicting": 0.5}}}
    return RunRecord(job.spec, seed, "completed", "none",
                     {"acc_aligned": aligned, "acc_conflicting": conflicting,
                      "seconds_train": 1800.0, "seconds_eval": 0.0}, device="cuda",
                     selection_rule="val-acc", selection=picks)


def test_unbiased_accuracy_weights_aligned_images_a_tenth():
    assert unbiased_accuracy({"acc_aligned": 1.0, "acc_conflicting": 0.5}) == 0.55
    assert unbiased_accuracy({"acc_aligned": 1.0}) is None
    old = dataclasses.replace(record("erm", 0.01, 0, 0.9, 0.2), selection={},
                              selection_rule=None)
    assert picked_metrics(old, "val-acc") == old.metrics      # before picks were stored
    assert picked_metrics(old, "last-epoch") is None


def test_the_table_has_our_cells_per_rule_and_leaves_out_other_runs():
    records = [record("erm", 0.01, 0, 0.9, 0.2), record("erm", 0.01, 1, 0.8, 0.3),
               record("dfa", 0.05, 0, 1.0, 0.8),
               record("erm", 0.01, 2, 0.0, 0.0, source="mnist-5k"),   # a smoke run
               record("erm", 0.01, 3, 0.0, 0.0, lr=0.01)]              # a --set variant
    page = literature_page(records, CATALOG, "bench leaderboard", published=())
    # erm at 1%: (0.9 + 9 x 0.2) / 10 = 0.27, (0.8 + 2.7) / 10 = 0.35 -> 31.0 ± 5.7 (n=2)
    assert "| Vanilla (`erm`) | — | 31.0 ± 5.7 (n=2) | — | — |" in page
    assert "| DFA (`dfa`) | — | — | — | 82.0 (n=1) |" in page
    oracle = page.split("## Selected by `oracle-test`")[1]
    assert "ORACLE" in oracle.splitlines()[0] and "| DFA (`dfa`) | — | — | — | 55.0 (n=1) |" in oracle
    assert "## Selected by `val-acc`" in page and "## Selected by `pseudo-group`" in page
    assert "val-worst-group" not in page            # reads bias labels: not a label-free rule
    assert "None quoted yet" in page and "best test epoch" in page
    assert "1.50 h on cuda" in page                 # 3 kept runs x 1,800 s
    assert literature_page(records[3:], CATALOG, "x") is None


def test_a_set_variant_gets_its_own_rows_under_three_rules():
    """A --set run is out of the papers' table, but tests one difference: its own section."""
    records = [record("erm", 0.01, 0, 0.9, 0.2),
               record("erm", 0.005, 0, 1.0, 0.3, lr=0.01), record("erm", 0.005, 1, 1.0, 0.5, lr=0.01)]
    page = literature_page(records, CATALOG, "x", published=())
    variants = page.split("## Variants")[1].split("## Published")[0]
    # val-acc: (1.0 + 2.7) / 10 = 0.37 and (1.0 + 4.5) / 10 = 0.55; oracle: 0.55 both
    assert "| `erm (lr=0.01)` | `val-acc` | 46.0 ± 12.7 (n=2) | — | — | — |" in variants
    assert "| `erm (lr=0.01)` | `oracle-test` | 55.0 ± 0.0 (n=2) | — | — | — |" in variants
    assert "| `erm (lr=0.01)` | `last-epoch` | — | — | — | — |" in variants   # no pick stored
    assert "Variants" not in literature_page(records[:1], CATALOG, "x", published=())


def test_a_published_figure_appears_beside_ours_with_its_source():
    figure = PublishedFigure("dfa", 0.05, 12.34, 0.5, "Someone et al. (test double)", "Table 9",
                             "https://example.org/paper", "best test epoch")
    page = literature_page([record("dfa", 0.05, 0, 1.0, 0.8)], CATALOG, "x", (figure,))
    assert "| ↳ published | — | — | — | 12.34 ± 0.50 [1] |" in page
    assert "1. Someone et al. (test double), Table 9 (https://example.org/paper); " \
           "selection: best test epoch." in page
    other = PublishedFigure("dfa", 0.01, 50.0, None, "Another (test double)", "Table 2",
                            "https://example.org/other", "last epoch", read_from="a copy")
    page = literature_page([record("dfa", 0.05, 0, 1.0, 0.8)], CATALOG, "x", (figure, other))
    assert "| ↳ published | — | 50.00 [2] | — | 12.34 ± 0.50 [1] |" in page
    assert "2. Another (test double), Table 2 (https://example.org/other, read from a copy); " \
           "selection: last epoch." in page


def test_the_gap_table_subtracts_the_published_figure_per_rule_and_marks_large_ones():
    figure = PublishedFigure("erm", 0.01, 30.0, 1.0, "P", "T", "https://example.org", "s")
    records = [record("erm", 0.01, 0, 0.9, 0.2), record("erm", 0.01, 1, 0.8, 0.3),
               record("dfa", 0.01, 0, 1.0, 0.8)]                     # no figure: no gap row
    page = literature_page(records, CATALOG, "x", (figure,))
    gaps = page.split("## Ours minus published")[1].split("\n## ")[0]
    # val-acc: 31.0 - 30.0; oracle-test: (1.0 + 4.5) / 10 = 55.0 - 30.0, beyond 5 points
    assert "| Vanilla (`erm`) | `val-acc` | — | +1.0 (n=2) | — | — |" in gaps
    assert "| Vanilla (`erm`) | `oracle-test` | — | +25.0 (n=2) **!** | — | — |" in gaps
    assert "DFA" not in gaps
    assert "Ours minus" not in literature_page(records, CATALOG, "x", published=())


def test_the_committed_figures_are_denetdms_reruns_cited_once():
    """DeNetDM's Table 1 (the one table read in full): five rows x four ratios, one footnote."""
    page = literature_page([record("erm", 0.005, 0, 1.0, 0.3)], CATALOG, "x")
    assert "| ↳ published | 35.34 ± 0.13 [1] | 50.34 ± 0.16 [1] | 62.29 ± 1.47 [1] | " \
           "77.63 ± 0.13 [1] |" in page
    assert page.count("2403.19863") == 1 and "reruns" in page
    assert {f.method for f in PUBLISHED} == {"erm", "jtt", "lff-paper", "dfa", "groupdro"}
    assert len(PUBLISHED) == 20


def test_every_committed_figure_names_its_table_page_and_selection():
    for figure in PUBLISHED:
        assert figure.paper and figure.table and figure.address.startswith("http")
        assert figure.selection and figure.ratio in (0.005, 0.01, 0.02, 0.05)


def test_bench_leaderboard_writes_the_page_and_links_it_from_the_index():
    records = [record("erm", 0.01, 0, 0.9, 0.2), record("erm", 0.01, 1, 0.8, 0.3)]
    rendered, _ = pages.render(records, CATALOG, "bench leaderboard")
    assert f"{SLUG}.md" in rendered
    assert f"]({SLUG}.md)" in rendered["README.md"]
    assert "lff-cmnist-mnist-r0.01-mlp-3x100.md" in rendered
