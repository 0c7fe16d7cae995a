"""K-Means reweighting: the per-class minority cluster of the features is upweighted."""
import dataclasses

import torch

from bench import group_inference
from bench import robust_training, training
from bench.methods import kmeans
from conftest import make_context


def mixed_context(splits, n):
    """A context over ``n`` random training images (the split is sorted by digit, so a
    prefix would hold a single class)."""
    order = torch.randperm(len(splits.train), generator=torch.Generator().manual_seed(0))
    subset = splits.train.subset(order[:n].sort().values)
    return make_context(dataclasses.replace(splits, train=subset), limit=None)


def test_planted_minority_is_upweighted(tiny_splits, monkeypatch):
    ctx = mixed_context(tiny_splits, 300)
    n = len(ctx.train)
    planted = torch.zeros(n, dtype=torch.bool)
    planted[::10] = True     # 10% of every class, far away in feature space
    features = torch.randn(n, 16, generator=torch.Generator().manual_seed(1)) * 0.1
    features[planted] += 5.0
    monkeypatch.setattr(group_inference, "pooled_features", lambda model, images: features)
    captured = {}
    real_train = training.train

    def recording_train(model, ctx, cfg, **kwargs):
        captured[kwargs.get("phase")] = kwargs.get("sample_weights")
        return real_train(model, ctx, cfg, **kwargs)

    for module in (training, robust_training):   # both stages train through these
        monkeypatch.setattr(module, "train", recording_train)
    hp = dataclasses.replace(kmeans.KMeansHparams(), erm_epochs=1, epochs=1, batch_size=32,
                             kmeans_restarts=2)
    result = kmeans.KMeansReweighting(hp).fit(ctx)

    weights = captured["final"]
    assert captured["erm features"] is None
    assert result.logs["minority_size"] == float(planted.sum())
    for digit in range(10):
        in_class = ctx.train.labels == digit
        minority, majority = in_class & planted, in_class & ~planted
        if minority.sum() == 0 or majority.sum() == 0:
            continue
        # Both clusters carry half of the class's mass, so the minority is upweighted.
        assert torch.isclose(weights[minority].sum(), weights[majority].sum())
        assert weights[minority].min() > weights[majority].max()
