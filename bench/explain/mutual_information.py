"""Normalised mutual information between pooled units: are units redundant copies?

Binning: each unit's activations are cut into ``bins`` equal-frequency bins (edges at its
own quantiles), so every unit uses its bins evenly whatever its scale; repeated edges (a unit
that is often exactly 0) merge, leaving fewer bins. NMI is scikit-learn's
``normalized_mutual_info_score`` (arithmetic mean normalisation) on the bin labels: 1 for a
unit with itself (or any monotone function of it), near 0 for independent units (it has a
small positive bias that shrinks as the sample grows). A constant (dead) unit scores 1 with
another constant unit and 0 with anything else, by scikit-learn's convention.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

DEFAULT_BINS = 10


def discretise(values: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Equal-frequency bin labels (0..bins-1) of one unit's activations."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.digitize(values, edges)


def unit_nmi(features: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """(units, units) symmetric NMI matrix of the pooled features (N, units)."""
    features = np.asarray(features)
    labels = [discretise(features[:, u], bins) for u in range(features.shape[1])]
    n = len(labels)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = normalized_mutual_info_score(labels[i], labels[j])
    return out


def mean_off_diagonal(matrix: np.ndarray) -> float:
    n = len(matrix)
    return float((matrix.sum() - np.trace(matrix)) / (n * n - n)) if n > 1 else float("nan")
