"""The supervision classes and what the guarded views do and do not hold."""
import pytest
import torch

from bench.datasets.colored_mnist import Split
from bench.errors import SupervisionError
from bench.leaderboard.catalog import MethodCatalog
from bench.registry import METHODS
from bench.selection import default_rule
from bench.supervision import SplitView, Supervision

CPU = torch.device("cpu")


def _split():
    return Split("train", torch.zeros(4, 3, 28, 28, dtype=torch.uint8),
                 torch.tensor([1, 2, 3, 4]), torch.tensor([1, 5, 3, 7]))


def _tensors_in(view):
    return [v for v in vars(view).values() if isinstance(v, torch.Tensor)]


def test_a_view_without_labels_holds_no_copy_of_them():
    view = SplitView(_split(), CPU, bias_visible=False)
    colors = _split().bias
    # no attribute (private or not) carries the colour labels
    assert not any(t.shape == colors.shape and torch.equal(t, colors) for t in _tensors_in(view))
    with pytest.raises(SupervisionError, match="withheld"):
        view.bias


def test_visibility_cannot_be_switched_on_by_a_method():
    view = SplitView(_split(), CPU, bias_visible=False)
    with pytest.raises(AttributeError):
        view.bias_visible = True
    with pytest.raises(SupervisionError):
        view.groups


def test_head_keeps_the_visibility_and_cuts_every_field():
    visible = SplitView(_split(), CPU, bias_visible=True).head(2)
    assert visible.bias_visible and visible.bias.tolist() == [1, 5]
    assert len(visible) == 2 and len(visible.images) == 2
    hidden = SplitView(_split(), CPU, bias_visible=False).head(2)
    assert not hidden.bias_visible and len(hidden) == 2


@pytest.mark.parametrize("supervision, train, val", [
    (Supervision.NONE, False, False), (Supervision.BIAS_FORM, False, False),
    (Supervision.VAL_BIAS, False, True), (Supervision.TRAIN_BIAS, True, True)])
def test_which_labels_each_class_reads(supervision, train, val):
    assert (supervision.allows("train"), supervision.allows("val")) == (train, val)
    expected_rule = "val-conflicting" if val else "val-acc"
    assert default_rule(supervision) == expected_rule


def test_methods_built_on_decolorize_declare_knowledge_of_the_bias_form():
    for name in ("greyscale", "ablate-texture"):
        assert METHODS.get(name).supervision is Supervision.BIAS_FORM
    for name in ("erm", "jtt", "kmeans", "lff"):
        assert METHODS.get(name).supervision is Supervision.NONE


def test_the_leaderboard_reclassifies_old_records_by_the_current_declaration():
    catalog = MethodCatalog.from_registry()
    assert catalog.supervision("greyscale", "none") == Supervision.BIAS_FORM.value
    assert catalog.supervision("not-registered", "none") == "none"


def test_groups_and_conflicting_come_from_the_dataset_declaration(tiny_splits):
    info = tiny_splits.info
    split = Split("val", torch.zeros(3, 3, 28, 28, dtype=torch.uint8), torch.tensor([2, 2, 9]),
                  torch.tensor([2, 7, -1]))
    view = SplitView(split, CPU, bias_visible=True, dataset=info)
    assert view.groups.tolist() == [2 * info.num_bias_values + 2, 2 * info.num_bias_values + 7,
                                    -1]
    assert view.conflicting.tolist() == [False, True, False]
    with pytest.raises(ValueError, match="dataset's declaration"):
        SplitView(split, CPU, bias_visible=True).groups
