"""Ranking, references, variants, missing metrics and the published block."""
import pytest
from bench.datasets.colored_mnist import PALETTE
from bench.leaderboard import pages
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.protocol import protocol_of
from bench.leaderboard.published import SEED_REPORT
from bench.leaderboard.format import value_cell
from bench.leaderboard.ranking import holds, separated_pairs
from bench.leaderboard.tables import COLUMNS, build_rows, render_table
from bench.record import RunRecord, RunSpec

pytestmark = pytest.mark.usefixtures("synthetic_main")

HP = {"epochs": 10, "lr": 0.1}
CATALOG = MethodCatalog({"erm": HP, "jtt": HP, "greyscale": HP, "groupdro": HP},
                        frozenset({"greyscale"}))


def rec(method, seed, acc, supervision="none", hparams=None, ratio=0.05, **metrics):
    data = {"source": "mnist", "conflict_ratio": ratio, "mode": "background", "jitter": 0.0,
            "val_fraction": 0.1, "palette": [list(c) for c in PALETTE]}
    spec = RunSpec(method, dict(hparams or HP), data)
    return RunRecord(spec, seed, "completed", supervision, {"acc_conflicting": acc, **metrics},
                     created_at="2025-01-01T00:00:00+00:00")


def by_label(rows):
    return {r.label: r for r in rows}


def _seeds(method, accs, supervision="none", **kw):
    return [rec(method, s, a, supervision, **kw) for s, a in enumerate(accs)]


def column(metric):
    return next(c for c in COLUMNS if c.metric == metric)


def test_letters_are_per_supervision_class_and_unseparated_rows_share_one():
    records = (_seeds("erm", [0.05, 0.06, 0.04, 0.05, 0.05])
               + _seeds("jtt", [0.80, 0.82, 0.79, 0.81, 0.80])
               + _seeds("kmeans", [0.81, 0.80, 0.80, 0.80, 0.81])      # within noise of jtt
               + _seeds("lff", [0.70, 0.71, 0.69, 0.70, 0.72])
               + _seeds("groupdro", [0.60, 0.61, 0.60, 0.62, 0.60], "bias labels on train")
               + _seeds("color-kl", [0.30, 0.31, 0.30, 0.32, 0.30], "bias labels on train"))
    rows = by_label(build_rows(records, CATALOG))
    assert (rows["kmeans"].letters, rows["jtt"].letters) == ("a", "a")
    assert rows["lff"].letters == "b" and rows["erm"].letters == "c"
    # groupdro reads bias labels: compared within its own class, not behind the others
    assert (rows["groupdro"].letters, rows["color-kl"].letters) == ("a", "b")
    table = render_table(build_rows(records, CATALOG))
    assert "| a " in table and "| c " in table and "=1" not in table


def _synthetic_from_the_page_of_r005():
    """lff and erm (epochs=10) of the r = 0.05 baseline page: a paired t-test does not
    separate them (t = 1.04, 4 df, p = 0.36), so they must share a letter, and erm
    (epochs=10)'s one p = 0.029 against erm (epochs=20) does not survive Holm's correction."""
    erm10 = [0.0207, 0.0710, 0.0000, 0.0440, 0.0006]
    erm20 = [0.0954, 0.2328, 0.0224, 0.1294, 0.0490]
    lff = [0.0021, 0.0237, 0.0000, 0.0137, 0.0079]
    return (_seeds("erm", erm10) + _seeds("erm", erm20, hparams={**HP, "epochs": 20})
            + _seeds("lff", lff) + _seeds("jtt", [0.886, 0.90, 0.87, 0.89, 0.88]))


def test_the_displayed_letters_are_exactly_the_legend_s_rule():
    rows = build_rows(_synthetic_from_the_page_of_r005(), CATALOG)
    by = by_label(rows)
    values = {r.label: r.by_seed("acc_conflicting") for r in rows}
    separated = separated_pairs(values)
    letters = {r.label: r.letters for r in rows}
    assert holds(letters, separated)     # share a letter <=> the corrected tests do not separate
    assert set(by["lff"].letters) & set(by["erm (epochs=10)"].letters)
    assert frozenset({"lff", "erm (epochs=10)"}) not in separated
    assert by["jtt"].letters == "a" and "a" not in by["erm (epochs=20)"].letters


def test_holm_keeps_fewer_separations_than_uncorrected_tests():
    from bench.leaderboard.stats import compare
    rows = build_rows(_synthetic_from_the_page_of_r005(), CATALOG)
    values = {r.label: r.by_seed("acc_conflicting") for r in rows}
    raw = {frozenset((a, b)) for a in values for b in values
           if a < b and compare(values[a], values[b]).significant(0.05)}
    assert separated_pairs(values) < raw


def test_a_consistent_paired_difference_separates_rows_that_overlap_unpaired():
    # seed difficulty varies a lot, but jtt beats kmeans by 1 point on every seed
    base = [0.60, 0.90, 0.70, 0.80, 0.65]
    records = _seeds("jtt", [b + 0.01 for b in base]) + _seeds("kmeans", base)
    rows = by_label(build_rows(records, CATALOG))
    assert (rows["jtt"].letters, rows["kmeans"].letters) == ("a", "b")
    # the same numbers on different seeds are not paired, and Welch's test cannot separate them
    shifted = [rec("kmeans", s + 10, a) for s, a in enumerate(base)]
    rows = by_label(build_rows(_seeds("jtt", [b + 0.01 for b in base]) + shifted, CATALOG))
    assert (rows["jtt"].letters, rows["kmeans"].letters) == ("a", "a")


def test_a_row_of_one_seed_and_a_class_of_one_get_no_letters():
    records = [rec("erm", 0, 0.05)] + _seeds("jtt", [0.80, 0.81]) + _seeds("lff", [0.1, 0.2])
    records += _seeds("dfr", [0.14, 0.2], "bias labels on validation")
    rows = by_label(build_rows(records, CATALOG))
    assert rows["erm"].letters is None and rows["jtt"].letters == "a"
    assert rows["dfr"].letters is None                    # alone in its class: no rank
    assert "| —  " in render_table(build_rows(records, CATALOG))


def test_a_bimodal_row_shows_median_iqr_and_every_seed():
    records = _seeds("lff", [0.0, 0.029, 0.0, 0.779, 0.008]) + _seeds("erm", [0.5, 0.52, 0.49,
                                                                               0.51, 0.5])
    rows = by_label(build_rows(records, CATALOG))
    column = next(c for c in COLUMNS if c.metric == "acc_conflicting")
    assert value_cell(rows["lff"], column) == (
        "median 0.80, IQR [0.00, 2.90]; per seed 0.00, 2.90, 0.00, 77.90, 0.80")
    assert value_cell(rows["erm"], column).startswith("50.40 ± 1.14 [")


def test_a_row_too_small_for_the_clump_test_lists_its_seeds_beside_the_mean():
    """JTT at r = 0.02: seeds 9.5, 75.1 and 77.2 would otherwise read as 54 ± 38."""
    records = _seeds("jtt", [0.095, 0.751, 0.772]) + _seeds("erm", [0.5, 0.52, 0.49, 0.51])
    rows = by_label(build_rows(records, CATALOG))
    column = next(c for c in COLUMNS if c.metric == "acc_conflicting")
    jtt = value_cell(rows["jtt"], column)
    assert jtt.startswith("53.93 ± 38.49 [") and jtt.endswith("]; per seed 9.50, 75.10, 77.20")
    assert "per seed" not in value_cell(rows["erm"], column)            # 4 seeds: tested
    assert value_cell(build_rows([rec("erm", 0, 0.05)], CATALOG)[0], column) == "5.00"
    colour = next(c for c in COLUMNS if c.metric == "color_following")
    assert "per seed" not in value_cell(rows["jtt"], colour)            # only the ranked metric


def test_every_row_counts_its_failed_runs_and_a_rerun_cancels_a_failure():
    records = _seeds("erm", [0.05, 0.06, 0.05])
    failed = rec("erm", 3, 0.0)
    failed.status, failed.metrics = "failed", {}
    rerun_failure = rec("erm", 0, 0.0)
    rerun_failure.status, rerun_failure.metrics = "failed", {}
    rows = build_rows(records + [failed, rerun_failure], CATALOG)
    assert rows[0].failed == 1
    header, _, line = render_table(rows).splitlines()[:3]
    assert [c.strip() for c in header.split("|")][1:6] == ["group", "method", "supervision",
                                                            "seeds", "failed"]
    assert [c.strip() for c in line.split("|")][4:6] == ["3", "1"]


def test_a_spec_whose_every_run_failed_is_named_on_its_page():
    records = _seeds("erm", [0.05, 0.06])
    failed = rec("jtt", 0, 0.0)
    failed.status, failed.metrics, failed.error = "failed", {}, "FloatingPointError: NaN"
    rows = build_rows(records + [failed], CATALOG)
    lines = pages.failed_only_lines(rows, [failed])
    assert any("`jtt`" in line and "1 run failed" in line and "NaN" in line for line in lines)


def test_the_headline_table_leaves_out_the_llc_column():
    rows = build_rows(_seeds("erm", [0.05, 0.06], llc=2.0), CATALOG)
    assert "| LLC " in render_table(rows)
    assert "LLC" not in render_table(rows, headline=True)


def test_knowledge_of_the_bias_form_is_its_own_class():
    form = "knowledge of the bias's form"
    records = _seeds("erm", [0.05, 0.06, 0.05]) + _seeds("ablate", [0.2, 0.25, 0.22], form)
    rows = by_label(build_rows(records, CATALOG))   # ablate would beat erm in one class
    assert rows["erm"].letters is None and rows["ablate"].letters is None   # classes of one
    assert [r.label for r in build_rows(records, CATALOG)] == ["erm", "ablate"]


def test_references_are_shown_last_and_not_ranked():
    records = [rec("greyscale", 0, 0.99), rec("erm", 0, 0.05), rec("jtt", 0, 0.8)]
    rows = build_rows(records, CATALOG)
    assert [r.label for r in rows] == ["jtt", "erm", "greyscale"]
    assert rows[-1].reference and rows[-1].letters is None
    assert render_table(rows).splitlines()[-1].startswith("| ref ")


def test_unregistered_reference_names_are_still_references():
    rows = build_rows([rec("group-balanced", 0, 0.95, "bias labels on train")], MethodCatalog())
    assert rows[0].reference and rows[0].letters is None


def test_variants_with_other_hyperparameters_get_their_own_labelled_rows():
    records = [rec("erm", s, 0.05) for s in range(3)]
    records += [rec("erm", 0, 0.01, hparams={**HP, "epochs": 2})]
    rows = by_label(build_rows(records, CATALOG))
    assert set(rows) == {"erm (epochs=10)", "erm (epochs=2)"}
    assert len(rows["erm (epochs=10)"].records) == 3 and len(rows["erm (epochs=2)"].records) == 1
    # a method whose defaults are unknown: labelled by what differs between its rows
    unknown = [rec("mine", 0, 0.5, hparams={"k": 1, "q": 0.7}),
               rec("mine", 0, 0.6, hparams={"k": 2, "q": 0.7})]
    assert set(by_label(build_rows(unknown, CATALOG))) == {"mine (k=1)", "mine (k=2)"}


def test_a_row_that_predates_a_hyperparameter_says_so_instead_of_passing_for_the_default():
    # dfr's records from before `groups` and `balance` existed ran the old subsample protocol
    catalog = MethodCatalog({"dfr": {**HP, "balance": "weight"}})
    old = [rec("dfr", s, 0.7) for s in range(2)]
    new = [rec("dfr", s, 0.1, hparams={**HP, "balance": "weight"}) for s in range(2)]
    assert set(by_label(build_rows(old + new, catalog))) == {
        "dfr (ran before balance existed)", "dfr"}


def test_missing_metrics_and_partial_seeds_are_visible():
    records = [rec("erm", 0, 0.05, llc=1.5, llc_converged=1.0), rec("erm", 1, 0.07)]
    row = build_rows(records, CATALOG)[0]
    assert value_cell(row, column("color_following")) == "—"
    assert value_cell(row, column("llc")) == "1.50 (n=1; 1 —)"
    assert value_cell(row, column("acc_conflicting")).startswith("6.00 ± 1.41 [")


def test_every_left_out_seed_says_why_with_its_own_mark():
    records = [rec("erm", 0, 0.05, llc=3.0, llc_converged=1.0),
               rec("erm", 1, 0.05, llc=9.0, llc_converged=0.0),
               rec("erm", 2, 0.05, llc=4.0, llc_converged=1.0),
               rec("erm", 3, 0.05, llc=-2.0, llc_converged=1.0)]
    row = build_rows(records, CATALOG)[0]
    assert value_cell(row, column("llc")) == "3.50 ± 0.71 (n=2; 1 n/c, 1 <0)"
    unconverged = build_rows([rec("erm", s, 0.05, llc=2.0, llc_converged=0.0)
                              for s in range(2)], CATALOG)[0]
    assert value_cell(unconverged, column("llc")) == "n/c"
    negative = build_rows([rec("erm", s, 0.05, llc=-1.0, llc_converged=1.0)
                           for s in range(2)], CATALOG)[0]
    assert value_cell(negative, column("llc")) == "<0"


def test_an_epsilon_over_too_few_correct_images_does_not_count():
    eps = "eps_to_flip_conflicting_correct"
    records = [rec("erm", 0, 0.0, **{eps: 0.01, f"{eps}_n": 10.0}),
               rec("erm", 1, 0.1, **{eps: 0.02, f"{eps}_n": 30.0}),
               rec("erm", 2, 0.1, **{eps: 0.04, f"{eps}_n": 400.0})]
    row = build_rows(records, CATALOG)[0]
    assert value_cell(row, column(eps)) == "0.030 ± 0.014 (n=2; 1 few)"
    none_enough = build_rows(records[:1], CATALOG)[0]
    assert value_cell(none_enough, column(eps)) == "few"


def test_the_accuracy_interval_stays_inside_0_100_without_clipping():
    col = column("acc_conflicting")
    # five seeds near 0 (the baseline's erm): a Student-t interval would reach below 0
    near_zero = build_rows(_seeds("erm", [0.0207, 0.0710, 0.0, 0.0440, 0.0006]), CATALOG)[0]
    low, high = value_cell(near_zero, col).split("[")[1].rstrip("]").split(", ")
    assert 0.0 < float(low) < 2.73 < float(high) < 100.0
    near_one = build_rows(_seeds("erm", [0.995, 0.999, 1.0]), CATALOG)[0]
    low, high = value_cell(near_one, col).split("[")[1].split("]")[0].split(", ")
    assert float(high) <= 100.0 and float(low) < 99.8
    all_zero = build_rows(_seeds("erm", [0.0, 0.0, 0.0, 0.0]), CATALOG)[0]
    assert value_cell(all_zero, col).startswith("0.00 ± 0.00 [0.00, ")


def test_published_figures_stay_out_of_the_measured_table():
    records = [rec("erm", 0, 0.0377), rec("jtt", 0, 0.5)]
    rendered, _ = pages.render(records, CATALOG, "bench leaderboard --no-store")
    page = rendered[f"{protocol_of(records[0]).slug}.md"]
    results = page.split("## Results")[1].split("\n## ")[0]
    published = page.split("## Published (seed report)")[1].split("\n## ")[0]
    assert "3.77%" not in results and "87%" not in results
    for fig in SEED_REPORT:
        assert fig.value in published
    assert page.index("## Results") < page.index("## Published (seed report)")
    # pages of other protocols carry no published block
    other = pages.render([rec("erm", 0, 0.2, ratio=0.01)], CATALOG, "x")[0]
    assert all("Published" not in text for name, text in other.items() if name != "README.md")


def test_run_commands_rebuild_seeds_and_overrides():
    records = [rec("erm", s, 0.05, hparams={**HP, "epochs": 2}) for s in (0, 1, 4)]
    row = build_rows(records, CATALOG)[0]
    commands = pages.run_commands(row, protocol_of(records[0]))
    tail = "--source mnist --conflict-ratio 0.05 --mode background --set epochs=2"
    assert commands == [f"bench run --method erm --seeds 2 {tail}",
                        f"bench run --method erm --first-seed 4 --seeds 1 {tail}"]
    notes = pages.budget_notes([row])
    assert notes == ["`erm (epochs=2)`: 3 seeds instead of 5, so its interval is wider and its rank less "
                     "certain; 2 epochs instead of the method's default."]


def test_run_commands_name_a_partial_diagnostics_selection():
    from bench.leaderboard.pages import _diagnostics_option
    from bench.diagnostics import DIAGNOSTICS
    assert _diagnostics_option({}) == []
    assert _diagnostics_option({"diagnostics": {n: {} for n in DIAGNOSTICS}}) == []
    assert _diagnostics_option({"diagnostics": {"gradcam": {}, "color": {}}}) == [
        "--diagnostics color,gradcam"]
    assert _diagnostics_option({"diagnostics": {}}) == ["--diagnostics none"]


def test_rows_that_differ_in_diagnostics_settings_get_short_labels_not_json():
    from bench.hooks import HookOptions, spec_extras
    default = spec_extras(HookOptions(diagnostics="all"))
    stronger = spec_extras(HookOptions(diagnostics="all", diagnostic_settings=("pgd.steps=100",)))
    records = []
    for extras, acc in ((default, 0.05), (stronger, 0.06)):
        r = rec("erm", 0, acc)
        r.spec = RunSpec(r.spec.method, r.spec.hparams, r.spec.data, extras=extras)
        records.append(r)
    labels = set(by_label(build_rows(records, CATALOG)))
    assert labels == {"erm (all diagnostics)", "erm (all diagnostics; pgd.steps=100)"}


def test_a_page_of_the_pre_calibration_network_says_so_and_the_headline_one_says_baseline(
        monkeypatch):
    from bench.backbones import POOL_BETWEEN
    from bench.leaderboard import protocol
    monkeypatch.setitem(protocol.MAIN, "backbone", "k3-4-16-16-pool-end")
    old = protocol.Protocol("mnist", "background", POOL_BETWEEN.name, "colored",
                            protocol.DEFAULT_REST, 0.05)
    new = protocol.Protocol("mnist", "background", "k3-4-16-16-pool-end", "colored",
                            protocol.DEFAULT_REST, 0.05)
    assert old.title.endswith("k3-16-32-16-pool-between backbone (the pre-calibration baseline)")
    assert new.title.endswith("k3-4-16-16-pool-end backbone (baseline)")


def test_every_committed_page_s_letters_are_the_legend_s_rule():
    from collections import defaultdict
    from pathlib import Path
    from bench.leaderboard.protocol import group_by_protocol
    from bench.leaderboard.sources import read_records_dir
    records = read_records_dir(Path(__file__).resolve().parents[1] / "leaderboards" / "records")
    checked = 0
    for protocol, recs in group_by_protocol(records).items():
        classes = defaultdict(list)
        for row in build_rows(recs, MethodCatalog.from_registry()):
            if row.letters is not None:
                classes[row.supervision].append(row)
        for members in classes.values():
            separated = separated_pairs({r.label: r.by_seed("acc_conflicting") for r in members})
            assert holds({r.label: r.letters for r in members}, separated), protocol.slug
            checked += 1
    assert checked >= 10


def test_a_reclassified_method_s_row_says_what_its_records_say():
    """ablate-texture's old records say supervision `none`; it is now `knowledge of the
    bias's form`: the row is ranked in its current class and shows both."""
    catalog = MethodCatalog({"ablate": HP}, supervisions={"ablate": "knowledge of the bias's form"})
    rows = build_rows(_seeds("ablate", [0.2, 0.25]), catalog)
    assert rows[0].supervision == "knowledge of the bias's form"
    assert "knowledge of the bias's form (recorded as none)" in render_table(rows)
