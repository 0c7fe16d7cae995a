"""DFR: group-balanced last-layer retraining on validation data only."""
import dataclasses

import numpy as np
import pytest
import torch

from bench.errors import SupervisionError
from bench.methods import dfr
from bench.supervision import Supervision
from conftest import make_context


def test_balanced_subset_equalises_present_groups():
    groups = np.array([0] * 7 + [1] * 3 + [5] * 4)
    part = dfr.balanced_subset(groups, np.random.default_rng(0))
    assert np.bincount(groups[part]).tolist() == [3, 3, 0, 0, 0, 3]
    assert len(set(part.tolist())) == len(part)   # without replacement


def test_balanced_retraining_ignores_the_spurious_feature():
    """Feature 0 carries the label, feature 1 the 'colour' (= label in 95% of examples). The
    balanced refit must rely on feature 0, so it stays right when the colour disagrees."""
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    colour = np.where(rng.random(n) < 0.95, y, 1 - y)
    x = np.stack([y + 0.6 * rng.standard_normal(n), 3.0 * colour], axis=1)
    groups = y * 2 + colour
    hp = dataclasses.replace(dfr.DFRHparams(), retrains=5)
    layer, c = dfr.retrain_last_layer(x, y, groups, hp, np.random.default_rng(1), num_classes=2)
    assert c in hp.c_grid
    # A class-0 example wearing class 1's colour is still class 0.
    logits = layer(torch.tensor([[0.0, 3.0]]))
    assert logits.argmax(1).item() == 0
    test_y = rng.integers(0, 2, 500)
    test_x = np.stack([test_y + 0.6 * rng.standard_normal(500), 3.0 * (1 - test_y)], axis=1)
    pred = layer(torch.tensor(test_x, dtype=torch.float)).argmax(1).numpy()
    assert (pred == test_y).mean() > 0.7


def test_fit_reads_only_validation_groups(tiny_splits, monkeypatch):
    seen = {}
    real = dfr.retrain_last_layer

    def recording(x, y, groups, hp, rng, num_classes):
        seen["n"] = len(x)
        return real(x, y, groups, hp, rng, num_classes)

    monkeypatch.setattr(dfr, "retrain_last_layer", recording)
    ctx = make_context(tiny_splits, Supervision.VAL_BIAS, limit=200)
    with pytest.raises(SupervisionError):
        ctx.train.colors          # the harness withholds training colours from DFR
    hp = dataclasses.replace(dfr.DFRHparams(), erm_epochs=1, batch_size=32, retrains=2)
    result = dfr.DFR(hp).fit(ctx)
    assert seen["n"] == len(ctx.val)
    out = result.model(ctx.val.images[:4])
    assert out.shape == (4, 10)
