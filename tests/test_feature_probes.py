"""bench.studies.feature_probes on synthetic features: a probe finds class information where it is and
reports the bias-only floor where it is not."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from bench.studies.feature_probes import one_hot, probe_accuracy, probe_scores


def synthetic(n: int = 600, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    # conflicting images: a bias value that is never the class's own
    bias = (labels + rng.integers(1, classes, n)) % classes
    return rng, labels, bias


def test_features_that_hold_the_class_are_read_almost_perfectly():
    rng, labels, bias = synthetic()
    features = one_hot(labels, 10) * 3 + rng.normal(0, 0.3, (len(labels), 10))
    assert probe_accuracy(features, labels) > 0.95


def test_features_that_hold_only_the_bias_score_the_bias_only_floor():
    rng, labels, bias = synthetic()
    features = one_hot(bias, 10) + rng.normal(0, 0.05, (len(labels), 10))
    scores = probe_scores(features, labels, bias, np.ones(len(labels), bool), 10)
    # a conflicting bias value rules one class out: about 1/9, far below a shape code
    assert scores["class_on_conflicting"] < 0.2
    assert abs(scores["class_on_conflicting"] - scores["bias_only_floor"]) < 0.05
    assert scores["bias_value"] > 0.95
    assert scores["conflicting_images"] == len(labels)


def test_only_conflicting_images_enter_the_class_probe():
    rng, labels, bias = synthetic(n=800)
    conflicting = np.arange(800) < 400
    # aligned half: the features give the class away; conflicting half: pure noise
    features = rng.normal(0, 1, (800, 10))
    features[~conflicting] += one_hot(labels[~conflicting], 10) * 5
    scores = probe_scores(features, labels, bias, conflicting, 10)
    assert scores["class_on_conflicting"] < 0.25
    assert scores["conflicting_images"] == 400


def test_probe_is_deterministic_and_drops_classes_too_small_to_fold():
    rng, labels, bias = synthetic()
    features = rng.normal(0, 1, (len(labels), 4))
    labels = labels.copy()
    labels[:3] = 10          # three images of an 11th class: fewer than the folds
    with warnings.catch_warnings():
        # kept, sklearn would warn that the least populated class has fewer members than folds
        warnings.simplefilter("error")
        assert probe_accuracy(features, labels, seed=1) == probe_accuracy(features, labels,
                                                                          seed=1)
    with pytest.raises(ValueError, match="two classes"):
        probe_accuracy(features[:20], np.zeros(20, int))
