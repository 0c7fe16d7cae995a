"""Just Train Twice (Liu et al., ICML 2021): upweight what a briefly trained model gets wrong.

A composition of two stages: group inference by the *error set* (``bench.group_inference
.ErrorSet``: an identification model trained with plain ERM for a few epochs, no model
selection; its training-set mistakes upweighted ``upweight`` times) and reweighted retraining
of a fresh model (``bench.robust_training``). No bias labels are read, so the default
selection rule is validation accuracy (every rule's pick is recorded).
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.group_inference import ErrorSet
from bench.hparams import hparam
from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.robust_training import reweighted_retraining
from bench.supervision import Supervision
from bench.training import SGDHparams


@dataclass(frozen=True)
class JTTHparams(SGDHparams):
    """The seed report's settings: error set upweighted x20, final model 20 epochs, with the
    ERM optimiser (SGD, lr 0.1, batch 16). The identification model trains one epoch: on
    Colored MNIST the colour shortcut is learnt within the first epoch, and JTT's paper uses
    T = 1 epoch for CelebA (T and lambda are tuned per dataset in Liu et al. 2021, Table 5)."""
    identification_epochs: int = hparam(1, low=1)
    upweight: float = hparam(20.0, low=1)
    epochs: int = 20


@METHODS.register("jtt")
class JTT(Method):
    Hparams = JTTHparams
    supervision = Supervision.NONE
    reference = "Liu et al. 2021, Just Train Twice (ICML); seed report: x20, 20 epochs"
    summary = "ERM briefly, then retrain with its training errors upsampled"

    def fit(self, ctx: RunContext) -> FitResult:
        hp = self.hparams
        inferred = ErrorSet(hp.identification_epochs, hp.upweight, hp.sgd).infer(ctx)
        return reweighted_retraining(ctx, hp.sgd(hp.epochs), inferred)
