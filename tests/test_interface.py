"""The dataset declaration: group ids, bias-conflicting masks and split roles, by hand."""
import pytest
import torch

from bench.datasets.interface import BiasAttribute, DatasetInfo, SplitRoles

# Two classes, three bias values; class 0 goes with value 2 in training, class 1 with value 0.
INFO = DatasetInfo("toy", ("cat", "dog"), BiasAttribute("hat", ("red", "green", "blue")),
                   SplitRoles("train", "val", ("easy", "hard"), "hard"), aligned_bias=(2, 0))


def test_counts_come_from_the_declaration():
    assert (INFO.num_classes, INFO.num_bias_values, INFO.num_groups) == (2, 3, 6)
    assert INFO.metric_names() == ("acc_train", "acc_val", "acc_easy", "acc_hard")


def test_group_ids_are_class_times_values_plus_value_and_minus_one_without_bias():
    labels, bias = torch.tensor([0, 0, 1, 1, 1]), torch.tensor([0, 2, 0, 1, -1])
    assert INFO.group_ids(labels, bias).tolist() == [0, 2, 3, 4, -1]


def test_conflicting_is_a_bias_value_other_than_the_classs_aligned_one():
    labels, bias = torch.tensor([0, 0, 1, 1, 1]), torch.tensor([0, 2, 0, 1, -1])
    assert INFO.conflicting(labels, bias).tolist() == [True, False, False, True, False]


def test_class_of_bias_inverts_the_alignment():
    assert INFO.class_of_bias(torch.tensor([0, 1, 2, -1])).tolist() == [1, -1, 0, -1]


def test_a_headline_that_is_not_a_test_split_or_an_unknown_validation_is_refused():
    with pytest.raises(ValueError, match="headline"):
        SplitRoles("train", "val", ("easy",), "hard")
    with pytest.raises(ValueError, match="validation"):
        SplitRoles("train", "val", ("easy",), "easy", validation="borrowed")
    with pytest.raises(ValueError, match="aligned_bias"):
        DatasetInfo("toy", ("cat",), INFO.bias, INFO.splits, aligned_bias=(0, 1))


def test_summary_names_classes_bias_and_splits():
    text = INFO.summary()
    assert "2 classes (cat, dog)" in text and "hat (red, green, blue)" in text
    assert "hard (headline)" in text and "val (carved)" in text
