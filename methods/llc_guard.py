"""LLC guard: ERM that watches its own Local Learning Coefficient and, when the LLC stays at
the lazy solution's level, upweights the examples it currently gets most wrong.

The seed report's closing proposal: "measure the LLC during training and intervene when the
model's LLC falls toward the lazy baseline's", so that the model steps out of the simple
minimum. No bias label is read. After every epoch a cheap LLC probe (the diagnostic's
estimator on a fixed 1,024-image training subset, 2 short chains) is taken. The reference is
the probe after the first epoch: on the `baseline` network ERM reads the colour alone by
then (docs/diagnostics.md, learning curves), so that is the lazy solution's LLC. From the
second epoch on (up to the last but one: the last has no next epoch to decide for), if the probe is below the reference + ``margin`` x |reference|, the next
epoch samples the ``top_fraction`` of training examples with the highest current loss
``upweight`` times as often (JTT's upsampling, driven by the LLC instead of a fixed
schedule); otherwise it samples like ERM. Until the first intervention it is ERM, step for
step. Its settings are chosen on validation data by the rule in docs/llc-calibration.md
(section 4).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.diagnostics.llc import LLCSettings, estimate_llc
from bench.diagnostics.pgd import sample_positions
from bench.evaluate import eval_batch
from bench.hparams import hparam
from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train

PROBE_SEED = 0


@dataclass(frozen=True)
class LLCGuardHparams(SGDHparams):
    """ERM's optimiser and budget (SGD lr 0.1, batch 16, 10 epochs) plus the guard."""
    margin: float = hparam(0.2, low=0)
    top_fraction: float = hparam(0.05, low=0, high=1, low_open=True)
    upweight: float = hparam(20.0, low=1)
    probe_subset: int = hparam(1024, low=2)
    probe_chains: int = hparam(2, low=1)
    probe_burnin: int = hparam(20, low=0)
    probe_draws: int = hparam(40, low=2)

    def probe(self) -> LLCSettings:
        """The diagnostic's estimator, default step, γ and nβ, on shorter chains."""
        return LLCSettings(subset=self.probe_subset, chains=self.probe_chains,
                           burnin=self.probe_burnin, draws=self.probe_draws, seed=PROBE_SEED)


@torch.no_grad()
def per_example_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     batch: int | None = None) -> torch.Tensor:
    # The device's inference batch (128 on a CPU): at 4,096 the pass over the training split
    # was memory-bound and cost 90% of an epoch (tests/benchmarks/llc_guard_cost.py); the
    # logits, and so the losses, are the same at any batch (tests/test_evaluate.py).
    batch = batch or eval_batch(images.device)
    model.eval()
    out = torch.cat([F.cross_entropy(model(images[i:i + batch]), labels[i:i + batch],
                                     reduction="none") for i in range(0, len(labels), batch)])
    model.train()
    return out


def hardest_upweighted(losses: torch.Tensor, fraction: float, upweight: float) -> torch.Tensor:
    """Sampling weights: 1, and ``upweight`` for the ``fraction`` of examples with the highest
    loss (at least one)."""
    k = max(1, int(round(fraction * len(losses))))
    weights = torch.ones_like(losses, dtype=torch.float64)
    weights[torch.topk(losses, k).indices] = upweight
    return weights


class Guard:
    """The per-epoch probe and the decision; ``weights(epoch)`` is what the next epoch
    samples with (None: a permutation, as ERM)."""

    def __init__(self, model: nn.Module, ctx: RunContext, hp: LLCGuardHparams):
        self.model, self.ctx, self.hp = model, ctx, hp
        self.settings = hp.probe()
        index = sample_positions(len(ctx.train.labels), self.settings.subset, PROBE_SEED)
        self.probe_images = ctx.train.images[index.to(ctx.train.images.device)]
        self.probe_labels = ctx.train.labels[index.to(ctx.train.labels.device)]
        self.llcs: list[float] = []
        self.next_weights: torch.Tensor | None = None
        self.interventions: list[int] = []

    def weights(self, epoch: int) -> torch.Tensor | None:
        return self.next_weights

    def after_epoch(self, epoch: int) -> None:
        if epoch + 1 == self.hp.epochs:
            return                  # no next epoch to decide for: no probe
        llc = estimate_llc(self.model, self.probe_images, self.probe_labels, self.settings,
                           self.ctx.device)["llc"]
        self.llcs.append(llc)
        reference = self.llcs[0]
        self.next_weights = None
        if epoch >= 1 and llc < reference + self.hp.margin * abs(reference):
            losses = per_example_loss(self.model, self.ctx.train.images, self.ctx.train.labels)
            self.next_weights = hardest_upweighted(losses, self.hp.top_fraction,
                                                   self.hp.upweight)
            self.interventions.append(epoch + 1)

    def logs(self) -> dict[str, float]:
        out = {f"guard_llc_epoch_{i}": v for i, v in enumerate(self.llcs, 1)}
        out["guard_interventions"] = float(len(self.interventions))
        out["guard_first_intervention"] = float(self.interventions[0] if self.interventions
                                                else 0)
        return out


@METHODS.register("llc-guard")
class LLCGuard(Method):
    Hparams = LLCGuardHparams
    supervision = Supervision.NONE
    reference = "the seed report's proposal (LLC-guided intervention); upsampling as JTT"
    summary = "ERM; when its LLC stays at the lazy level, upweight the highest-loss examples"

    def fit(self, ctx: RunContext) -> FitResult:
        model = ctx.new_model()
        guard = Guard(model, ctx, self.hparams)
        result = train(model, ctx, self.hparams.sgd(), sample_weights=guard.weights,
                       on_epoch_end=guard.after_epoch)
        result.logs.update(guard.logs())
        return result
