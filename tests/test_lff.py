"""LfF's mechanism: GCE, the per-example loss averages and the relative-difficulty weight."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.methods.lff import LossAverages, generalized_cross_entropy, relative_difficulty


def test_gce_on_hand_values():
    # Uniform over 4 classes: p_y = 0.25, (1 - 0.25 ** 0.7) / 0.7 = (1 - 0.378929) / 0.7.
    loss = generalized_cross_entropy(torch.zeros(1, 4), torch.tensor([2]), q=0.7)
    assert loss.item() == pytest.approx(0.887244, abs=1e-5)
    # q = 1 is the MAE-like 1 - p_y.
    assert generalized_cross_entropy(torch.zeros(1, 4), torch.tensor([0]), 1.0).item() == 0.75


def test_gce_gradient_is_ce_gradient_scaled_by_p_to_the_q_so_hard_examples_count_less():
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]], requires_grad=True)
    targets = torch.tensor([0, 0])                     # row 0 easy, row 1 hard
    (g_gce,) = torch.autograd.grad(generalized_cross_entropy(logits, targets, 0.7).sum(), logits)
    (g_ce,) = torch.autograd.grad(F.cross_entropy(logits, targets, reduction="sum"), logits)
    p_y = F.softmax(logits.detach(), 1)[:, 0]
    assert torch.allclose(g_gce, g_ce * p_y[:, None] ** 0.7, atol=1e-6)
    ratio = g_gce.norm(dim=1) / g_ce.norm(dim=1)
    assert ratio[1] < 0.1 < 0.9 < ratio[0]            # hard example nearly ignored


def test_loss_averages_follow_the_official_ema_and_normalise_per_class():
    averages = LossAverages(torch.tensor([0, 0, 1]), alpha=0.7, num_classes=2)
    averages.update(torch.tensor([0, 2]), torch.tensor([1.0, 4.0]))
    assert averages.values.tolist() == [1.0, 0.0, 4.0]          # first value taken as is
    averages.update(torch.tensor([0]), torch.tensor([2.0]))
    assert averages.values[0].item() == pytest.approx(0.7 * 1.0 + 0.3 * 2.0)
    normalised = averages.class_normalised(torch.tensor([0, 1, 2]))
    assert normalised.tolist() == pytest.approx([1.0, 0.0, 1.0])


def test_relative_difficulty_is_high_where_the_biased_model_fails():
    assert relative_difficulty(torch.tensor([3.0]), torch.tensor([1.0])).item() == \
        pytest.approx(0.75)
    # Class 0: two colour-aligned digits the biased model gets right, one conflicting digit it
    # gets badly wrong; the debiased model is mediocre on all three.
    # (Per-class max normalisation: the hardest example for both models would get exactly 0.5.)
    labels = torch.tensor([0, 0, 0])
    biased, debiased = LossAverages(labels, 0.7, 1), LossAverages(labels, 0.7, 1)
    everyone = torch.arange(3)
    biased.update(everyone, torch.tensor([0.05, 0.05, 3.0]))
    debiased.update(everyone, torch.tensor([0.5, 0.9, 0.6]))
    weight = relative_difficulty(biased.class_normalised(everyone),
                                 debiased.class_normalised(everyone))
    assert weight[2].item() == pytest.approx(1 / (1 + 0.6 / 0.9), abs=1e-6)
    assert weight[2] > 0.5 and (weight[:2] < 0.05).all()


def test_the_paper_variant_is_its_own_method_with_the_published_settings():
    from bench.methods.lff import LfF, LfFPaper
    from bench.registry import METHODS
    paper = METHODS.get("lff-paper")
    assert paper is LfFPaper and issubclass(paper, LfF)
    hp = paper.Hparams()
    assert (hp.optimizer, hp.lr, hp.batch_size, hp.epochs) == ("adam", 1e-3, 256, 100)
    assert (hp.q, hp.ema_alpha, hp.weight_decay) == (0.7, 0.7, 0.0)
    seed = METHODS.get("lff").Hparams()
    assert (seed.optimizer, seed.lr, seed.batch_size, seed.epochs) == ("sgd", 0.1, 16, 10)
