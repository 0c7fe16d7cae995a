"""The backbone calibration's rule (bench.studies.calibration) on hand-made rows."""
from __future__ import annotations

import math

import pytest

from bench.studies.calibration import CalibrationRule, choose, judge_balanced, judge_erm


def erm_rows(conflicting_by_epoch: dict[int, list[float]], train_acc: list[float]) -> list[dict]:
    rows = []
    for epoch, values in conflicting_by_epoch.items():
        for seed, value in enumerate(values):
            rows.append({"seed": seed, "epoch": epoch, "val_conflicting_acc": value,
                         "train_acc": train_acc[seed] if epoch == 10 else None})
    return rows


FLAT = {e: [0.10, 0.12, 0.08] for e in range(1, 13)}


def test_a_lazy_flat_network_passes_stage_a():
    v = judge_erm("net", 4000, erm_rows(FLAT, [0.95, 0.96, 0.955]))
    assert v.lazy and v.seeds == 3
    assert v.val_conflicting == pytest.approx(0.10) and v.drift == pytest.approx(0.0)
    assert v.train_acc == pytest.approx(0.955)


@pytest.mark.parametrize("why, conflicting, train", [
    ("fits the conflicting images", FLAT, [0.98, 0.98, 0.98]),
    ("underfits", FLAT, [0.90, 0.91, 0.92]),
    ("reads shape at epoch 10", {e: [0.25] * 3 for e in range(1, 13)}, [0.95] * 3),
    ("sits on a transition", {**FLAT, 12: [0.17, 0.17, 0.17]}, [0.95] * 3),
])
def test_stage_a_rejects(why, conflicting, train):
    assert not judge_erm("net", 4000, erm_rows(conflicting, train)).lazy, why


def test_drift_is_max_minus_min_of_seed_means_over_epochs_8_to_12():
    conflicting = {**FLAT, 8: [0.05] * 3, 12: [0.13] * 3, 7: [0.9] * 3}   # epoch 7 is outside
    v = judge_erm("net", 4000, erm_rows(conflicting, [0.95] * 3))
    assert v.drift == pytest.approx(0.08) and not v.lazy
    assert judge_erm("net", 4000, erm_rows(conflicting, [0.95] * 3),
                     CalibrationRule(max_drift=0.09)).lazy


def test_missing_epochs_are_an_error():
    rows = erm_rows({e: [0.1] for e in range(1, 11)}, [0.95])
    with pytest.raises(ValueError, match="lack epochs"):
        judge_erm("net", 4000, rows)


def balanced(v, values):
    return judge_balanced(v, [{"epoch": 10, "val_conflicting_acc": x} for x in values]
                          + [{"epoch": 9, "val_conflicting_acc": 0.0}])


def test_choice_takes_highest_capacity_then_fewest_parameters():
    lazy = lambda name, params: judge_erm(name, params, erm_rows(FLAT, [0.95] * 3))
    big = balanced(lazy("big", 10000), [0.950, 0.952])
    small = balanced(lazy("small", 4000), [0.948, 0.949])       # within 0.005 of big: wins
    weak = balanced(lazy("weak", 1000), [0.30, 0.25])            # fails (b)
    assert big.capable and small.capable and weak.capable is False
    assert choose([big, small, weak]).backbone == "small"
    assert choose([big, balanced(lazy("small", 4000), [0.93, 0.93])]).backbone == "big"


def test_no_choice_when_nothing_passes_both():
    not_lazy = judge_erm("x", 1, erm_rows(FLAT, [0.99] * 3))
    assert not_lazy.capable is None and math.isnan(not_lazy.balanced_val_conflicting)
    assert choose([not_lazy]) is None
