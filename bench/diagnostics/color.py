"""Colour following: how often the model names the digit whose colour an image wears.

On ``cycled`` every digit d wears the colour of (d + 1) mod 10, so shape and colour point at
different answers for every image. A pure colour reader scores 1, a pure shape reader 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.evaluate import predict
from bench.supervision import to_float_images


@dataclass(frozen=True)
class ColorSettings:
    """The whole ``cycled`` split (one forward pass per image: cheap)."""
    split: str = "cycled"


def color_following(pred: torch.Tensor, colour_classes: torch.Tensor) -> float:
    """Share of predictions equal to the class each image's colour belongs to
    (``DatasetInfo.class_of_bias``; on ``cycled``, (d + 1) mod 10 for class d)."""
    if len(pred) == 0:
        return float("nan")
    return float((pred.cpu() == colour_classes.cpu()).double().mean())


def run_color(model: nn.Module, splits, ctx, settings: ColorSettings) -> dict[str, float]:
    split = splits.tests[settings.split]
    pred = predict(model, to_float_images(split.images, ctx.device))
    return {"color_following": color_following(pred, ctx.info.class_of_bias(split.bias))}
