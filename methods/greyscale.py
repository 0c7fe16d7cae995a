"""Reference model: ERM on the training digits with their colour removed (shape alone).

What "greyscale" means here: the raw grey digit ``x`` that the dataset painted, in three equal
channels, which is exactly what the ``greyscale`` test split shows. A channel mean or minimum
is *not* colour-free: in background mode a pixel is ``x + (1 - x) * noise * rgb``, so the mean
or minimum keeps a noise texture whose amplitude depends on the colour (a shortcut a lazy
model can still read). :func:`decolorize` inverts the painting per image without colour labels
or the palette: it estimates the image's colour from its most chromatic pixel (a background
pixel, ``noise * rgb``) and solves each pixel's ``v = x * 1 + t * rgb`` by least squares. On
uint8 images this recovers ``x`` to within rounding (tests/test_greyscale.py). Foreground-mode
images (coloured strokes on black, ``v = x * rgb``) are recognised by having no white pixel and
are inverted as ``x = v·rgb / |rgb|^2``.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch

from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDHparams, train

WHITE = 0.9          # a background-mode digit has stroke pixels near (1, 1, 1)
MIN_CHROMA = 1e-3    # below this the image is already grey
REFERENCE_PIXELS = 16


@torch.no_grad()
def decolorize(images: torch.Tensor) -> torch.Tensor:
    """Float images (N, 3, H, W) in [0, 1] -> the grey digit in three equal channels,
    quantised to the dataset's 1/255 steps."""
    n = len(images)
    v = images.flatten(2)                                   # N x 3 x P
    chroma = (v - v.mean(1, keepdim=True)).norm(dim=1)      # N x P
    # The most chromatic pixels are background pixels (x = 0) with large noise: v = noise*rgb.
    # Summing a few of them averages out the uint8 rounding of the colour's direction.
    ref = chroma.topk(min(REFERENCE_PIXELS, chroma.shape[1]), dim=1).indices   # N x k
    rgb = torch.gather(v, 2, ref.unsqueeze(1).expand(-1, 3, -1)).sum(2)        # N x 3
    # Least squares of v = x * 1 + t * rgb per pixel, via the 2x2 normal equations.
    a11 = torch.full((n,), 3.0, device=v.device, dtype=v.dtype)
    a12 = rgb.sum(1)
    a22 = (rgb * rgb).sum(1)
    b1 = v.sum(1)                                           # N x P
    b2 = (rgb.unsqueeze(2) * v).sum(1)
    det = (a11 * a22 - a12 * a12).clamp(min=1e-12)
    x_background = (a22[:, None] * b1 - a12[:, None] * b2) / det[:, None]
    # Foreground: v = x * rgb; the brightest pixel is a stroke centre (x = 1), so it is rgb.
    stroke = v[torch.arange(n), :, v.norm(dim=1).argmax(1)]                  # N x 3
    x_foreground = (stroke.unsqueeze(2) * v).sum(1) / (stroke * stroke).sum(1).clamp(
        min=1e-12)[:, None]
    has_white = v.min(1).values.max(1).values >= WHITE
    is_grey = chroma.max(1).values < MIN_CHROMA
    x = torch.where(has_white[:, None], x_background, x_foreground)
    x = torch.where(is_grey[:, None], v.mean(1), x)
    x = x.clamp(0, 1).mul(255).round().div(255)
    return x.view(n, 1, *images.shape[2:]).expand(-1, 3, -1, -1).contiguous()


def _with_images(ctx: RunContext, train_images: torch.Tensor,
                 val_images: torch.Tensor) -> RunContext:
    """The same context (labels, guards, generator) with other train and val images."""
    train_view, val_view = copy.copy(ctx.train), copy.copy(ctx.val)
    train_view.images, val_view.images = train_images, val_images
    return dataclasses.replace(ctx, train=train_view, val=val_view)


@dataclass(frozen=True)
class GreyscaleHparams(SGDHparams):
    """The seed's ERM settings (10 epochs, SGD lr 0.1, batch 16) on decolourised inputs."""


@METHODS.register("greyscale")
class Greyscale(Method):
    Hparams = GreyscaleHparams
    supervision = Supervision.BIAS_FORM   # no bias labels, but decolorize inverts the painting
    is_reference_model = True
    reference = "reference: the backbone's shape-only accuracy (seed report's greyscale test)"
    summary = "ERM on the training digits with the colour removed"

    @classmethod
    def llc_training_images(cls, images: torch.Tensor) -> torch.Tensor:
        # fitted to the grey digits: on the coloured ones its weights are at no minimum
        return decolorize(images)

    def fit(self, ctx: RunContext) -> FitResult:
        hp = self.hparams
        grey_ctx = _with_images(ctx, decolorize(ctx.train.images), decolorize(ctx.val.images))
        return train(ctx.new_model(), grey_ctx, hp.sgd())
