"""Grad-CAM maps for overlays on aligned and conflicting images, and how an overlay is drawn.

Uses the one Grad-CAM implementation of the bench (:mod:`bench.diagnostics.gradcam`, the
``gradcam_shape_share`` diagnostic), on the last conv block, for the predicted class.
:func:`draw_overlay` is the one overlay drawing, shared by ``bench explain`` and the
leaderboard's Grad-CAM figure.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.diagnostics.gradcam import gradcam, upsample
from bench.evaluate import predict


def cams(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(maps (N, H, W) scaled to [0, 1] per image, predicted classes) for float images, on the
    backbone's ``gradcam_layer`` as the Grad-CAM diagnostic uses it."""
    model.eval()
    pred = predict(model, images)
    maps = upsample(gradcam(model, model.gradcam_layer, images, pred),
                    tuple(images.shape[-2:])).detach().cpu()
    peak = maps.flatten(1).max(1).values.clamp_min(1e-12)
    return maps / peak[:, None, None], pred.cpu()


OVERLAY_CMAP = "jet"
OVERLAY_ALPHA = 0.45   # the image stays readable under the map


def draw_overlay(ax, image, cam) -> None:
    """Draws a uint8 (3, H, W) image and, over it, its Grad-CAM map (H, W) in [0, 1] on a
    matplotlib axis (fixed colour scale, so maps of different models compare)."""
    rgb = np.transpose(np.asarray(image, dtype=np.float64) / 255.0, (1, 2, 0))
    ax.imshow(rgb)
    ax.imshow(np.asarray(cam, dtype=np.float64), cmap=OVERLAY_CMAP, alpha=OVERLAY_ALPHA,
              vmin=0, vmax=1)
