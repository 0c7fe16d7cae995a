"""Empirical risk minimisation: the "lazy artist" itself."""
from __future__ import annotations

from dataclasses import dataclass

from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train


@dataclass(frozen=True)
class ERMHparams(SGDHparams):
    """The seed report's defaults: plain SGD, lr 0.1, batch 16, 10 epochs."""


@METHODS.register("erm")
class ERM(Method):
    Hparams = ERMHparams
    supervision = Supervision.NONE
    reference = "Vapnik 1992; the seed report's BaselineNet training"
    summary = "plain cross-entropy training"

    def fit(self, ctx: RunContext) -> FitResult:
        return train(ctx.new_model(), ctx, self.hparams.sgd())
