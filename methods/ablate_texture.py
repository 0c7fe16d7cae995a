"""Texture-unit ablation: the seed report's automated finding, made a method.

Train ERM; then ask each of the pooled units (``model.features``, the seed's "16 neurons")
whether it responds to the digit or to the colour texture, using two probe images built from
every probe training image, without colour labels and without the palette:

* *digit probe*: the image's grey digit on a plain black background (a contrasting,
  texture-free background), recovered by ``bench.methods.greyscale.decolorize``;
* *texture probe*: the image's own background texture alone, no digit: every pixel is
  replaced by a pixel drawn (with replacement, from the run's generator) from the image's
  background, i.e. the pixels whose recovered grey value is 0.

A unit's *texture score* is ``T / (T + D)``, with ``T`` and ``D`` its mean activation over the
texture and digit probes (activations are post-ReLU means, so non-negative). Units scoring
above ``threshold`` are texture-driven and are zeroed by a fixed mask in front of the
classifier; the classifier itself is not retrained.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench import group_inference
from bench.backbones import UnitMaskedNet
from bench.hparams import hparam
from bench.method import FitResult, Method, RunContext
from bench.methods.greyscale import decolorize
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train


def texture_probes(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image's background texture alone: pixels redrawn from its own background."""
    n, c = images.shape[:2]
    flat = images.flatten(2)                                       # N x 3 x P
    background = (decolorize(images)[:, 0].flatten(1) == 0).double()   # N x P
    background[background.sum(1) == 0] = 1.0    # no pure background pixel: draw from all
    draws = torch.multinomial(background.cpu(), flat.shape[2], replacement=True,
                              generator=generator).to(images.device)
    texture = torch.gather(flat, 2, draws.unsqueeze(1).expand(-1, c, -1))
    return texture.view_as(images)


def texture_scores(model: nn.Module, images: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    """``T / (T + D)`` per pooled unit (0 = digit-driven, 1 = texture-driven)."""
    texture = group_inference.pooled_features(model, texture_probes(images, generator)).mean(0)
    digit = group_inference.pooled_features(model, decolorize(images)).mean(0)
    return texture / (texture + digit).clamp(min=1e-8)


@dataclass(frozen=True)
class AblateTextureHparams(SGDHparams):
    """ERM with the seed's settings (10 epochs, SGD lr 0.1, batch 16); 1,000 probe images;
    a unit is texture-driven when its texture activation exceeds its digit activation
    (score > 0.5: the natural midpoint of the score, not tuned on any test split)."""
    probes: int = hparam(1000, low=1)
    threshold: float = hparam(0.5, low=0, high=1)


@METHODS.register("ablate-texture")
class AblateTexture(Method):
    Hparams = AblateTextureHparams
    supervision = Supervision.BIAS_FORM   # decolorize: knows how the colour was painted
    reference = "seed report: automated unit probing of the 16 pooled neurons (3% -> 14%)"
    summary = "ERM, then zero the pooled units that respond to colour texture over digits"
    llc_not_defined = ("its unit mask is applied after training, so the reported weights are "
                       "not at a minimum of the training loss")

    def fit(self, ctx: RunContext) -> FitResult:
        hp = self.hparams
        erm = train(ctx.new_model(), ctx, hp.sgd(),
                    phase="erm").model
        n = len(ctx.train)
        pick = torch.randperm(n, generator=ctx.generator)[:min(hp.probes, n)].to(ctx.device)
        scores = texture_scores(erm, ctx.train.images.index_select(0, pick), ctx.generator)
        keep = scores <= hp.threshold
        logs = {"ablated_units": float((~keep).sum()), "texture_score_max": float(scores.max()),
                "texture_score_min": float(scores.min())}
        return FitResult(model=UnitMaskedNet(erm, keep), logs=logs)
