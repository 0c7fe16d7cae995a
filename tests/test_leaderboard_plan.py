"""The conflict-ratio figure: one series per method and training settings, and its table."""
import pytest
from bench.datasets.colored_mnist import PALETTE
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.plan import ratio_figures
from bench.leaderboard.protocol import group_by_protocol
from bench.leaderboard.tables import build_rows
from bench.record import RunRecord, RunSpec

pytestmark = pytest.mark.usefixtures("synthetic_main")

ERM = {"epochs": 10, "batch_size": 16, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}
CATALOG = MethodCatalog({"erm": ERM}, frozenset())


def rec(seed, ratio, acc, diagnostics, hparams=ERM):
    data = {"source": "mnist", "conflict_ratio": ratio, "mode": "background", "jitter": 0.0,
            "val_fraction": 0.1, "palette": [list(c) for c in PALETTE]}
    spec = RunSpec("erm", dict(hparams), data, extras={"diagnostics": diagnostics})
    return RunRecord(spec, seed, "completed", "none", {"acc_conflicting": acc},
                     created_at="2025-01-01T00:00:00+00:00")


def series_of(records):
    rows = {p: build_rows(recs, CATALOG) for p, recs in group_by_protocol(records).items()}
    (planned,) = ratio_figures(rows)
    return planned.draw.args[0]


def test_runs_that_differ_only_in_diagnostics_share_one_series_with_the_larger_row_per_ratio():
    records = [rec(0, 0.01, 0.0, {"color": {}}), rec(1, 0.01, 0.0, {"color": {}}),
               rec(0, 0.01, 0.5, {"llc": {}}),                 # one seed: loses to the two
               rec(0, 0.05, 0.6, {"llc": {}})]
    series = series_of(records)
    assert list(series) == ["erm"]                              # no diagnostics in the label
    assert [(r, round(m, 6)) for r, m, _ in series["erm"]] == [(0.01, 0.0), (0.05, 60.0)]


def test_other_training_settings_get_their_own_series():
    slow = {**ERM, "lr": 0.01}
    records = [rec(0, 0.01, 0.1, {}), rec(0, 0.05, 0.6, {}),
               rec(0, 0.01, 0.2, {}, slow), rec(0, 0.05, 0.7, {}, slow)]
    assert sorted(series_of(records)) == ["erm", "erm (lr=0.01)"]


def test_the_figure_carries_a_table_of_its_points_for_series_at_two_or_more_ratios():
    slow = {**ERM, "lr": 0.01}
    records = [rec(0, 0.01, 0.1, {}), rec(1, 0.01, 0.3, {}), rec(0, 0.05, 0.6, {}),
               rec(0, 0.05, 0.7, {}, slow)]             # lr=0.01 at one ratio: no row
    rows = {p: build_rows(recs, CATALOG) for p, recs in group_by_protocol(records).items()}
    (planned,) = ratio_figures(rows)
    header, rule, erm, blank, note = planned.table
    assert header == "| method | r = 0.01 | r = 0.05 |" and rule == "|---|---|---|"
    assert erm == "| erm | 20.0 ± 14.1 (n=2); per seed 10.0, 30.0 | 60.0 (n=1) |"
    assert blank == "" and "one ratio only" in note


def test_a_series_missing_at_one_ratio_shows_a_dash():
    slow = {**ERM, "lr": 0.01}
    records = [rec(0, 0.01, 0.1, {}), rec(0, 0.05, 0.6, {}), rec(0, 0.1, 0.8, {}),
               rec(0, 0.01, 0.2, {}, slow), rec(0, 0.1, 0.9, {}, slow)]
    rows = {p: build_rows(recs, CATALOG) for p, recs in group_by_protocol(records).items()}
    (planned,) = ratio_figures(rows)
    assert "| erm (lr=0.01) | 20.0 (n=1) | — | 90.0 (n=1) |" in planned.table
