"""A method defined outside the bench: plain ERM with small defaults, found by entry point."""
from __future__ import annotations

from dataclasses import dataclass

from bench.method import FitResult, Method, RunContext
from bench.training import SGDConfig, train


@dataclass(frozen=True)
class PluginHparams:
    epochs: int = 1
    batch_size: int = 64
    lr: float = 0.1


class PluginERM(Method):
    Hparams = PluginHparams
    summary = "test plugin: ERM shipped by a third-party package"

    def fit(self, ctx: RunContext) -> FitResult:
        h = self.hparams
        return train(ctx.new_model(), ctx, SGDConfig(h.epochs, h.batch_size, h.lr))
