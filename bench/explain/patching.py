"""Activation patching (the seed's neuron-2 experiment): set one pooled unit to the value it
takes on another colour's texture and watch where the prediction goes.

If a unit encodes "this background is colour c", patching it to its colour-c value should
move predictions towards class c even though the digit and the rest of the image are unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from bench.explain.units import logits_from_features


def patch(features: torch.Tensor, unit: int, value: float | torch.Tensor) -> torch.Tensor:
    """A copy of the pooled features with ``unit`` set to ``value`` (a number, or one value
    per image)."""
    out = features.clone()
    out[:, unit] = value
    return out


@dataclass(frozen=True)
class PatchingResult:
    unit: int
    values: np.ndarray          # (colours,) the unit's mean activation on each colour's texture
    to_colour: np.ndarray       # (colours,) share of images predicted as class c after patching
    before: np.ndarray          # (colours,) share predicted as class c before (baseline)
    changed: np.ndarray         # (colours,) share of images whose prediction changed
    mean_prob_shift: np.ndarray  # (colours,) mean change in the softmax probability of class c


@torch.inference_mode()
def patch_to_colours(model: nn.Module, features: torch.Tensor, unit: int,
                     texture_values: np.ndarray) -> PatchingResult:
    """``features``: pooled features of the images to patch (e.g. aligned test images);
    ``texture_values[c]``: the unit's activation on colour c's texture alone (from
    :func:`bench.explain.units.texture_shape_probe`)."""
    logits = logits_from_features(model, features)
    pred, prob = logits.argmax(1), logits.softmax(1)
    to_colour, before, changed, shift = [], [], [], []
    for c, value in enumerate(texture_values):
        patched = logits_from_features(model, patch(features, unit, float(value)))
        new_pred = patched.argmax(1)
        to_colour.append((new_pred == c).float().mean().item())
        before.append((pred == c).float().mean().item())
        changed.append((new_pred != pred).float().mean().item())
        shift.append((patched.softmax(1)[:, c] - prob[:, c]).mean().item())
    return PatchingResult(unit, np.asarray(texture_values, dtype=float), np.array(to_colour),
                          np.array(before), np.array(changed), np.array(shift))


def most_colour_moving_unit(model: nn.Module, features: torch.Tensor,
                            texture_per_colour: np.ndarray) -> int:
    """The unit whose patching moves most predictions to the patched colour's class: the
    seed's "neuron 2", found by trying every unit (16 x 10 classifier passes, cheap)."""
    gains = [float(np.mean(r.to_colour - r.before))
             for r in (patch_to_colours(model, features, u, texture_per_colour[:, u])
                       for u in range(features.shape[1]))]
    return int(np.argmax(gains))
