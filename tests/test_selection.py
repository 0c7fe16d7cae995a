"""Selection rules: each rule's score on hand-computed cases, every rule's pick from one set of
per-epoch predictions, and the judge handing each rule only what it declared."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from bench import selection
from bench.errors import ConfigError
from bench.selection import (Evidence, PickTracker, SelectionJudge, SelectionRule,
                             check_primary, combined_supervision, default_rule, rule, rule_names)
from bench.supervision import Supervision

T = torch.tensor


def evidence(pred, labels, num_classes=3, **extra) -> Evidence:
    return Evidence(1, T(pred), T(labels), num_classes, **{k: T(v) for k, v in extra.items()})


def test_val_acc_is_plain_accuracy():
    assert rule("val-acc").score(evidence([0, 1, 1, 2], [0, 1, 2, 2])) == 0.75


def test_worst_class_is_the_lowest_recall_over_present_classes():
    # class 0: 2/2, class 1: 1/2, class 2 absent (skipped, not 0)
    assert rule("worst-class").score(evidence([0, 0, 1, 0], [0, 0, 1, 1])) == 0.5


def test_class_diff_is_minus_the_sum_of_pairwise_recall_gaps():
    # recalls 1, 0.5, 0: gaps 0.5 + 1 + 0.5 = 2 (BAM picks the smallest sum)
    e = evidence([0, 1, 0, 2, 0], [0, 1, 1, 2, 2])
    assert rule("class-diff").score(e) == pytest.approx(-1.0)
    e = evidence([0, 1, 0, 0, 0], [0, 1, 1, 2, 2])
    assert rule("class-diff").score(e) == pytest.approx(-2.0)


def test_pseudo_group_averages_accuracy_over_class_x_proxy_groups():
    # groups (0,0): 2 images, 1 right; (0,1): 1 image, right; (1,1): 1 image, wrong -> (.5+1+0)/3
    e = evidence([0, 1, 0, 0], [0, 0, 0, 1], num_classes=2, proxy=[0, 0, 1, 1])
    assert rule("pseudo-group").score(e) == pytest.approx(0.5)


def test_bias_label_rules_read_groups_and_the_conflicting_mask():
    e = evidence([0, 1, 2, 0], [0, 1, 2, 2], groups=[0, 4, 8, 6],
                 conflicting=[False, False, False, True])
    assert rule("val-worst-group").score(e) == 0.0
    assert rule("val-conflicting").score(e) == 0.0
    e = evidence([0, 1, 2, 2], [0, 1, 2, 2], groups=[0, 4, 8, 6],
                 conflicting=[False, False, False, True])
    assert rule("val-conflicting").score(e) == 1.0


def test_last_epoch_and_oracle():
    assert rule("last-epoch").score(dataclasses.replace(evidence([0], [0]), epoch=7)) == 7.0
    e = evidence([0], [0], test_predictions=[1, 1, 0], test_labels=[1, 0, 0])
    assert rule("oracle-test").score(e) == pytest.approx(2 / 3)
    assert rule("oracle-test").oracle and not rule("val-acc").oracle


# One validation set of 12 images (3 classes, bias value b, class c aligned with b = c), a
# label-free proxy's predictions, a 6-image test split, and 8 epochs of predictions chosen so
# that every rule picks a different epoch (found by search; the scores are simple enough to
# check by hand: epoch 3 gets 8 of 12 right, as epoch 7 does later, so val-acc keeps epoch 3;
# the worst of the six (class, bias) groups is 0 at every epoch here, so val-worst-group keeps
# epoch 1, and the next test gives it an epoch to prefer).
LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
BIAS = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0]
PROXY = [0, 0, 1, 1, 1, 1, 0, 2, 2, 2, 0, 0]
TEST_LABELS = [0, 1, 2, 0, 1, 2]
EPOCHS = [[0, 1, 0, 0, 2, 2, 1, 2, 0, 0, 0, 0], [0, 0, 1, 0, 2, 1, 1, 1, 0, 0, 0, 0],
          [0, 0, 0, 0, 2, 1, 2, 2, 2, 0, 2, 2], [1, 0, 1, 1, 2, 1, 1, 1, 0, 0, 2, 0],
          [1, 0, 1, 1, 2, 1, 2, 1, 0, 0, 0, 2], [1, 1, 0, 0, 1, 1, 2, 2, 2, 2, 2, 0],
          [0, 0, 0, 0, 2, 1, 1, 2, 0, 0, 2, 2], [1, 1, 1, 0, 1, 2, 1, 2, 0, 0, 0, 2]]
TESTS = [[1, 2, 0, 1, 1, 2], [1, 2, 0, 0, 2, 0], [1, 2, 0, 0, 1, 0], [0, 1, 2, 0, 2, 2],
         [1, 1, 0, 0, 2, 2], [0, 1, 0, 1, 2, 2], [1, 2, 2, 1, 1, 0], [0, 1, 2, 1, 1, 2]]
EXPECTED = {"val-worst-group": 1, "val-conflicting": 2, "val-acc": 3, "oracle-test": 4,
            "class-diff": 5, "worst-class": 6, "pseudo-group": 7, "last-epoch": 8}


class _Replay(nn.Module):
    """A 'model' whose test predictions are the current epoch's canned ones."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.epoch = 0

    def forward(self, x):
        return nn.functional.one_hot(T(TESTS[self.epoch]), 3).float()


def judge(primary="val-acc", **overrides) -> SelectionJudge:
    labels, bias = T(LABELS), T(BIAS)
    fields = dict(conflicting=bias != labels, groups=labels * 3 + bias, proxy=T(PROXY),
                  test_images=torch.zeros(6, 1), test_labels=T(TEST_LABELS))
    fields.update(overrides)
    return SelectionJudge(labels, 3, primary, **fields)


def replay(j: SelectionJudge) -> PickTracker:
    model, tracker = _Replay(), PickTracker()
    for epoch, pred in enumerate(EPOCHS):
        model.epoch = epoch
        model.weight.data.fill_(epoch + 1)
        tracker.update(epoch + 1, j.scores(epoch + 1, T(pred), model), model)
    return tracker


def test_every_rule_picks_its_own_known_epoch():
    tracker = replay(judge())
    assert {name: pick.epoch for name, pick in tracker.picks.items()} == EXPECTED
    assert len(set(EXPECTED.values())) == len(rule_names()) == len(EXPECTED)
    # each pick keeps the state the model had at that epoch, and the whole score curve
    for name, pick in tracker.picks.items():
        assert pick.state["weight"].item() == EXPECTED[name]
        assert len(tracker.curves[name]) == len(EPOCHS)
    assert tracker.curves["val-acc"] == pytest.approx([4 / 12, 6 / 12, 8 / 12, 5 / 12, 4 / 12,
                                                       7 / 12, 8 / 12, 4 / 12])


def test_rules_whose_evidence_is_missing_are_not_scored():
    j = judge(proxy=None, test_images=None)
    assert "pseudo-group" not in j.rules and "oracle-test" not in j.rules
    with pytest.raises(ConfigError, match="proxy"):
        judge(primary="pseudo-group", proxy=None)


def test_non_oracle_picks_do_not_depend_on_the_test_labels():
    permuted = T(TEST_LABELS)[torch.tensor([3, 5, 4, 0, 2, 1])]
    a = replay(judge()).picks
    b = replay(judge(test_labels=permuted)).picks
    for name in a:
        if not rule(name).oracle:
            assert (a[name].epoch, a[name].score) == (b[name].epoch, b[name].score)
    assert a["oracle-test"].epoch != b["oracle-test"].epoch


def test_a_rule_sees_only_the_evidence_it_declared(monkeypatch):
    seen = {}

    def spy(e: Evidence) -> float:
        seen[e.epoch] = e
        return 0.0
    monkeypatch.setitem(selection.SELECTION_RULES._items, "spy",
                        SelectionRule("spy", spy, Supervision.NONE))
    j = judge()
    j.scores(1, T(EPOCHS[0]), _Replay())
    e = seen[1]
    assert e.conflicting is None and e.groups is None and e.proxy is None
    assert e.test_labels is None and e.test_predictions is None


def test_oracle_cannot_be_the_primary_rule_and_defaults_follow_supervision():
    with pytest.raises(ConfigError, match="never chooses"):
        check_primary("oracle-test")
    assert check_primary("worst-class").name == "worst-class"
    assert default_rule(Supervision.NONE) == default_rule(Supervision.BIAS_FORM) == "val-acc"
    assert default_rule(Supervision.TRAIN_BIAS) == "val-conflicting"


def test_supervision_of_a_number_is_the_stronger_of_method_and_rule():
    none, val, train = Supervision.NONE, Supervision.VAL_BIAS, Supervision.TRAIN_BIAS
    assert combined_supervision(none, rule("val-acc").supervision) is none
    assert combined_supervision(none, rule("val-worst-group").supervision) is val
    assert combined_supervision(train, rule("val-conflicting").supervision) is train
    assert combined_supervision(Supervision.BIAS_FORM, val) is val


def test_ties_keep_the_earlier_epoch_and_nan_is_no_evidence():
    tracker, model = PickTracker(), _Replay()
    for epoch, score in enumerate([float("nan"), 0.5, 0.5, 0.4], 1):
        tracker.update(epoch, {"r": score}, model)
    assert tracker.picks["r"].epoch == 2


def test_worst_group_prefers_the_epoch_that_gets_every_group_partly_right():
    # 8 aligned images (groups (0,0) and (1,1)), 2 conflicting ((0,1) and (1,0)). Epoch 1
    # gets the aligned ones right and the conflicting ones wrong: 0.8 accuracy, worst group 0.
    # Epoch 2 gets the conflicting ones right and 3 aligned ones wrong: 0.7, worst group 0.5.
    labels = T([0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    bias = T([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    j = SelectionJudge(labels, 2, "val-acc", conflicting=bias != labels,
                       groups=labels * 2 + bias)
    tracker, model = PickTracker(), _Replay()
    for epoch, pred in enumerate([[0, 0, 0, 0, 1, 1, 1, 1, 1, 0],
                                  [1, 1, 0, 0, 0, 1, 1, 1, 0, 1]], 1):
        tracker.update(epoch, j.scores(epoch, T(pred), model), model)
    assert tracker.curves["val-acc"] == pytest.approx([0.8, 0.7])
    assert tracker.curves["val-worst-group"] == [0.0, 0.5]
    assert tracker.picks["val-acc"].epoch == 1 and tracker.picks["val-worst-group"].epoch == 2
