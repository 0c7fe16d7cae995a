"""Backbones. ``baseline`` is the seed report's BaselineNet.

Every backbone exposes ``features(x)`` (the pooled units, the seed's "16 neurons"),
``classifier`` (the last linear layer) and ``forward(x) = classifier(features(x))``, so
methods and diagnostics can read or replace either part.
"""
from __future__ import annotations

import torch
from torch import nn

from bench.registry import BACKBONES


def _conv_block(c_in: int, c_out: int, groups: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1),
                         nn.GroupNorm(groups, c_out), nn.ReLU())


class BaselineNet(nn.Module):
    """Three conv blocks (Conv2d, GroupNorm, ReLU) with max pooling between them,
    global average pooling to ``width`` units and a linear layer to the classes."""

    def __init__(self, num_classes: int = 10, width: int = 16, in_channels: int = 3):
        super().__init__()
        self.block1 = _conv_block(in_channels, 16, 4)
        self.block2 = _conv_block(16, 32, 8)
        self.block3 = _conv_block(32, width, 4)   # last conv block: Grad-CAM target
        self.pool = nn.MaxPool2d(2)
        self.classifier = nn.Linear(width, num_classes)
        self.num_features = width

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last conv block, before global pooling (N, width, 7, 7)."""
        x = self.pool(self.block1(x))
        x = self.pool(self.block2(x))
        return self.block3(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_maps(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class UnitMaskedNet(nn.Module):
    """A backbone whose pooled units are multiplied by a fixed mask (0 = unit ablated), with
    the same ``feature_maps`` / ``features`` / ``classifier`` interface as the backbone."""

    def __init__(self, base: nn.Module, feature_mask: torch.Tensor):
        super().__init__()
        self.base = base
        self.register_buffer("feature_mask", feature_mask.detach().float().clone())
        self.classifier = base.classifier
        self.num_features = base.num_features

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.feature_maps(x) * self.feature_mask[:, None, None]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x) * self.feature_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def unwrap(model: nn.Module) -> nn.Module:
    """The backbone inside any unit masks (what owns the conv blocks, e.g. Grad-CAM's target)."""
    while isinstance(model, UnitMaskedNet):
        model = model.base
    return model


@BACKBONES.register("baseline")
def baseline(num_classes: int = 10) -> BaselineNet:
    return BaselineNet(num_classes)


def build_backbone(name: str, num_classes: int = 10) -> nn.Module:
    return BACKBONES.get(name)(num_classes)
