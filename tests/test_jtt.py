"""JTT's mechanism: the error set is the identification model's mistakes, upweighted x lambda."""
import dataclasses

import torch

from bench.evaluate import predict
from bench import robust_training, training
from bench.methods import jtt
from conftest import make_context


def mixed_context(splits, n):
    """A context over ``n`` random training images (the split is sorted by digit, so a
    prefix would hold a single class)."""
    order = torch.randperm(len(splits.train), generator=torch.Generator().manual_seed(0))
    subset = splits.train.subset(order[:n].sort().values)
    return make_context(dataclasses.replace(splits, train=subset), limit=None)


def test_error_set_is_upweighted_by_lambda(tiny_splits, monkeypatch):
    calls = []
    real_train = training.train

    def recording_train(model, ctx, cfg, **kwargs):
        result = real_train(model, ctx, cfg, **kwargs)
        calls.append((cfg, kwargs.get("sample_weights"), result.model))
        return result

    for module in (training, robust_training):   # both stages train through these
        monkeypatch.setattr(module, "train", recording_train)
    ctx = mixed_context(tiny_splits, 300)
    hp = dataclasses.replace(jtt.JTTHparams(), identification_epochs=1, epochs=1, upweight=7.0,
                             batch_size=32)
    result = jtt.JTT(hp).fit(ctx)

    (id_cfg, id_weights, identifier), (final_cfg, weights, final) = calls
    assert id_cfg.epochs == 1 and id_weights is None and final_cfg.epochs == 1
    mistakes = predict(identifier, ctx.train.images) != ctx.train.labels
    assert 0 < int(mistakes.sum()) < len(mistakes)   # the check below is not vacuous
    expected = torch.where(mistakes, 7.0, 1.0).double()
    assert torch.equal(weights.cpu(), expected)
    assert result.logs["error_set_size"] == float(mistakes.sum())
    assert identifier is not final
