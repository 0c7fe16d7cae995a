"""Numbers in the README and the docs that come from the committed records are recomputed
from them (bench/leaderboard/claims.py), so a sentence cannot outlive its number."""
import math
from pathlib import Path

import pytest

from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.claims import check, find_claims, render, statistic
from bench.leaderboard.protocol import MAIN, group_by_protocol
from bench.leaderboard.sources import read_records_dir
from bench.leaderboard.tables import build_rows

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.fixture(scope="module")
def rows_by_slug():
    """The pages' rows: the committed records with the committed re-measured LLCs, as
    ``bench leaderboard`` shows them."""
    from bench.cli.leaderboard_cmd import committed_llcs
    from bench.leaderboard.pages import with_remeasured_llcs
    records, _ = with_remeasured_llcs(read_records_dir(REPO / "leaderboards" / "records"),
                                      committed_llcs(REPO / "leaderboards" / "records"))
    out = {}
    for protocol, recs in group_by_protocol(records).items():
        out[protocol.slug] = {r.label: r for r in build_rows(recs, MethodCatalog.from_registry())}
        if protocol.is_main:
            out["headline"] = out[protocol.slug]
    return out


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_marked_number_is_what_the_records_say(path, rows_by_slug):
    problems = check(find_claims(path.read_text(encoding="utf-8")), rows_by_slug)
    assert problems == [], f"{path.name}: " + "; ".join(problems)


def test_the_findings_mark_their_numbers():
    assert len(find_claims((REPO / "docs" / "findings.md").read_text())) >= 40


def test_a_stale_number_is_caught(rows_by_slug):
    text = "ERM scores 9.9<!--claim headline|erm (epochs=10)|acc_conflicting|mean|100*.1f-->%."
    (problem,) = check(find_claims(text), rows_by_slug)
    assert "says 9.9, the records say 2.7" in problem
    missing = "1.0<!--claim headline|no such row|acc_conflicting|mean|100*.1f-->"
    assert "no row 'no such row'" in check(find_claims(missing), rows_by_slug)[0]


def test_statistics_and_formats():
    values = {0: 0.1, 1: 0.3, 2: None}
    assert statistic(values, "mean") == pytest.approx(0.2)
    assert statistic(values, "n") == 2.0 and statistic(values, "seed=1") == 0.3
    assert math.isnan(statistic(values, "seed=2")) and math.isnan(statistic(values, "seed=9"))
    assert statistic(values, "max") == 0.3 and render(0.0271, "100*.1f") == "2.7"
    assert render(0.0271, ".1%") == "2.7%"


def test_a_selection_rule_s_pick_can_be_claimed():
    from bench.leaderboard.claims import claimed_value
    from bench.record import RunRecord, RunSpec
    rec = RunRecord(RunSpec("jtt", {}, {}), 0, "completed", "none", {"acc_conflicting": 0.9},
                    selection={"last-epoch": {"epoch": 20, "metrics": {"acc_conflicting": 0.74}}})
    assert claimed_value("pick:last-epoch:acc_conflicting", rec) == 0.74
    assert claimed_value("pick:last-epoch:epoch", rec) == 20.0
    assert claimed_value("pick:val-acc:acc_conflicting", rec) is None
    assert claimed_value("acc_conflicting", rec) == 0.9


def test_a_paired_difference_can_be_claimed_as_the_page_computes_it():
    from bench.leaderboard.comparisons import equal_budget_pairs
    from bench.record import RunRecord, RunSpec
    data = {"source": "mnist", "conflict_ratio": 0.05, "mode": "background"}

    def rec(method, seed, llc, converged=1.0):
        spec = RunSpec(method, {"epochs": 20, "batch_size": 16}, data)
        return RunRecord(spec, seed, "completed", "none",
                         {"acc_conflicting": 0.5, "llc": llc, "llc_converged": converged})
    records = [rec("erm", s, 2.0 + 0.1 * s) for s in range(4)]
    records += [rec("jtt", 0, 3.0), rec("jtt", 1, 2.6), rec("jtt", 2, 3.1),
                rec("jtt", 3, 9.0, converged=0.0)]         # seed 3 not a pair
    rows = {"page": {r.label: r for r in build_rows(records, MethodCatalog())}}
    (_, _, test), = equal_budget_pairs(list(rows["page"].values()))
    body = "page|jtt|minus:erm:llc"
    text = (f"+{test.mean_diff:.2f}<!--claim {body}|mean|+.2f--> over "
            f"3<!--claim {body}|n|.0f--> pairs, p = {test.p_value:.3f}<!--claim {body}|p|.3f-->, "
            f"seed 1 +0.50<!--claim {body}|seed=1|+.2f-->")
    assert check(find_claims(text), rows) == []
    stale = check(find_claims("4<!--claim page|jtt|minus:erm:llc|n|.0f-->"), rows)
    assert stale and "the records say 3" in stale[0]
    assert "no row 'ermx'" in check(find_claims("1<!--claim page|jtt|minus:ermx:llc|n|.0f-->"),
                                    rows)[0]


def test_a_marker_without_a_number_before_it_is_an_error_not_skipped():
    with pytest.raises(ValueError, match="no number right before it"):
        find_claims("ERM scores {x}<!--claim headline|erm|acc_conflicting|mean|100*.1f-->%.")
    assert len(find_claims("9.9<!--claim headline|erm|acc_conflicting|mean|100*.1f-->")) == 1
