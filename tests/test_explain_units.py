"""Pooled-unit analyses on a tiny model: ablation, top-k, texture probe, patching."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.backbones import ConvGNNet, build_backbone
from bench.data import Splits
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.explain import units
from bench.explain.confusion import confusion_on
from bench.explain.patching import patch, patch_to_colours
from bench.supervision import to_float_images

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model() -> ConvGNNet:
    torch.manual_seed(0)
    net = build_backbone("baseline").eval()
    with torch.no_grad():   # a non-zero bias makes "bias only" distinguishable from zeros
        net.classifier.bias.copy_(torch.linspace(-1, 1, 10))
    return net


@pytest.fixture(scope="module")
def conflicting(tiny_splits: Splits):
    split = tiny_splits.tests["conflicting"].subset(torch.arange(300))
    return split, to_float_images(split.images, CPU)


def test_ablating_every_unit_leaves_the_bias_only_prediction(model, conflicting):
    split, images = conflicting
    feats = units.pooled_features(model, images)
    every = units.ablate(feats, range(feats.shape[1]))
    pred = units.logits_from_features(model, every).argmax(1)
    bias_class = int(model.classifier.bias.argmax())
    assert torch.all(pred == bias_class)
    expected = (split.labels == bias_class).float().mean().item()   # that class's share
    assert units.accuracy_from_features(model, every, split.labels) == pytest.approx(expected)


def test_a_unit_with_zero_classifier_weights_has_no_effect_when_ablated(conflicting):
    split, images = conflicting
    torch.manual_seed(1)
    net = build_backbone("baseline").eval()
    with torch.no_grad():
        net.classifier.weight[:, 4] = 0
    feats = units.pooled_features(net, images)
    drops = units.ablation_drops(net, feats, split.labels)
    assert drops[4] == 0.0
    assert torch.equal(units.logits_from_features(net, units.ablate(feats, [4])),
                       units.logits_from_features(net, feats))
    assert np.any(drops != 0), "other units should matter, or the test proves nothing"


def test_features_reproduce_the_model_and_confusion_counts_every_image(model, conflicting):
    split, images = conflicting
    feats = units.pooled_features(model, images)
    with torch.no_grad():
        assert torch.allclose(units.logits_from_features(model, feats), model(images), atol=1e-5)
    matrix = confusion_on(model, split)
    assert matrix.sum() == len(split)
    assert np.trace(matrix) == round(units.accuracy_from_features(model, feats, split.labels)
                                     * len(split))


def test_top_k_are_the_largest_activations():
    feats = torch.tensor([[0.0, 5.0], [3.0, 1.0], [2.0, 4.0]])
    assert units.top_k_indices(feats, 2).tolist() == [[1, 2], [0, 2]]


def test_classifier_weights_are_units_by_classes(model):
    w = units.classifier_weights(model)
    assert w.shape == (16, 10)
    assert np.array_equal(w[3], model.classifier.weight[:, 3].detach().numpy())


def test_texture_probe_scores_a_colour_unit_as_texture_and_a_stroke_unit_as_shape(tiny_splits):
    """A hand-built two-unit 'model': unit 0 = how far red is from the other channels
    (colour), unit 1 = share of white stroke pixels; unit 2 never fires. The probe (the
    ablate-texture method's) must tell them apart."""
    class ThreeUnits(torch.nn.Module):
        num_features = 3
        classifier = torch.nn.Linear(3, 10)

        def features(self, x):
            colour = (x[:, 0] - x[:, 1:].mean(1)).abs().mean((1, 2))
            stroke = (x.min(1).values > 0.9).float().mean((1, 2))
            return torch.stack([colour, stroke, torch.zeros_like(colour)], 1)

    spec = ColoredMNISTSpec(source="mnist-5k")
    images = to_float_images(tiny_splits.train.images[:200], CPU)
    probe = units.texture_shape_probe(ThreeUnits(), images, spec, draws=4)
    assert probe.score[0] > 0.9 and probe.score[1] < 0.1
    assert [probe.kind(u) for u in range(3)] == ["texture", "shape", "dead"]
    assert probe.texture_driven.tolist() == [True, False, False]
    assert probe.texture_per_colour.shape == (10, 3)
    # Pure red texture moves unit 0 more than pure grey-ish texture (colour 9 is pale pink).
    assert probe.texture_per_colour[0, 0] > probe.texture_per_colour[9, 0]


def test_patching_a_unit_to_its_own_value_changes_nothing(model, conflicting):
    _, images = conflicting
    feats = units.pooled_features(model, images)
    for unit in (0, 7, 15):
        same = patch(feats, unit, feats[:, unit])
        assert torch.equal(units.logits_from_features(model, same),
                           units.logits_from_features(model, feats))


def test_patching_to_a_colour_value_moves_predictions_towards_that_class(conflicting):
    """Unit 0 alone drives class c's logit; patching it high makes everything class c."""
    _, images = conflicting
    torch.manual_seed(2)
    net = build_backbone("baseline").eval()
    with torch.no_grad():
        net.classifier.weight.zero_()
        net.classifier.bias.zero_()
        net.classifier.weight[3, 0] = 1.0
    feats = units.pooled_features(net, images)
    values = np.zeros(10)
    values[3] = 1e3
    result = patch_to_colours(net, feats, 0, values)
    assert result.to_colour[3] == 1.0 and result.mean_prob_shift[3] > 0
    assert result.changed[3] == pytest.approx(1 - result.before[3])
