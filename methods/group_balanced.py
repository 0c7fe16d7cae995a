"""Group-balanced resampling: a reference model, not a debiasing method.

With the training colours in hand, every non-empty (digit, colour) group is drawn equally
often, so the colour carries no information about the digit in what the network sees. This is
the "upper bound" a method using bias labels on train can reach with plain cross-entropy
(Idrissi et al. 2022, "Simple data balancing achieves competitive worst-group-accuracy", call
it RWG; Sagawa et al. 2020 use the same sampler, ``--reweight_groups``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train


def group_balanced_weights(groups: torch.Tensor) -> torch.Tensor:
    """Per-example sampling weights 1 / |group|: each non-empty group gets total weight 1.

    Empty groups simply have no examples, so they are never drawn and never divided by.
    """
    _, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse].double()


@dataclass(frozen=True)
class GroupBalancedHparams(SGDHparams):
    """The seed's ERM optimiser (SGD, lr 0.1, batch 16, 10 epochs) over a group-balanced
    sampler, so that the only difference from ``erm`` is what the batches contain."""


@METHODS.register("group-balanced")
class GroupBalanced(Method):
    Hparams = GroupBalancedHparams
    supervision = Supervision.TRAIN_BIAS
    reference = "Idrissi et al. 2022 (RWG: group-reweighted sampling); Sagawa et al. 2020"
    summary = "reference: every (digit, colour) group sampled equally often"
    is_reference_model = True

    def fit(self, ctx: RunContext) -> FitResult:
        weights = group_balanced_weights(ctx.train.groups)
        return train(ctx.new_model(), ctx, self.hparams.sgd(), sample_weights=weights)
