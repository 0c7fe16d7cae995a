"""DFR: group-balanced last-layer retraining on validation data only."""
import dataclasses

import numpy as np
import pytest
import torch

from bench.errors import SupervisionError
from bench.methods import dfr
from bench.datasets.colored_mnist import Split
from bench.supervision import SplitView, Supervision
from conftest import make_context


def test_balanced_subset_equalises_present_groups():
    groups = np.array([0] * 7 + [1] * 3 + [5] * 4)
    part = dfr.balanced_subset(groups, np.random.default_rng(0))
    assert np.bincount(groups[part]).tolist() == [3, 3, 0, 0, 0, 3]
    assert len(set(part.tolist())) == len(part)   # without replacement


@pytest.mark.parametrize("balance", dfr.BALANCING)
def test_balanced_retraining_ignores_the_spurious_feature(balance):
    """Feature 0 carries the label, feature 1 the 'colour' (= label in 95% of examples). The
    balanced refit must rely on feature 0, so it stays right when the colour disagrees."""
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    colour = np.where(rng.random(n) < 0.95, y, 1 - y)
    x = np.stack([y + 0.6 * rng.standard_normal(n), 3.0 * colour], axis=1)
    groups = y * 2 + colour
    hp = dataclasses.replace(dfr.DFRHparams(), retrains=5, balance=balance)
    last = dfr.retrain_last_layer(x, y, groups, hp, np.random.default_rng(1), num_classes=2)
    layer = last.layer
    assert last.c in hp.c_grid
    # A class-0 example wearing class 1's colour is still class 0.
    logits = layer(torch.tensor([[0.0, 3.0]]))
    assert logits.argmax(1).item() == 0
    test_y = rng.integers(0, 2, 500)
    test_x = np.stack([test_y + 0.6 * rng.standard_normal(500), 3.0 * (1 - test_y)], axis=1)
    pred = layer(torch.tensor(test_x, dtype=torch.float)).argmax(1).numpy()
    assert (pred == test_y).mean() > 0.7


def test_groups_are_digit_by_alignment_by_default(tiny_splits):
    split = Split("val", torch.zeros(4, 3, 28, 28, dtype=torch.uint8), torch.tensor([3, 3, 3, 7]),
                  torch.tensor([3, 5, 8, 7]))
    view = SplitView(split, torch.device("cpu"), True, dataset=tiny_splits.info)
    assert dfr.dfr_groups(view, "digit-alignment").tolist() == [6, 7, 7, 14]
    assert dfr.dfr_groups(view, "digit-colour").tolist() == [33, 35, 38, 77]


def test_weights_give_every_group_the_same_total_and_keep_every_image():
    groups = np.array([0] * 90 + [1] * 10 + [4] * 30)
    w = dfr.balancing_weights(groups)
    totals = [w[groups == g].sum() for g in (0, 1, 4)]
    assert np.allclose(totals, totals[0]) and np.isclose(w.sum(), len(groups))
    index, weights = dfr.balanced_fit_data(groups, dfr.DFRHparams(), np.random.default_rng(0))
    assert len(index) == len(groups) and (weights > 0).all()


def test_worst_group_decides_c_and_the_mean_breaks_ties():
    correct = np.array([1, 1, 0, 1, 1, 1], dtype=bool)
    groups = np.array([0, 0, 0, 1, 1, 2])
    worst, mean = dfr.group_scores(correct, groups)
    assert worst == pytest.approx(2 / 3) and mean == pytest.approx((2 / 3 + 1 + 1) / 3)


def test_bad_grouping_or_balancing_is_refused():
    from bench.errors import ConfigError
    from bench.hparams import resolve
    with pytest.raises(ConfigError, match="groups"):
        resolve(dfr.DFRHparams, {"groups": "colour"})
    with pytest.raises(ConfigError, match="balance"):
        resolve(dfr.DFRHparams, {"balance": "upsample"})


def test_fit_reads_only_validation_groups(tiny_splits, monkeypatch):
    seen = {}
    real = dfr.retrain_last_layer

    def recording(x, y, groups, hp, rng, num_classes):
        seen["n"] = len(x)
        return real(x, y, groups, hp, rng, num_classes)

    monkeypatch.setattr(dfr, "retrain_last_layer", recording)
    ctx = make_context(tiny_splits, Supervision.VAL_BIAS, limit=200)
    with pytest.raises(SupervisionError):
        ctx.train.bias          # the harness withholds training colours from DFR
    hp = dataclasses.replace(dfr.DFRHparams(), erm_epochs=1, batch_size=32, retrains=2)
    result = dfr.DFR(hp).fit(ctx)
    assert seen["n"] == len(ctx.val)
    # by default the retraining uses every validation image, and the record says so
    assert result.logs["dfr_retrain_images"] == len(ctx.val)
    assert result.logs["dfr_retrain_share"] == 1.0 and result.logs["dfr_groups"] <= 20
    subsampled = dfr.DFR(dataclasses.replace(hp, balance="subsample")).fit(
        make_context(tiny_splits, Supervision.VAL_BIAS, limit=200))
    assert subsampled.logs["dfr_retrain_share"] < 0.5
    out = result.model(ctx.val.images[:4])
    assert out.shape == (4, 10)
