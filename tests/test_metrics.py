"""Metrics against values computed by hand."""
from __future__ import annotations

import math

import torch

from bench import metrics

PRED = torch.tensor([0, 1, 1, 2, 2, 2, 0, 1])
TRUE = torch.tensor([0, 1, 2, 2, 2, 0, 0, 0])
#          correct:  1  1  0  1  1  0  1  0  -> 5 / 8
GROUPS = torch.tensor([3, 3, 7, 7, 7, 9, -1, 9])
# group 3: both right -> 1.0; group 7: 2 of 3 -> 2/3; group 9: 0 of 2 -> 0.0; -1 ignored


def test_accuracy():
    assert metrics.accuracy(PRED, TRUE) == 5 / 8
    assert metrics.accuracy(TRUE, TRUE) == 1.0
    assert math.isnan(metrics.accuracy(torch.tensor([]), torch.tensor([])))


def test_group_accuracies_ignore_negative_groups():
    got = metrics.group_accuracies(PRED, TRUE, GROUPS)
    assert got.keys() == {3, 7, 9}
    assert got[3] == 1.0 and abs(got[7] - 2 / 3) < 1e-7 and got[9] == 0.0


def test_worst_group_accuracy():
    assert metrics.worst_group_accuracy(PRED, TRUE, GROUPS) == 0.0
    assert abs(metrics.worst_group_accuracy(PRED[:5], TRUE[:5], GROUPS[:5]) - 2 / 3) < 1e-7
    assert math.isnan(metrics.worst_group_accuracy(PRED, TRUE, torch.full_like(GROUPS, -1)))


def test_confusion_matrix_rows_are_true_classes():
    m = metrics.confusion_matrix(PRED, TRUE, num_classes=3)
    # true 0: predicted 0,2,0,1 -> [2, 1, 1]; true 1: [0, 1, 0]; true 2: predicted 1,2,2 -> [0,1,2]
    assert m == [[2, 1, 1], [0, 1, 0], [0, 1, 2]]
    assert sum(map(sum, metrics.confusion_matrix(PRED, TRUE, num_classes=10))) == 8


def test_mean_std_uses_the_sample_standard_deviation():
    assert metrics.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0, 3)
    mean, std, n = metrics.mean_std([0.5, float("nan"), 1.5, None])
    assert (mean, n) == (1.0, 2) and abs(std - math.sqrt(0.5)) < 1e-12
    mean, std, n = metrics.mean_std([0.7])
    assert (mean, n) == (0.7, 1) and math.isnan(std)   # one seed: no spread, not 0
    mean, std, n = metrics.mean_std([])
    assert math.isnan(mean) and math.isnan(std) and n == 0


def test_bias_conflicting_accuracy_counts_only_disagreeing_examples():
    pred = torch.tensor([0, 1, 2, 3, 0])
    target = torch.tensor([0, 1, 2, 2, 1])
    conflicting = torch.tensor([False, True, False, True, False])   # 1 right, 3 wrong
    assert metrics.bias_conflicting_accuracy(pred, target, conflicting) == 0.5
