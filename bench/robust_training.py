"""Robust training: the second stage of a two-stage method. Given per-example sampling weights
from a group-inference stage (:mod:`bench.group_inference`), train a fresh model on the
training data drawn with those weights (sampling with replacement, the run's generator) and
select it like any model (every selection rule's pick, :mod:`bench.selection`)."""
from __future__ import annotations

from bench.group_inference import InferredWeights
from bench.method import FitResult, RunContext
from bench.training import SGDConfig, train


def reweighted_retraining(ctx: RunContext, cfg: SGDConfig, inferred: InferredWeights,
                          phase: str = "final") -> FitResult:
    """A fresh model trained with ``inferred.weights``; its logs carry the inference's."""
    result = train(ctx.new_model(), ctx, cfg, sample_weights=inferred.weights, phase=phase)
    result.logs.update(inferred.logs)
    return result
