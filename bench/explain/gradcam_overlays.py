"""Grad-CAM maps for overlays on aligned and conflicting images.

Uses the one Grad-CAM implementation of the bench (:mod:`bench.diagnostics.gradcam`, the
``gradcam_shape_share`` diagnostic), on the last conv block, for the predicted class.
"""
from __future__ import annotations

import torch
from torch import nn

from bench.diagnostics.gradcam import gradcam, upsample
from bench.evaluate import predict


def target_layer(model: nn.Module) -> nn.Module:
    """The last conv block; a wrapper (e.g. a unit mask) is looked through."""
    for candidate in (model, getattr(model, "base", None), getattr(model, "backbone", None)):
        layer = getattr(candidate, "block3", None)
        if isinstance(layer, nn.Module):
            return layer
    raise TypeError(f"{type(model).__name__} has no last conv block 'block3' for Grad-CAM")


def cams(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(maps (N, 28, 28) scaled to [0, 1] per image, predicted classes) for float images."""
    model.eval()
    pred = predict(model, images)
    maps = upsample(gradcam(model, target_layer(model), images, pred)).detach().cpu()
    peak = maps.flatten(1).max(1).values.clamp_min(1e-12)
    return maps / peak[:, None, None], pred.cpu()
