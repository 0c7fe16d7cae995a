"""Just Train Twice (Liu et al., ICML 2021): upweight what a briefly trained model gets wrong.

Stage 1 trains an identification model with plain ERM for a few epochs (no model selection);
its training-set mistakes form the *error set* (``bench.group_inference.error_set``). Stage 2
trains a fresh model on the training data with the error set upsampled ``upweight`` times
(weighted sampling with replacement through ``bench.training.train``). No bias labels are
read, so selection is by validation accuracy (the harness's rule for unsupervised methods).
"""
from __future__ import annotations

from dataclasses import dataclass

from bench import group_inference
from bench.hparams import hparam
from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train


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
        identifier = train(ctx.new_model(), ctx, hp.sgd(hp.identification_epochs), select=False,
                           phase="identify").model
        errors = group_inference.error_set(identifier, ctx.train.images, ctx.train.digits)
        weights = group_inference.upweight(errors, hp.upweight)
        result = train(ctx.new_model(), ctx, hp.sgd(hp.epochs), sample_weights=weights,
                       phase="final")
        result.logs.update({"error_set_size": float(errors.sum()),
                            "error_set_fraction": float(errors.float().mean())})
        return result
