"""Colour-adversarial head: the seed report's planned mitigation.

A linear colour head reads the backbone's pooled features and learns to predict the
background colour (cross-entropy on the training colour labels, on *detached* features, so
it only ever learns). The backbone and digit classifier minimise

    L_digit + lambda * KL(P_color || Uniform),    P_color = softmax(head(features))

with the head's parameters frozen inside the KL term: the backbone is pushed toward features
from which the current head cannot tell the colour. This is the two-player game of Learning
Not to Learn (Kim et al. 2019), with the mutual-information term replaced by the seed's
KL-to-uniform penalty, which equals log(10) - H(P_color).

Where the head learns matters. On the full training set colour equals digit 95% of the time, so
a head can predict "colour" from the digit's *shape*; the penalty then suppresses shape features
as much as colour ones, and on full MNIST the backbone ended up more of a colour reader than
ERM (conflicting 0.054 against ERM's 0.675). By default the head therefore learns only on
training images whose colour disagrees with their digit (``head_on="conflicting"``), where
shape says next to nothing about colour: it must read colour, and the penalty removes colour.
``head_on="all"`` keeps the first design for comparison.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.evaluate import predict
from bench.hparams import hparam
from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train

HEAD_DATA = ("conflicting", "all")   # which training images the colour head learns on


def kl_to_uniform(logits: torch.Tensor) -> torch.Tensor:
    """Mean over rows of KL(softmax(logits) || Uniform) = log K - H(p); 0 iff p is uniform."""
    log_p = F.log_softmax(logits, dim=1)
    return (log_p.exp() * (log_p + math.log(logits.shape[1]))).sum(dim=1).mean()


@dataclass(frozen=True)
class ColorKLHparams(SGDHparams):
    """The seed's optimiser (SGD, lr 0.1, batch 16, 10 epochs) plus the penalty weight.

    ``kl_weight`` (lambda) = 1.0 is our choice, not a published value (the seed planned the
    penalty without a weight; Kim et al. weigh a different, mutual-information term): at 1.0
    the penalty and the digit loss have the same scale (both are at most log 10 nats when the
    features are uninformative). docs/methods-single-stage.md lists the values tried.
    """
    kl_weight: float = hparam(1.0, low=0)
    head_on: str = hparam("conflicting", choices=HEAD_DATA)


def colour_head(model: nn.Module, ctx: RunContext) -> nn.Linear:
    """A linear colour head on the pooled features, initialised from the run's generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed_from_generator())
        head = nn.Linear(model.classifier.in_features, ctx.info.num_bias_values)
    return head.to(ctx.device)


def head_mask(conflicting: torch.Tensor, head_on: str) -> torch.Tensor:
    """The images the colour head learns on: with ``head_on="conflicting"`` only those whose
    colour is not their class's (``conflicting``, from the dataset's declaration), else all."""
    return conflicting.clone() if head_on == "conflicting" else torch.ones_like(conflicting)


def adversarial_losses(net: nn.Module, head: nn.Linear, x: torch.Tensor, digits: torch.Tensor,
                       colors: torch.Tensor, learn: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(digit CE, KL-to-uniform penalty, colour-head CE). The penalty (on every image) reaches
    only the backbone (the head is a fixed adversary inside it); the head's CE reaches only the
    head and counts only the images of the ``learn`` mask (zero when a batch has none)."""
    features = net.features(x)
    digit_loss = F.cross_entropy(net.classifier(features), digits)
    adversary_logits = F.linear(features, head.weight.detach(), head.bias.detach())
    per_image = F.cross_entropy(head(features.detach()), colors, reduction="none")
    head_loss = (per_image * learn).sum() / learn.sum().clamp(min=1)
    return digit_loss, kl_to_uniform(adversary_logits), head_loss


@METHODS.register("color-kl")
class ColorKL(Method):
    Hparams = ColorKLHparams
    supervision = Supervision.TRAIN_BIAS
    reference = "the seed report's planned colour head; Kim et al. 2019, Learning Not to Learn"
    summary = "adversarial colour head; backbone penalised by KL(P_color || uniform)"
    # Its weights minimise cross-entropy + lambda * KL, so the cross-entropy's gradient there
    # is the penalty's, not zero: they are a minimum of no cross-entropy, reweighted or not
    # (docs/llc-calibration.md §3c measures it, and the estimates it gave).
    llc_not_defined = ("its weights minimise the cross-entropy plus a colour penalty in a "
                       "min-max game with the colour head, so they are at no minimum of the "
                       "training loss the LLC samples")

    def fit(self, ctx: RunContext) -> FitResult:
        hp = self.hparams
        model = ctx.new_model()
        head = colour_head(model, ctx)
        colors = ctx.train.bias
        learn = head_mask(ctx.train.conflicting, hp.head_on)

        def objective(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      index: torch.Tensor) -> torch.Tensor:
            digit_loss, penalty, head_loss = adversarial_losses(
                net, head, x, y, colors.index_select(0, index), learn.index_select(0, index))
            return digit_loss + hp.kl_weight * penalty + head_loss

        result = train(model, ctx, hp.sgd(), objective, extra_parameters=head.parameters())
        # The head was trained against the last epoch's backbone: probe that one.
        probe = nn.Sequential(_Features(result.final_model or model), head)
        # Scored on bias-conflicting images only: where colour = digit (95%), a head can be
        # right by reading the digit's shape, which says nothing about colour information.
        conflicting = ctx.val.conflicting
        guesses = predict(probe, ctx.val.images[conflicting])
        result.logs["color_head_val_conflicting_acc"] = float(
            (guesses == ctx.val.bias[conflicting]).double().mean())
        return result


class _Features(nn.Module):
    """The selected model's pooled features, so the colour head can be evaluated with predict."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.features(x)
