"""DFA: Learning Debiased Representation via Disentangled Feature Augmentation (Lee et al.,
NeurIPS 2021). No bias labels.

Written from the paper (its abstract, and Eqs. 1-4 as the official code's comments name them)
and our reading of the official code
(kakaoenterprise/Learning-Debiased-Disentangled, ``learner.py``, ``train_ours``), which
carries no licence: nothing here is copied from it.

Two encoders of the run's backbone, an *intrinsic* E_i and a *bias* E_b, and two linear
classifiers over the concatenated features z = [z_i, z_b]: C_i (the reported model's head)
and C_b. On every batch

- C_i reads [z_i, sg(z_b)] and C_b reads [sg(z_i), z_b] (sg: stop-gradient), so each encoder
  learns only from its own classifier (the disentanglement);
- the bias branch is trained with generalized cross-entropy (GCE, q = 0.7), which makes it a
  colour reader on purpose; the intrinsic branch with cross-entropy weighted by LfF's
  relative difficulty W = L_b / (L_b + L_i) of class-normalised per-example loss averages
  (:mod:`bench.methods.lff`'s pieces);
- after a warm-up of ``swap_start_step`` steps the bias halves are swapped inside the batch
  by a random permutation (:func:`swap_bias_features`): C_i must still name y from
  [z_i, sg(z_b[perm])] (weighted by W), C_b must name y[perm] from [sg(z_i), z_b[perm]]
  (GCE): synthetic bias-conflicting features.

Loss = W CE(C_i) + λ_dis GCE(C_b) + λ_swap (W CE(C_i, swapped) + λ_swap_b GCE(C_b, swapped)).
The reported model is C_i([E_i(x), E_b(x)]) (:class:`bench.two_encoders.TwoEncoderNet`),
chosen among epochs by :func:`bench.training.train` like every method's, so every selection
rule's pick is recorded. GCE is Zhang & Sabuncu's (1 - p^q) / q; the official code uses
q p^q CE (p detached), whose gradient is q times ours. Only GCE terms reach the bias branch
(E_b, C_b), so under Adam (the paper's optimiser) the two agree up to Adam's epsilon.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench.backbones import build_backbone
from bench.evaluate import predict
from bench.hparams import hparam
from bench.method import FitResult, Method, RunContext
from bench.methods.lff import LossAverages, generalized_cross_entropy, relative_difficulty
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train
from bench.two_encoders import DFA_MLP_ENCODER, TwoEncoderNet


def swap_bias_features(z_i: torch.Tensor, z_b: torch.Tensor, perm: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """DFA's feature swap (Eq. 3): sample k keeps its intrinsic half z_i[k] and takes sample
    perm[k]'s bias half. Returns the intrinsic classifier's input [z_i, sg(z_b[perm])] and the
    bias classifier's [sg(z_i), z_b[perm]]: gradients reach each encoder from its own side."""
    swapped = z_b[perm]
    return (torch.cat([z_i, swapped.detach()], dim=1),
            torch.cat([z_i.detach(), swapped], dim=1))


RUN_BACKBONE = "backbone"


@dataclass(frozen=True)
class DFAHparams(SGDHparams):
    """DFA's CMNIST settings (Lee et al. 2021; official README and scripts/run_cmnist_ours.sh):
    lambda_dis_align = 10 (``gce_weight``), lambda_swap_align = 10 (``swap_gce_weight``),
    lambda_swap = 1 (``swap_weight``), curr_step = 10,000 (``swap_start_step``); train.py's
    defaults q = 0.7 and ema_alpha = 0.7. The optimiser and length are the seed protocol's
    (SGD lr 0.1, batch 16, 10 epochs, constant lr), so that dfa meets erm at equal budget
    there; the paper's own (Adam lr 0.01, batch 256, 50,000 steps, lr x 0.5 every 10,000
    steps after the warm-up) is what ``--protocol lff-cmnist`` sets (bench.protocols)."""
    q: float = hparam(0.7, low=0, high=1, low_open=True)
    ema_alpha: float = hparam(0.7, low=0, high=1, high_open=True)
    gce_weight: float = hparam(10.0, low=0)
    swap_gce_weight: float = hparam(10.0, low=0)
    swap_weight: float = hparam(1.0, low=0)
    swap_start_step: int = hparam(10_000, low=0)      # steps of warm-up before swapping
    decay_every: int = hparam(0, low=0)               # steps; 0: a constant lr
    decay_factor: float = hparam(1.0, low=0, high=1, low_open=True)
    # "backbone": both encoders are the run's backbone (the protocol's network, as every
    # method's); "mlp-100-100-16": DFA's own CMNIST encoder (bench.two_encoders), to test
    # that difference
    encoder: str = hparam(RUN_BACKBONE, choices=(RUN_BACKBONE, DFA_MLP_ENCODER),
                          added_later=True)


def _seeded(ctx: RunContext, build: Callable[[], nn.Module]) -> nn.Module:
    """A module initialised from the run's generator, leaving the global RNG as it was."""
    seed = ctx.seed_from_generator()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().to(ctx.device)


class BiasHead(nn.Module):
    """C_b on both encoders' features: the bias branch's prediction (logged, not reported)."""

    def __init__(self, model: TwoEncoderNet, classifier: nn.Linear):
        super().__init__()
        self.model, self.classifier = model, classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.model.features(x))


@METHODS.register("dfa")
class DFA(Method):
    Hparams = DFAHparams
    supervision = Supervision.NONE
    reference = ("Lee et al. 2021, Learning Debiased Representation via Disentangled Feature "
                 "Augmentation (NeurIPS)")
    summary = ("intrinsic and GCE-trained bias encoders, LfF weights, bias features swapped "
               "across the batch after a warm-up")

    def fit(self, ctx: RunContext) -> FitResult:
        hp = self.hparams
        own = hp.encoder != RUN_BACKBONE
        if own:   # drawn from the run's generator exactly as ctx.new_model draws
            intrinsic, bias = (_seeded(ctx, lambda: build_backbone(hp.encoder, ctx.num_classes))
                               for _ in range(2))
        else:
            intrinsic, bias = ctx.new_model(), ctx.new_model()
        model = _seeded(ctx, lambda: TwoEncoderNet(intrinsic, bias, ctx.num_classes,
                                                   encoder=hp.encoder if own else None))
        bias_classifier = _seeded(ctx, lambda: nn.Linear(model.num_features, ctx.num_classes))
        digits = ctx.train.labels
        average_i = LossAverages(digits, hp.ema_alpha, ctx.num_classes)
        average_b = LossAverages(digits, hp.ema_alpha, ctx.num_classes)
        # on the run's device: a permutation drawn on the host would be copied every step
        swaps = torch.Generator(device=ctx.device).manual_seed(ctx.seed_from_generator())
        taken = {"steps": 0, "swapped": 0}
        weight_sum = torch.zeros((), device=ctx.device)

        def objective(_: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      index: torch.Tensor) -> torch.Tensor:
            z_i, z_b = intrinsic.features(x), bias.features(x)
            logits_i = model.classifier(torch.cat([z_i, z_b.detach()], dim=1))
            logits_b = bias_classifier(torch.cat([z_i.detach(), z_b], dim=1))
            ce_i = F.cross_entropy(logits_i, y, reduction="none")
            average_i.update(index, ce_i.detach())
            average_b.update(index, F.cross_entropy(logits_b, y, reduction="none").detach())
            weight = relative_difficulty(average_b.class_normalised(index),
                                         average_i.class_normalised(index))
            weight_sum.add_(weight.sum())
            loss = ((ce_i * weight).mean()
                    + hp.gce_weight * generalized_cross_entropy(logits_b, y, hp.q).mean())
            if taken["steps"] > hp.swap_start_step:   # the official code's `step > curr_step`
                perm = torch.randperm(len(y), generator=swaps, device=y.device)
                for_i, for_b = swap_bias_features(z_i, z_b, perm)
                swap_i = F.cross_entropy(model.classifier(for_i), y, reduction="none")
                swap_b = generalized_cross_entropy(bias_classifier(for_b), y[perm], hp.q)
                loss = loss + hp.swap_weight * ((swap_i * weight).mean()
                                                + hp.swap_gce_weight * swap_b.mean())
                taken["swapped"] += 1
            taken["steps"] += 1
            return loss

        # the lr decays from the end of the warm-up on, as the official scheduler does
        cfg = dataclasses.replace(hp.sgd(), decay_every=hp.decay_every,
                                  decay_factor=hp.decay_factor, decay_start=hp.swap_start_step)
        result = train(model, ctx, cfg, objective, extra_parameters=bias_classifier.parameters())
        # The bias branch at the last epoch (C_b was not selected): how much of a colour
        # reader it became, and how much weight the intrinsic branch put on each image.
        last = result.final_model or model
        biased = predict(BiasHead(last, bias_classifier), ctx.train.images)
        result.logs.update({
            "dfa_bias_train_acc": float((biased == digits).double().mean()),
            "dfa_mean_weight": float(weight_sum) / (hp.epochs * len(digits)),
            "dfa_swap_steps": float(taken["swapped"])})
        return result
