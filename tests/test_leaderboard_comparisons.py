"""LLC compared only between rows of equal training budget, by a paired test."""
import pytest
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.comparisons import equal_budget_pairs, llc_section
from bench.leaderboard.tables import build_rows
from bench.record import RunRecord, RunSpec

pytestmark = pytest.mark.usefixtures("synthetic_main")

DATA = {"source": "mnist", "conflict_ratio": 0.05, "mode": "background"}


def rec(method, seed, llc, epochs, converged=1.0):
    spec = RunSpec(method, {"epochs": epochs, "batch_size": 16}, DATA)
    return RunRecord(spec, seed, "completed", "none",
                     {"acc_conflicting": 0.5, "llc": llc, "llc_converged": converged})


def rows_of(records):
    return {r.label: r for r in build_rows(records, MethodCatalog())}


def test_only_rows_of_equal_budget_are_compared_over_converged_shared_seeds():
    records = [rec("erm", s, 3.4 + 0.1 * s, 10) for s in range(3)]
    records += [rec("erm", s, 2.6 + 0.1 * s, 20) for s in range(3)]
    records += [rec("jtt", s, 2.9 + 0.1 * s, 20) for s in range(3)]
    records += [rec("jtt", 3, 9.9, 20, converged=0.0), rec("erm", 3, 2.0, 20)]
    pairs = equal_budget_pairs(list(rows_of(records).values()))
    assert len(pairs) == 1
    a, b, test = pairs[0]
    assert (a.method, b.method) == ("jtt", "erm")
    assert test.n == 3                                   # seed 3's jtt chain did not converge
    assert abs(abs(test.mean_diff) - 0.3) < 1e-9 and test.p_value == 0.0


def test_the_section_says_when_nothing_is_comparable():
    records = [rec("erm", s, 3.4, 10) for s in range(2)] + [rec("jtt", s, 2.9, 20)
                                                            for s in range(2)]
    text = "\n".join(llc_section(list(rows_of(records).values())))
    assert "No row shares a training budget" in text


def test_the_section_shows_the_paired_difference():
    records = [rec("erm", s, 2.6 + 0.05 * s * s, 20) for s in range(3)]
    records += [rec("jtt", s, 2.9, 20) for s in range(3)]
    text = "\n".join(llc_section(list(rows_of(records).values())))
    assert "| 20, 16 | 3 |" in text and "p |" in text


def test_rows_are_compared_with_erm_not_with_each_other():
    records = [rec(m, s, 2.0 + 0.1 * s + i, 10) for i, m in enumerate(("erm", "jtt", "lff"))
               for s in range(3)]
    pairs = equal_budget_pairs(list(rows_of(records).values()))
    assert sorted((a.method, b.method) for a, b, _ in pairs) == [("jtt", "erm"), ("lff", "erm")]


def test_a_negative_llc_is_left_out_of_the_column_and_the_comparison():
    # greyscale's model is measured on coloured images it never trained on: not at a minimum
    records = [rec("erm", s, 2.5 + 0.1 * s, 10) for s in range(3)]
    records += [rec("greyscale", s, -100.0 - s, 10) for s in range(2)]
    records += [rec("greyscale", 2, 4.0, 10)]
    rows = rows_of(records)
    assert rows["greyscale"].summary("llc").n == 1
    assert rows["greyscale"].summary("llc").mean == pytest.approx(4.0)
    assert equal_budget_pairs(list(rows.values())) == []   # one valid pair is not a test


def measured(method, seed, llc, mcse, rhat, epochs=10, converged=1.0):
    record = rec(method, seed, llc, epochs, converged)
    record.metrics.update({"llc_mcse": mcse, "llc_rhat": rhat})
    return record


def test_rows_with_mcse_get_the_estimator_table_with_medians_and_counts():
    records = [measured("erm", s, 2.0 + 0.2 * s, 0.1 + 0.1 * s, 1.0 + 0.01 * s) for s in range(3)]
    records += [measured("jtt", 0, 3.0, 0.4, 1.2, converged=0.0), measured("jtt", 1, 3.5, 0.6, 1.04),
                rec("jtt", 2, None, 10)]
    text = "\n".join(llc_section(list(rows_of(records).values())))
    assert "| erm | 10, 16 | 3 of 3 | 3 | 2.20 ± 0.20 | 0.20 | 1.010 |" in text
    # jtt: seed 2 measured nothing, seed 0 did not converge; medians over the measured seeds
    assert "| jtt | 10, 16 | 2 of 3 | 1 | 3.50 | 0.50 | 1.120 |" in text


def test_the_estimator_table_is_absent_without_mcse_and_the_remeasured_settings_are_stated():
    records = [rec("erm", s, 2.0, 10) for s in range(2)]
    rows = list(rows_of(records).values())
    assert "median MCSE" not in "\n".join(llc_section(rows))
    settings = {"chains": 2, "burnin": 50, "draws": 100, "lr": 1e-3, "localization": 100.0,
                "nbeta": None, "batch_size": 256, "subset": 4096, "convergence": "noise-aware"}
    text = "\n".join(llc_section(rows, settings))
    assert "re-measured" in text
    assert "2 chains × (50 burn-in + 100 draws)" in text and "≈ 46.2" in text
    assert "4,096-image" in text and "`noise-aware`" in text


def test_a_method_that_declares_the_llc_undefined_shows_n_a_and_its_reason():
    from bench.leaderboard.format import value_cell
    from bench.leaderboard.tables import COLUMNS
    records = [measured("erm", s, 2.0 + 0.2 * s, 0.1, 1.0) for s in range(3)]
    # stored estimates of such a method (made before it declared) are never shown or paired
    records += [measured("ablate-texture", s, 2.5 + 0.1 * s, 0.1, 1.0) for s in range(3)]
    catalog = MethodCatalog(llc_undefined={"ablate-texture": "a mask applied after training"})
    rows = {r.label: r for r in build_rows(records, catalog)}
    column = next(c for c in COLUMNS if c.metric == "llc")
    assert value_cell(rows["ablate-texture"], column) == "n/a"
    assert value_cell(rows["erm"], column) != "n/a"
    assert rows["ablate-texture"].summary("llc").n == 0
    text = "\n".join(llc_section(list(rows.values())))
    assert "`ablate-texture` (a mask applied after training)" in text
    assert "| ablate-texture |" not in text                 # not in the estimator table
    undeclared = {r.label: r for r in build_rows(records, MethodCatalog())}
    assert undeclared["ablate-texture"].summary("llc").n == 3


def test_the_registry_catalog_carries_the_methods_declarations():
    catalog = MethodCatalog.from_registry()
    assert "ablate-texture" in catalog.llc_undefined and "color-kl" in catalog.llc_undefined
    assert "erm" not in catalog.llc_undefined and "greyscale" not in catalog.llc_undefined


def test_pairs_are_separated_only_where_holm_over_the_table_rejects():
    # lff's pair alone would pass p < 0.05; in a family of three pairs Holm rejects the
    # smallest p at 0.05 / 3 (jtt) and then needs 0.05 / 2 for the next (lff's ~0.03 fails)
    records = [rec("erm", s, 2.0 + 0.3 * s, 10) for s in range(4)]
    records += [rec("jtt", s, 2.0 + 0.3 * s + d, 10)
                for s, d in enumerate((5.0, 5.1, 4.9, 5.05))]                    # p ~ 1e-6
    records += [rec("lff", s, 2.0 + 0.3 * s + d, 10)
                for s, d in enumerate((1.0, 2.5, 0.8, 2.9))]                     # p ~ 0.03
    records += [rec("kmeans", s, 2.0 + 0.3 * s + d, 10)
                for s, d in enumerate((0.4, -0.5, 0.1, -0.2))]                   # p ~ 0.9
    rows = list(rows_of(records).values())
    p = {a.method: t.p_value for a, _, t in equal_budget_pairs(rows)}
    assert p["jtt"] < 0.001 and 0.025 < p["lff"] < 0.05 and p["kmeans"] > 0.5
    lines = {line.split(" | ")[0].strip("| "): line for line in llc_section(rows)
             if line.startswith("| ") and " erm " in line}
    assert lines["jtt"].endswith("| separated |")
    assert lines["lff"].endswith("| not separated |")
    assert lines["kmeans"].endswith("| not separated |")
