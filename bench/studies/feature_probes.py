"""Linear probes on pooled features: how much of the class a model's features carry apart from
the bias. Pure functions of arrays; ``scripts/feature_probe.py`` feeds them validation data.

The question they answer is DFR's: last-layer retraining can only reweight what the frozen
features hold. A probe is fitted and scored on *bias-conflicting* images only, where the bias
value never names the class, so it measures class information the bias cannot supply. The
same probe on the one-hot bias value gives the score of a code that holds the bias and nothing
else (about 1/9 on ten classes: a conflicting colour only rules one class out); that is the
floor, measured, not assumed.
"""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FOLDS = 5
MAX_ITER = 2000


def one_hot(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((len(values), size))
    out[np.arange(len(values)), values] = 1.0
    return out


def probe_accuracy(features: np.ndarray, labels: np.ndarray, seed: int = 0,
                   folds: int = FOLDS) -> float:
    """Cross-validated accuracy of an L2 logistic regression (standardised inputs, sklearn's
    default C = 1) predicting ``labels`` from ``features``: every image is scored by a probe
    that did not see it. Folds are stratified; classes with fewer images than ``folds`` are
    dropped (they cannot appear in every fold)."""
    labels = np.asarray(labels)
    counts = np.bincount(labels)
    keep = counts[labels] >= folds
    x, y = np.asarray(features, dtype=float)[keep], labels[keep]
    if len(np.unique(y)) < 2:
        raise ValueError("a probe needs at least two classes with enough images")
    correct = 0
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_index, score_index in splitter.split(x, y):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=MAX_ITER))
        probe.fit(x[fit_index], y[fit_index])
        correct += int((probe.predict(x[score_index]) == y[score_index]).sum())
    return correct / len(y)


def probe_scores(features: np.ndarray, labels: np.ndarray, bias: np.ndarray,
                 conflicting: np.ndarray, num_bias_values: int, seed: int = 0) -> dict:
    """The probe table's row for one model: class from features on conflicting images, the
    bias-only floor on the same images, and the bias value from features on every image."""
    conflicting = np.asarray(conflicting, dtype=bool)
    return {
        "class_on_conflicting": probe_accuracy(features[conflicting], labels[conflicting], seed),
        "bias_only_floor": probe_accuracy(one_hot(bias[conflicting], num_bias_values),
                                          labels[conflicting], seed),
        "bias_value": probe_accuracy(features, bias, seed),
        "conflicting_images": int(conflicting.sum()),
    }
