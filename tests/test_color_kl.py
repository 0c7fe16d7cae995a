"""The colour-adversarial head: the KL penalty and who each loss trains."""
from __future__ import annotations

import math

import pytest
import torch

from bench.backbones import build_backbone
from bench.method import make_method
from bench.methods.color_kl import ColorKL, adversarial_losses, head_mask, kl_to_uniform
from bench.supervision import Supervision
from conftest import make_context


def test_kl_to_uniform_is_zero_for_uniform_and_positive_otherwise():
    assert kl_to_uniform(torch.zeros(3, 10)).item() == pytest.approx(0.0, abs=1e-7)
    assert kl_to_uniform(torch.full((1, 4), 7.0)).item() == pytest.approx(0.0, abs=1e-7)
    # p = (3/4, 1/4): 0.75 ln 1.5 + 0.25 ln 0.5 = 0.130812
    assert kl_to_uniform(torch.tensor([[math.log(3.0), 0.0]])).item() == \
        pytest.approx(0.130812, abs=1e-6)
    # A confident prediction approaches log K.
    assert kl_to_uniform(torch.tensor([[50.0, 0, 0, 0, 0]])).item() == \
        pytest.approx(math.log(5), abs=1e-6)


def _gradients(loss: torch.Tensor, module: torch.nn.Module) -> float:
    grads = torch.autograd.grad(loss, list(module.parameters()), retain_graph=True,
                                allow_unused=True)
    return sum(float(g.abs().sum()) for g in grads if g is not None)


def test_penalty_trains_only_the_backbone_and_head_loss_only_the_head():
    torch.manual_seed(0)
    net, head = build_backbone("baseline"), torch.nn.Linear(16, 10)
    x = torch.rand(6, 3, 28, 28)
    digit_loss, penalty, head_loss = adversarial_losses(
        net, head, x, torch.arange(6), torch.tensor([0, 1, 2, 0, 1, 2]),
        torch.ones(6, dtype=torch.bool))
    assert penalty > 0
    assert _gradients(penalty, head) == 0 and _gradients(penalty, net.gradcam_layer) > 0
    assert _gradients(head_loss, head) > 0 and _gradients(head_loss, net) == 0
    assert _gradients(digit_loss, head) == 0


def test_colour_head_learns_colour_when_unpenalised_and_is_fooled_when_penalised(tiny_splits):
    """Without the penalty the backbone's features carry the colour and the head reads it;
    with a strong penalty the backbone hides it from the head (validation colours)."""
    def head_accuracy(kl_weight: float) -> float:
        ctx = make_context(tiny_splits, Supervision.TRAIN_BIAS, limit=1500)
        fit = make_method(ColorKL, {"epochs": 3, "kl_weight": kl_weight}).fit(ctx)
        return fit.logs["color_head_val_conflicting_acc"]

    unpenalised, penalised = head_accuracy(0.0), head_accuracy(10.0)
    # Scored on the bias-conflicting validation images (colour != digit; chance 0.1), where
    # reading the digit cannot pass for reading the colour. Measured 0.71 and 0.48.
    assert unpenalised > 0.5
    assert penalised < unpenalised - 0.15


def test_head_learns_only_where_colour_disagrees_with_the_digit():
    """With head_on="conflicting" the head's loss ignores colour-aligned images (where shape
    could pass for colour); with "all" they count."""
    torch.manual_seed(0)
    net, head = build_backbone("baseline"), torch.nn.Linear(16, 10)
    x = torch.rand(4, 3, 28, 28)
    digits = torch.tensor([0, 1, 2, 3])
    none = torch.zeros(4, dtype=torch.bool)
    aligned_only = adversarial_losses(net, head, x, digits, digits.clone(),
                                      head_mask(none, "conflicting"))[2]
    assert aligned_only == 0 and _gradients(aligned_only, head) == 0
    colors = torch.tensor([0, 1, 5, 7])          # the last two disagree with their digit
    conflicting = colors != digits
    mixed = adversarial_losses(net, head, x, digits, colors, head_mask(conflicting, "conflicting"))[2]
    per_image = torch.nn.functional.cross_entropy(head(net.features(x)), colors, reduction="none")
    assert torch.isclose(mixed, per_image[2:].mean())
    everyone = adversarial_losses(net, head, x, digits, colors, head_mask(conflicting, "all"))[2]
    assert torch.isclose(everyone, per_image.mean())
