"""Two encoders and one classifier over their concatenated features: DFA's model.

DFA (Lee et al. 2021) trains an *intrinsic* encoder E_i and a *bias* encoder E_b, and
classifies the concatenation z = [z_i, z_b] with a linear layer. Its reported model is the
intrinsic classifier C_i on [E_i(x), E_b(x)]; :class:`TwoEncoderNet` is that model, kept to
the backbone contract of :mod:`bench.backbones` so that evaluation, selection, diagnostics,
weight keeping and ``bench explain`` treat it like any backbone:

- ``features(x)`` = [E_i.features(x), E_b.features(x)] (each encoder's pooled units, or its
  last hidden layer for an MLP); ``classifier`` = C_i; ``forward = classifier(features)``;
- for conv encoders, ``feature_maps(x)`` stacks both encoders' last conv block along the
  channels and ``gradcam_layer`` is the module that does so, so Grad-CAM attributes the
  prediction to both encoders' maps; MLP encoders have no feature maps.
"""
from __future__ import annotations

import torch
from torch import nn

from bench.backbones import BACKBONES, MLP, has_feature_maps

# DFA's own Colored MNIST encoder (kakaoenterprise/Learning-Debiased-Disentangled
# module/mlp.py:7-18, MLP_DISENTANGLE): 100 -> 100 -> 16 ReLU units, so its classifiers read
# 32 features. Registered here, beside the network that uses it, not in bench.backbones: that
# module is in every method's training-code fingerprint (bench.code_version), this one only in
# dfa's. ``--set encoder=mlp-100-100-16`` runs dfa with it (docs/protocols.md).
DFA_MLP_ENCODER = "mlp-100-100-16"
BACKBONES.add(DFA_MLP_ENCODER, lambda num_classes=10: MLP((100, 100, 16), num_classes))


class StackedMaps(nn.Module):
    """Both encoders' feature maps, stacked along the channels (Grad-CAM's target)."""

    def __init__(self, intrinsic: nn.Module, bias: nn.Module):
        super().__init__()
        # Held as plain references: TwoEncoderNet owns the encoders' parameters.
        self._encoders = (intrinsic, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        intrinsic, bias = self._encoders
        return torch.cat([intrinsic.feature_maps(x), bias.feature_maps(x)], dim=1)


class TwoEncoderNet(nn.Module):
    """C_i([E_i(x), E_b(x)]): the intrinsic classifier on both encoders' features."""

    def __init__(self, intrinsic: nn.Module, bias: nn.Module, num_classes: int = 10,
                 encoder: str | None = None):
        super().__init__()
        # the registered backbone both encoders are, when it is not the run's own backbone
        # (kept weights name it, so that they rebuild; bench.weights)
        self.encoder = encoder
        self.intrinsic = intrinsic
        self.bias = bias
        self.num_features = intrinsic.num_features + bias.num_features
        self.classifier = nn.Linear(self.num_features, num_classes)
        self.input_shape = intrinsic.input_shape
        self.maps = StackedMaps(intrinsic, bias) if has_feature_maps(intrinsic) else None

    @property
    def gradcam_layer(self) -> nn.Module | None:
        return self.maps

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        if self.maps is None:
            raise AttributeError("an MLP encoder has no feature maps")
        return self.maps(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.maps is None:
            return torch.cat([self.intrinsic.features(x), self.bias.features(x)], dim=1)
        maps = self.maps(x)
        k = self.intrinsic.num_features
        return torch.cat([self.intrinsic.pooled(maps[:, :k]), self.bias.pooled(maps[:, k:])],
                         dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
