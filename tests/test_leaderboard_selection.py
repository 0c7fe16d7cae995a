"""The selection section of protocol pages and ``bench leaderboard --selection RULE``."""
import pytest

from bench.datasets.colored_mnist import PALETTE
from bench.errors import ConfigError
from bench.leaderboard import pages
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.protocol import protocol_of
from bench.leaderboard.selection_section import oracle_gap, selection_section
from bench.leaderboard.selection_view import reselect, reselect_all
from bench.leaderboard.tables import build_rows
from bench.record import RunRecord, RunSpec

pytestmark = pytest.mark.usefixtures("synthetic_main")

HP = {"epochs": 10, "lr": 0.1}
CATALOG = MethodCatalog({"erm": HP, "jtt": HP, "dfr": HP, "groupdro": HP},
                        supervisions={"erm": "none", "jtt": "none",
                                      "dfr": "bias labels on validation",
                                      "groupdro": "bias labels on train"})
DATA = {"source": "mnist", "conflict_ratio": 0.05, "mode": "background", "jitter": 0.0,
        "val_fraction": 0.1, "palette": [list(c) for c in PALETTE]}


def pick(epoch, acc):
    return {"epoch": epoch, "score": 0.5, "curve": [0.5] * 5,
            "metrics": {"acc_conflicting": acc, "acc_aligned": 0.9, "acc_val": 0.8}}


def rec(method, seed, acc, picks=None, rule="val-acc", epoch=3, **metrics):
    """A record whose primary rule picked ``epoch`` with ``acc``; ``picks``: other rules'
    (epoch, acc); ``{}``: a model not chosen among epochs (no picks at all)."""
    selection = {}
    if picks:
        selection = {rule: pick(epoch, acc), **{k: pick(*v) for k, v in picks.items()}}
    return RunRecord(RunSpec(method, dict(HP), dict(DATA)), seed, "completed", "none",
                     {"acc_conflicting": acc, "color_following": 0.9, "selected_epoch": epoch,
                      "seconds_train": 10.0, **metrics},
                     created_at="2025-01-01T00:00:00+00:00", selection_rule=rule,
                     selection=selection)


PICKS = {"last-epoch": (5, 0.70), "worst-class": (3, None), "val-worst-group": (4, 0.60),
         "oracle-test": (5, 0.80)}


def jtt_seeds():
    out = []
    for seed, acc in enumerate([0.40, 0.50, 0.45, 0.55]):
        picks = {k: (e, acc if a is None else a + seed / 100) for k, (e, a) in PICKS.items()}
        out.append(rec("jtt", seed, acc, picks))
    return out


def test_the_section_shows_every_rule_its_epochs_and_the_oracle_gap():
    rows = build_rows(jtt_seeds(), CATALOG)
    text = "\n".join(selection_section(rows))
    header = next(l for l in text.splitlines() if l.startswith("| method"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "method", "primary", "val-acc", "last-epoch", "worst-class", "val-worst-group †",
        "oracle-test ‡", "oracle gap"]
    line = next(l for l in text.splitlines() if l.startswith("| jtt") and "val-acc" in l)
    assert "47.50 ± 6.45" in line                  # the primary rule's numbers
    # oracle minus primary per seed: 0.80 + s/100 - acc = 0.40, 0.31, 0.37, 0.28
    assert oracle_gap(rows[0]) == "+34.00 ± 5.48"
    epochs = next(l for l in text.splitlines() if l.startswith("| jtt") and "5, 5, 5, 5" in l)
    assert "3, 3, 3, 3" in epochs and "4, 4, 4, 4" in epochs


def test_rows_without_picks_are_named_not_shown():
    dfr = [rec("dfr", s, 0.1, picks={}, rule="val-conflicting") for s in range(2)]
    old = [rec("erm", s, 0.02) for s in range(2)]
    for r in old:
        r.selection_rule = None
    rows = build_rows(jtt_seeds() + dfr + old, CATALOG)
    text = "\n".join(selection_section(rows))
    assert "every rule gets the same model): `dfr`" in text
    assert "only the primary rule's number exists): `erm`" in text
    assert selection_section(build_rows(old, CATALOG)) == []


def test_another_rule_replaces_the_accuracies_and_drops_diagnostics_of_another_epoch():
    record = jtt_seeds()[0]
    view = reselect(record, "last-epoch")
    assert view.metrics["acc_conflicting"] == 0.70 and view.selection_rule == "last-epoch"
    assert "color_following" not in view.metrics and view.metrics["seconds_train"] == 10.0
    same_epoch = reselect(record, "worst-class")        # picked the primary's epoch 3
    assert same_epoch.metrics["color_following"] == 0.9
    assert record.metrics["acc_conflicting"] == 0.40    # the record itself is untouched


def test_a_label_reading_rule_moves_an_unsupervised_method_to_that_class():
    records = reselect_all(jtt_seeds(), "val-worst-group")
    row = build_rows(records, CATALOG)[0]
    assert row.supervision == "bias labels on validation"
    assert build_rows(jtt_seeds(), CATALOG)[0].supervision == "none"


def test_records_without_the_rule_show_nothing_and_fixed_models_keep_their_numbers():
    old = rec("erm", 0, 0.02)
    old.selection_rule = None
    assert "acc_conflicting" not in reselect(old, "last-epoch").metrics
    dfr = rec("dfr", 0, 0.14, picks={}, rule="val-conflicting")
    assert reselect(dfr, "last-epoch").metrics["acc_conflicting"] == 0.14


def test_the_oracle_never_ranks_and_a_reselected_page_says_which_rule():
    with pytest.raises(ConfigError, match="oracle"):
        reselect_all(jtt_seeds(), "oracle-test")
    records = jtt_seeds()
    rendered, _ = pages.render(records, CATALOG, "bench leaderboard", selection="last-epoch")
    page = rendered[f"{protocol_of(records[0]).slug}.md"]
    assert "chose** (`bench leaderboard --selection last-epoch`)" in page
    assert "71.50 ± 1.29" in page.split("## Results")[1].split("\n\n")[1]


def test_seeds_recorded_before_the_rules_do_not_hide_the_primary_rule_or_the_oracle_gap():
    """A row of reruns (every rule's pick) and older seeds (their own rule only, recorded as
    ``val-acc`` or not at all): the primary rule and the gap come from the reruns alone."""
    reruns = jtt_seeds()[:2]
    older = [rec("jtt", 2, 0.45, rule=None), rec("jtt", 3, 0.55, rule="val-acc")]
    [row] = build_rows(reruns + older, CATALOG)
    text = "\n".join(selection_section([row]))
    line = next(l for l in text.splitlines() if l.startswith("| jtt"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "val-acc"
    # oracle 0.80 + seed/100 against val-acc 0.40, 0.50: gaps 40 and 31 points
    assert oracle_gap(row) == "+35.50 ± 6.36"


def test_the_proxy_line_names_each_protocol_s_own_proxy():
    """The seed's pages keep their sentence; a preset's proxy (lff-cmnist: Adam over every
    training image) is spelled out, not described as the seed's."""
    from tests.test_leaderboard_literature import record as preset_record
    seed_rows = build_rows([rec("erm", 0, 0.5, {"oracle-test": (5, 0.8)}, bias_proxy_agreement=0.9)],
                           CATALOG)
    seed_text = "\n".join(selection_section(seed_rows))
    assert "bias proxy (ERM on 4,096 training images, no bias labels)" in seed_text
    preset = preset_record("erm", 0.01, 0, 0.9, 0.2)
    preset.metrics["bias_proxy_agreement"] = 0.95
    text = "\n".join(selection_section(build_rows([preset], MethodCatalog.from_registry())))
    assert ("bias proxy (ERM on every training image (1 epoch, Adam lr 0.001, batch 256), "
            "no bias labels)") in text
