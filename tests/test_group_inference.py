"""Group inference: error sets, per-class clustering and balancing weights, on known inputs."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench import group_inference


class FixedPredictions(nn.Module):
    """Predicts ``preds[i]`` for the input image whose first pixel is ``i``."""

    def __init__(self, preds):
        super().__init__()
        self.preds = preds

    def features(self, x):
        return x.flatten(1)[:, :2]

    def forward(self, x):
        return F.one_hot(self.preds[x.flatten(1)[:, 0].long()], 10).float()


def test_error_set_is_exactly_the_mistakes():
    digits = torch.tensor([0, 1, 2, 3, 4, 5])
    preds = torch.tensor([0, 7, 2, 3, 9, 5])
    images = torch.arange(6).float().view(6, 1, 1, 1)
    mask = group_inference.error_set(FixedPredictions(preds), images, digits)
    assert mask.tolist() == [False, True, False, False, True, False]


def test_upweight_multiplies_members_only():
    weights = group_inference.upweight(torch.tensor([True, False, True]), 20.0)
    assert weights.tolist() == [20.0, 1.0, 20.0]


def test_pooled_features_match_model_features_in_eval_mode():
    model = FixedPredictions(torch.zeros(4, dtype=torch.long)).train()
    images = torch.rand(4, 3, 2, 2)
    out = group_inference.pooled_features(model, images, batch_size=3)
    assert torch.equal(out, images.flatten(1)[:, :2])
    assert model.training   # the mode is restored


def test_kmeans_takes_the_smaller_cluster_inside_each_class():
    g = torch.Generator().manual_seed(0)
    # Class 0: 18 points near (0, 0) and 2 near (10, 10). Class 1: 3 near (10, 10)
    # (the same place as class 0's minority: clustering must be per class) and 15 near (-5, 5).
    centres = [(0, 0)] * 18 + [(10, 10)] * 2 + [(10, 10)] * 3 + [(-5, 5)] * 15
    features = torch.tensor(centres, dtype=torch.float) + 0.1 * torch.randn(38, 2, generator=g)
    digits = torch.tensor([0] * 20 + [1] * 18)
    clusters = group_inference.cluster_within_class(features, digits, k=2, seed=0)
    expected = [False] * 18 + [True] * 2 + [True] * 3 + [False] * 15
    assert clusters.minority.tolist() == expected
    # Two clusters per class, ids digit * k + label.
    assert set(clusters.groups[:20].tolist()) <= {0, 1} and len(set(clusters.groups[:20].tolist())) == 2
    assert set(clusters.groups[20:].tolist()) <= {2, 3} and len(set(clusters.groups[20:].tolist())) == 2


def test_balanced_weights_give_each_group_half_its_class():
    groups = torch.tensor([0, 0, 0, 1, 2, 2])
    classes = torch.tensor([0, 0, 0, 0, 1, 1])
    weights = group_inference.balanced_weights(groups, classes)
    # class 0: n=4, groups of 3 and 1 -> 4/(2*3) and 4/(2*1); class 1: one group -> 1.
    assert torch.allclose(weights, torch.tensor([2 / 3, 2 / 3, 2 / 3, 2.0, 1.0, 1.0],
                                                dtype=torch.float64))


def test_stages_compose_two_stage_methods_and_log_their_inference(tiny_splits):
    """JTT, kmeans and group-balanced are a group-inference stage plus one reweighted
    retraining stage; the stage's weights are what the retraining samples with."""
    from bench.group_inference import ClustersWithinClass, ErrorSet, KnownGroups
    from bench.supervision import Supervision
    from bench.training import SGDConfig
    from tests.conftest import make_context
    sgd = lambda epochs: SGDConfig(epochs, 32, 0.1)   # noqa: E731
    ctx = make_context(tiny_splits, limit=300)
    errors = ErrorSet(1, 20.0, sgd).infer(ctx)
    assert set(errors.weights.unique().tolist()) <= {1.0, 20.0}
    assert errors.logs["error_set_size"] == float((errors.weights == 20.0).sum())
    clusters = ClustersWithinClass(1, 2, 2, sgd).infer(make_context(tiny_splits, limit=300))
    assert clusters.logs["minority_size"] > 0 and len(clusters.weights) == 300
    labelled = make_context(tiny_splits, Supervision.TRAIN_BIAS, limit=300)
    known = KnownGroups().infer(labelled)
    groups = labelled.train.groups
    for g in groups.unique():
        assert float(known.weights[groups == g].sum()) == pytest.approx(1.0)
