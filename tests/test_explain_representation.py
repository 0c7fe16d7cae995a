"""PCA, mutual information between units and activation maximisation: real properties."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.backbones import build_backbone
from bench.explain.activation_maximisation import (MaximisationSettings, total_variation,
                                                   visualise_classes)
from bench.explain.mutual_information import discretise, mean_off_diagonal, unit_nmi
from bench.explain.pca import feature_pca


def test_pca_ratios_sum_to_one_and_count_components_for_90():
    rng = np.random.default_rng(0)
    # Three directions with variances 100, 50, 1 (+ tiny noise in 13 more): the first
    # explains 66%, two explain 99%.
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    scores = rng.normal(size=(4000, 16)) * np.array([10, np.sqrt(50), 1] + [0.01] * 13)
    result = feature_pca(scores @ basis.T)
    assert result.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-9)
    assert result.components_for_90 == 2
    assert result.explained_variance_ratio[0] == pytest.approx(100 / 151, abs=0.02)
    assert np.all(np.diff(result.explained_variance_ratio) <= 1e-12)


def test_pca_of_one_direction_needs_one_component_and_constant_features_none():
    x = np.outer(np.arange(50.0), np.ones(16))
    assert feature_pca(x).components_for_90 == 1
    assert feature_pca(np.ones((20, 16))).components_for_90 == 0


def test_nmi_is_one_for_a_copy_and_near_zero_for_an_independent_unit():
    rng = np.random.default_rng(0)
    a, b = rng.exponential(size=5000), rng.normal(size=5000)
    features = np.stack([a, 3 * a + 2, b], 1)   # unit 1 is a monotone copy of unit 0
    nmi = unit_nmi(features, bins=10)
    assert nmi[0, 1] == pytest.approx(1.0)
    assert nmi[0, 2] < 0.01 and nmi[1, 2] < 0.01
    assert np.allclose(nmi, nmi.T) and np.allclose(np.diag(nmi), 1)
    assert mean_off_diagonal(nmi) == pytest.approx((2 * nmi[0, 1] + 2 * nmi[0, 2]
                                                     + 2 * nmi[1, 2]) / 6)


def test_equal_frequency_bins_and_repeated_edges_merge():
    labels = discretise(np.arange(100.0), bins=4)
    assert np.bincount(labels).tolist() == [25, 25, 25, 25]
    mostly_zero = np.r_[np.zeros(80), np.arange(1.0, 21.0)]   # a ReLU unit, often silent
    assert len(np.unique(discretise(mostly_zero, bins=10))) < 10


def test_activation_maximisation_raises_the_target_logit_within_range():
    torch.manual_seed(0)
    model = build_backbone("baseline").eval()
    settings = MaximisationSettings(steps=30)
    vis = visualise_classes(model, classes=[1, 7], settings=settings)
    assert torch.all(vis.logit_end > vis.logit_start)
    assert vis.images.min() >= 0 and vis.images.max() <= 1
    assert all(p.requires_grad for p in model.parameters()), "model left frozen"


def test_the_regulariser_smooths_the_image():
    torch.manual_seed(0)
    model = build_backbone("baseline").eval()
    loose = visualise_classes(model, [3], MaximisationSettings(steps=30, l2=0, tv=0, jitter=0))
    tight = visualise_classes(model, [3], MaximisationSettings(steps=30, tv=20.0))
    assert total_variation(tight.images) < total_variation(loose.images)
