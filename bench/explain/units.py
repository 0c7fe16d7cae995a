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

from bench.datasets.colored_mnist import ColoredMNISTSpec, paint

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
    """Per unit: the mean activation on the colour texture alone (for its strongest colour)
    and on digits over a contrasting, colourless background (for its strongest digit class),
    so both sides get the same "best of ten" chance. ``score`` in [-1, 1] is
    (texture - shape) / (texture + shape): above 0 the unit answers to colour texture, below 0
    to strokes. A unit that barely fires on either (below ``DEAD``) scores 0 and is "dead"."""
    texture: np.ndarray             # (units,) max over colours of the mean activation
    texture_per_colour: np.ndarray  # (colours, units)
    shape: np.ndarray               # (units,) max over digit classes of the mean activation
    score: np.ndarray               # (units,)

    @property
    def dead(self) -> np.ndarray:
        return np.maximum(self.texture, self.shape) < DEAD

    @property
    def texture_driven(self) -> np.ndarray:
        return (self.score > 0) & ~self.dead

    def kind(self, unit: int) -> str:
        return "dead" if self.dead[unit] else "texture" if self.score[unit] > 0 else "shape"


DEAD = 1e-3   # pooled post-ReLU activation below which a unit counts as silent


def texture_images(spec: ColoredMNISTSpec, colour: int, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` uint8 images of one colour's texture with no digit: in background mode the noise
    texture times the colour (a blank digit painted as the datasets paint), in foreground
    mode a flat patch of the colour."""
    fill = 0 if spec.mode == "background" else 255
    blank = torch.full((n, 28, 28), fill, dtype=torch.uint8)
    colours = torch.full((n,), colour, dtype=torch.long)
    return paint(blank, colours, spec, torch.Generator().manual_seed(seed * 10 + colour))


def texture_shape_probe(model: nn.Module, shape_images: torch.Tensor, shape_digits: torch.Tensor,
                        spec: ColoredMNISTSpec, draws: int = 32,
                        device: torch.device | str = "cpu") -> TextureShapeProbe:
    """``shape_images``: float digits on a contrasting colourless background (the
    ``greyscale`` test split: white strokes on black), on the device, with their labels."""
    per_colour = []
    for colour in range(len(spec.palette)):
        tex = texture_images(spec, colour, draws).to(device).float().div_(255)
        per_colour.append(pooled_features(model, tex).mean(0).cpu())
    per_colour_t = torch.stack(per_colour)
    texture = per_colour_t.max(0).values
    digit_feats = pooled_features(model, shape_images).cpu()
    shape = torch.stack([digit_feats[shape_digits.cpu() == d].mean(0)
                         for d in shape_digits.unique()]).max(0).values
    score = (texture - shape) / (texture.abs() + shape.abs()).clamp_min(1e-12)
    score = torch.where(torch.maximum(texture, shape) < DEAD, 0.0, score)
    return TextureShapeProbe(texture.numpy(), per_colour_t.numpy(), shape.numpy(),
                             score.numpy())
