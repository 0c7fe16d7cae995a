"""Group-balanced resampling: a reference model, not a debiasing method.

With the training colours in hand, every non-empty (digit, colour) group is drawn equally
often, so the colour carries no information about the digit in what the network sees. This is
the "upper bound" a method using bias labels on train can reach with plain cross-entropy
(Idrissi et al. 2022, "Simple data balancing achieves competitive worst-group-accuracy", call
it RWG; Sagawa et al. 2020 use the same sampler, ``--reweight_groups``). A composition: the
known groups (``bench.group_inference.KnownGroups``) and reweighted retraining.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.group_inference import KnownGroups, group_balanced_weights  # noqa: F401 (re-export)
from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.robust_training import reweighted_retraining
from bench.supervision import Supervision
from bench.training import SGDHparams


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
        return reweighted_retraining(ctx, self.hparams.sgd(), KnownGroups().infer(ctx),
                                     phase="train")
