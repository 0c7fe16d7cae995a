"""Class visualisation by activation maximisation.

The seed found unregularised maximisation uninterpretable (high-frequency noise that any
class logit loves). Regulariser used here, all on an input that starts mid-grey (0.5):

- L2 pull towards grey: ``l2 * mean((x - 0.5)^2)`` keeps the image from saturating;
- total variation: ``tv * mean(|x[i+1,j] - x[i,j]| + |x[i,j+1] - x[i,j]|)`` favours smooth
  regions over pixel noise;
- jitter: every step the image is rolled by a random shift of up to ``jitter`` pixels
  before the forward pass, so a pattern must work wherever it sits;
- after each step the image is clamped to [0, 1], the range of real inputs.

The objective is the target logit (not the softmax, which can rise by lowering others).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class MaximisationSettings:
    steps: int = 200
    lr: float = 0.05
    l2: float = 1.0
    tv: float = 2.0
    jitter: int = 2
    seed: int = 0


@dataclass(frozen=True)
class ClassVisualisation:
    images: torch.Tensor        # (classes, 3, 28, 28) in [0, 1]
    logit_start: torch.Tensor   # (classes,) target logit of the grey start
    logit_end: torch.Tensor     # (classes,) target logit of the final image


def total_variation(x: torch.Tensor) -> torch.Tensor:
    return ((x[..., 1:, :] - x[..., :-1, :]).abs().mean()
            + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def visualise_classes(model: nn.Module, classes: list[int] | None = None,
                      settings: MaximisationSettings = MaximisationSettings(),
                      device: torch.device | str = "cpu") -> ClassVisualisation:
    """One image per class, optimised together (each image only for its own class)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        classes = list(range(model.classifier.out_features)) if classes is None else classes
        target = torch.tensor(classes, device=device)
        rows = torch.arange(len(classes), device=device)
        x = torch.full((len(classes), *model.input_shape), 0.5, device=device, requires_grad=True)
        opt = torch.optim.Adam([x], lr=settings.lr)
        g = torch.Generator().manual_seed(settings.seed)
        with torch.no_grad():
            start = model(x)[rows, target].detach().cpu()
        for _ in range(settings.steps):
            dy, dx = (torch.randint(-settings.jitter, settings.jitter + 1, (2,), generator=g)
                      .tolist() if settings.jitter else (0, 0))
            shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            logit = model(shifted)[rows, target]
            loss = (-logit.sum() + settings.l2 * ((x - 0.5) ** 2).mean() * len(classes)
                    + settings.tv * total_variation(x) * len(classes))
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)
        with torch.no_grad():
            end = model(x)[rows, target].detach().cpu()
        return ClassVisualisation(x.detach().cpu(), start, end)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
