"""The pooled units (the seed's "16 neurons"): activations, top images, ablation, the
texture-vs-shape probe, and how the classifier weighs each unit.

Ablation and patching act on the pooled features only, so the features of a split are
computed once and the classifier is applied to edited copies: 16 ablations cost 16 small
matrix products, not 16 passes through the network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench.datasets.colored_mnist import paint
from bench.datasets.interface import DataSpec

BATCH = 2048


@torch.inference_mode()
def pooled_features(model: nn.Module, images: torch.Tensor, batch_size: int = BATCH
                    ) -> torch.Tensor:
    """(N, units) pooled activations for float images on the model's device."""
    model.eval()
    parts = [model.features(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    return torch.cat(parts).float() if parts else torch.empty(0, model.num_features)


@torch.inference_mode()
def logits_from_features(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    return model.classifier(features)


def top_k_indices(features: torch.Tensor, k: int) -> torch.Tensor:
    """(units, k) indices of the images that activate each unit most, strongest first."""
    k = min(k, len(features))
    return features.topk(k, dim=0).indices.T.contiguous()


def ablate(features: torch.Tensor, units) -> torch.Tensor:
    """A copy of the features with the given units set to zero (the unit's output removed)."""
    out = features.clone()
    out[:, list(units)] = 0
    return out


def accuracy_from_features(model: nn.Module, features: torch.Tensor, digits: torch.Tensor
                           ) -> float:
    pred = logits_from_features(model, features).argmax(1).cpu()
    return (pred == digits.cpu()).float().mean().item()


def ablation_drops(model: nn.Module, features: torch.Tensor, digits: torch.Tensor
                   ) -> np.ndarray:
    """Accuracy lost when each unit alone is ablated (positive = the unit helped)."""
    base = accuracy_from_features(model, features, digits)
    return np.array([base - accuracy_from_features(model, ablate(features, [u]), digits)
                     for u in range(features.shape[1])])


def classifier_weights(model: nn.Module) -> np.ndarray:
    """(units, classes): how much each unit pushes each class's logit."""
    return model.classifier.weight.detach().cpu().T.numpy().copy()


# --- texture vs shape -----------------------------------------------------------------

@dataclass(frozen=True)
class TextureShapeProbe:
    """The ``ablate-texture`` method's probe (one definition, reused): per unit, ``texture``
    = mean activation on each probe image's own background texture with no digit, ``shape``
    = mean activation on its grey digit over a plain black (contrasting) background, and
    ``score`` = texture / (texture + shape) in [0, 1]: above 0.5 the unit answers to colour
    texture. A unit that barely fires on either (below ``DEAD``) is "dead".
    ``texture_per_colour`` (the unit on each palette colour's texture alone) feeds patching."""
    texture: np.ndarray             # (units,)
    texture_per_colour: np.ndarray  # (colours, units)
    shape: np.ndarray               # (units,)
    score: np.ndarray               # (units,)

    @property
    def dead(self) -> np.ndarray:
        return np.maximum(self.texture, self.shape) < DEAD

    @property
    def texture_driven(self) -> np.ndarray:
        return (self.score > TEXTURE_THRESHOLD) & ~self.dead

    def kind(self, unit: int) -> str:
        return ("dead" if self.dead[unit] else
                "texture" if self.score[unit] > TEXTURE_THRESHOLD else "shape")


DEAD = 1e-3               # pooled post-ReLU activation below which a unit counts as silent
TEXTURE_THRESHOLD = 0.5   # ablate-texture's default: texture activation above digit activation


def texture_images(spec: DataSpec, colour: int, n: int, size: tuple[int, int],
                   seed: int = 0) -> torch.Tensor:
    """``n`` uint8 images (H, W = ``size``) of one colour's texture with no digit: in background mode the noise
    texture times the colour (a blank digit painted as the datasets paint), in foreground
    mode a flat patch of the colour."""
    fill = 0 if spec.mode == "background" else 255
    blank = torch.full((n, *size), fill, dtype=torch.uint8)
    colours = torch.full((n,), colour, dtype=torch.long)
    return paint(blank, colours, spec, torch.Generator().manual_seed(seed * 10 + colour))


def texture_shape_probe(model: nn.Module, images: torch.Tensor, spec: DataSpec,
                        draws: int = 32, seed: int = 0) -> TextureShapeProbe:
    """``images``: float coloured training images on the model's device (the probe set)."""
    from bench.methods.ablate_texture import texture_probes
    from bench.methods.greyscale import decolorize

    device = images.device
    texture = pooled_features(model, texture_probes(images, torch.Generator().manual_seed(seed)))
    shape = pooled_features(model, decolorize(images))
    texture, shape = texture.mean(0).cpu(), shape.mean(0).cpu()
    score = texture / (texture + shape).clamp(min=1e-8)   # exactly ablate-texture's score
    size = tuple(images.shape[-2:])
    per_colour = torch.stack([
        pooled_features(model, texture_images(spec, c, draws, size, seed).to(device).float() / 255)
        .mean(0).cpu() for c in range(len(spec.palette))])
    return TextureShapeProbe(texture.numpy(), per_colour.numpy(), shape.numpy(), score.numpy())
