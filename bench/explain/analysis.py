"""Runs every analysis of ``bench explain`` on one model and collects the numbers."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from bench.backbones import has_feature_maps
from bench.data import Splits
from bench.datasets.interface import DataSpec
from bench.errors import ConfigError
from bench.explain import units
from bench.explain.activation_maximisation import (ClassVisualisation, MaximisationSettings,
                                                   visualise_classes)
from bench.explain.confusion import colour_confusion, confusion_on
from bench.explain.gradcam_overlays import cams
from bench.explain.mutual_information import DEFAULT_BINS, unit_nmi
from bench.explain.patching import PatchingResult, most_colour_moving_unit, patch_to_colours
from bench.explain.pca import FeaturePCA, feature_pca
from bench.supervision import to_float_images


@dataclass(frozen=True)
class ExplainSettings:
    top_k: int = 8                  # training images shown per unit
    sample: int = 20_000            # training images used for top-k, PCA and NMI (seeded)
    nmi_bins: int = DEFAULT_BINS
    probes: int = 1000              # training images probed for texture vs shape
    texture_draws: int = 32         # texture images per palette colour (patching)
    gradcam_images: int = 8         # per split (aligned, conflicting)
    unit: int | None = None         # patched unit; default: the one that moves most
    seed: int = 0
    maximisation: MaximisationSettings = field(default_factory=MaximisationSettings)


@dataclass(frozen=True)
class GradCAMPanel:
    images: torch.Tensor    # uint8 (n, 3, 28, 28)
    maps: torch.Tensor      # (n, 28, 28) in [0, 1]
    digits: torch.Tensor
    predicted: torch.Tensor


@dataclass(frozen=True)
class Explanation:
    confusion: np.ndarray           # conflicting: rows true digit, columns predicted
    colour_confusion: np.ndarray    # conflicting: rows background colour, columns predicted
    accuracy: dict[str, float]      # conflicting, aligned (recomputed from the loaded model)
    all_ablated_accuracy: dict[str, float]  # every unit zeroed: the classifier bias alone
    top_k: torch.Tensor             # (units, k) indices into ``train_sample``
    train_sample: torch.Tensor      # indices into splits.train
    drops: dict[str, np.ndarray]    # split -> (units,) accuracy lost when the unit is ablated
    probe: units.TextureShapeProbe
    weights: np.ndarray             # (units, classes)
    pca: FeaturePCA
    nmi: np.ndarray
    gradcam: dict[str, GradCAMPanel]   # empty for a backbone without feature maps (an MLP)
    classes: ClassVisualisation
    patching: PatchingResult


def _sample(n: int, k: int, seed: int) -> torch.Tensor:
    if n <= k:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k].sort().values


def explain(model: nn.Module, splits: Splits, spec: DataSpec,
            settings: ExplainSettings = ExplainSettings(),
            device: torch.device | str = "cpu") -> Explanation:
    device = torch.device(device)
    model = model.to(device).eval()
    tests = splits.tests
    feats, accuracy, ablated, drops = {}, {}, {}, {}
    for name in ("conflicting", "aligned"):
        feats[name] = units.pooled_features(model, to_float_images(tests[name].images, device))
        digits = tests[name].labels
        accuracy[name] = units.accuracy_from_features(model, feats[name], digits)
        every = range(feats[name].shape[1])
        ablated[name] = units.accuracy_from_features(model, units.ablate(feats[name], every),
                                                     digits)
        drops[name] = units.ablation_drops(model, feats[name], digits)

    sample = _sample(len(splits.train), settings.sample, settings.seed)
    train_feats = units.pooled_features(
        model, to_float_images(splits.train.images[sample], device))
    probe_images = to_float_images(splits.train.images[sample[:settings.probes]], device)
    probe = units.texture_shape_probe(model, probe_images, spec, settings.texture_draws,
                                      settings.seed)

    panels = {}
    for name in ("aligned", "conflicting") if has_feature_maps(model) else ():
        index = _sample(len(tests[name]), settings.gradcam_images, settings.seed)
        split = tests[name].subset(index)
        maps, pred = cams(model, to_float_images(split.images, device))
        panels[name] = GradCAMPanel(split.images, maps, split.labels, pred)

    unit = settings.unit
    if unit is None:
        unit = most_colour_moving_unit(model, feats["aligned"], probe.texture_per_colour)
    if not 0 <= unit < train_feats.shape[1]:
        raise ConfigError(f"--unit {unit}: the model has units 0..{train_feats.shape[1] - 1}")
    return Explanation(
        confusion=confusion_on(model, tests["conflicting"], device),
        colour_confusion=colour_confusion(model, tests["conflicting"], device),
        accuracy=accuracy, all_ablated_accuracy=ablated,
        top_k=units.top_k_indices(train_feats, settings.top_k).cpu(),
        train_sample=sample, drops=drops, probe=probe,
        weights=units.classifier_weights(model),
        pca=feature_pca(train_feats.cpu().numpy()),
        nmi=unit_nmi(train_feats.cpu().numpy(), settings.nmi_bins),
        gradcam=panels,
        classes=visualise_classes(model, settings=settings.maximisation, device=device),
        patching=patch_to_colours(model, feats["aligned"], unit, probe.texture_per_colour[:, unit]),
    )
