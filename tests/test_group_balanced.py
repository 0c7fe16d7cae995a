"""Group-balanced sampling: every non-empty (digit, colour) group drawn equally often."""
from __future__ import annotations

import torch

from bench.group_inference import group_balanced_weights
from bench.supervision import Supervision
from bench.training import epoch_order
from conftest import make_context


def test_weights_are_inverse_group_counts():
    weights = group_balanced_weights(torch.tensor([3, 3, 3, 70]))
    assert torch.allclose(weights, torch.tensor([1 / 3, 1 / 3, 1 / 3, 1.0], dtype=torch.float64))


def test_trainer_draws_equalise_the_groups_of_the_real_training_split(tiny_splits):
    ctx = make_context(tiny_splits, Supervision.TRAIN_BIAS, limit=None)
    groups = ctx.train.groups
    natural = torch.bincount(groups, minlength=100)
    nonempty = natural > 0
    assert natural[nonempty].max() > 50 * natural[nonempty].min()   # the split is very skewed
    draws = torch.cat([groups[epoch_order(len(groups), ctx, group_balanced_weights(groups))]
                       for _ in range(40)])                          # ~180,000 draws
    measured = torch.bincount(draws, minlength=100).double() / len(draws)
    assert measured[~nonempty].eq(0).all()                           # empty groups never drawn
    uniform = 1 / int(nonempty.sum())
    assert torch.allclose(measured[nonempty], torch.full_like(measured[nonempty], uniform),
                          rtol=0.15)
