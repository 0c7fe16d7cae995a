"""Backbones and the contract every one of them keeps.

The seed report's BaselineNet is "3 convolutional blocks (each with Conv2D, GroupNorm and
ReLU), followed by MaxPooling, and a Global Average Pooling layer feeding into a linear
classifier" with 16 pooled units. :class:`ConvGNNet` builds that family: the kernel size, the
widths and where the max-pooling goes are its :class:`ConvGNLayout`. Which member is
``baseline`` was decided by ``scripts/calibrate_backbone.py`` on training and validation data
only (docs/backbones.md has the rule and the table).

The contract (methods, diagnostics, ``bench explain`` and the leaderboard rely on nothing else):

- ``input_shape``: ``(channels, height, width)`` of the images the backbone expects;
- ``feature_maps(x)``: the last conv block's output ``(N, num_features, h, w)``, before any
  pooling; ``gradcam_layer``: the module that produces it (Grad-CAM's target). A backbone
  without feature maps (the :class:`MLP`) sets ``gradcam_layer = None`` and has no
  ``feature_maps``; what needs them says it does not apply (:func:`has_feature_maps`);
- ``features(x)``: the ``num_features`` pooled units (an MLP's last hidden layer);
  ``classifier``: the last linear layer; ``forward(x) = classifier(features(x))``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.registry import BACKBONES

MNIST_INPUT = (3, 28, 28)
POOLINGS = ("between", "end")


def _conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    # Four channels per GroupNorm group (16 -> 4 groups, 32 -> 8), as BaselineNet has always had.
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2),
                         nn.GroupNorm(max(1, c_out // 4), c_out), nn.ReLU())


@dataclass(frozen=True)
class ConvGNLayout:
    """``pool="between"``: a 2x2 max-pool after blocks 1 and 2 (the last block sees 7 x 7 maps
    and an 18-pixel receptive field); ``"end"``: the blocks run at full resolution and one
    2x2 max-pool follows block 3, as the seed report words it (receptive field 1 + 3(k - 1))."""
    widths: tuple[int, int, int] = (16, 32, 16)
    kernel: int = 3
    pool: str = "between"

    def __post_init__(self):
        if self.pool not in POOLINGS:
            raise ValueError(f"pool must be one of {POOLINGS}, got {self.pool!r}")
        if self.kernel % 2 != 1:
            raise ValueError(f"kernel must be odd (same padding), got {self.kernel}")

    @property
    def name(self) -> str:
        w1, w2, w3 = self.widths
        return f"k{self.kernel}-{w1}-{w2}-{w3}-pool-{self.pool}"


class ConvGNNet(nn.Module):
    """Three conv blocks (Conv2d, GroupNorm, ReLU), max pooling placed by the layout, global
    average pooling to ``widths[-1]`` units and a linear layer to the classes."""

    def __init__(self, layout: ConvGNLayout, num_classes: int = 10,
                 input_shape: tuple[int, int, int] = MNIST_INPUT):
        super().__init__()
        w1, w2, w3 = layout.widths
        self.layout = layout
        self.input_shape = tuple(input_shape)
        # Construction order fixes the initialisation drawn from a seed: keep it
        # block1, block2, block3, classifier (records of earlier versions depend on it).
        self.block1 = _conv_block(input_shape[0], w1, layout.kernel)
        self.block2 = _conv_block(w1, w2, layout.kernel)
        self.block3 = _conv_block(w2, w3, layout.kernel)
        self.pool = nn.MaxPool2d(2)
        self.classifier = nn.Linear(w3, num_classes)
        self.num_features = w3

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.block3

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last conv block, before pooling: (N, num_features, h, w)."""
        if self.layout.pool == "between":
            x = self.pool(self.block1(x))
            x = self.pool(self.block2(x))
            return self.block3(x)
        return self.block3(self.block2(self.block1(x)))

    def pooled(self, maps: torch.Tensor) -> torch.Tensor:
        """The pooled units from ``feature_maps`` output (masking a unit commutes with it)."""
        if self.layout.pool == "end":
            maps = self.pool(maps)
        return maps.mean(dim=(2, 3))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pooled(self.feature_maps(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class UnitMaskedNet(nn.Module):
    """A backbone whose pooled units are multiplied by a fixed mask (0 = unit ablated), keeping
    the backbone contract (``feature_maps`` / ``features`` / ``classifier`` / ...)."""

    def __init__(self, base: nn.Module, feature_mask: torch.Tensor):
        super().__init__()
        self.base = base
        self.register_buffer("feature_mask", feature_mask.detach().float().clone())
        self.classifier = base.classifier
        self.num_features = base.num_features
        self.input_shape = base.input_shape

    @property
    def gradcam_layer(self) -> nn.Module:
        return self.base.gradcam_layer

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.feature_maps(x) * self.feature_mask[:, None, None]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x) * self.feature_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """LfF's Colored MNIST network (alinlab/LfF ``module/mlp.py``; DFA's is the same with a
    16-unit last layer): the flattened image through hidden layers of ReLU units (three of
    100), then a linear classifier. Its features are the last hidden layer; it has no feature
    maps. ``input_divisor``: the official code divides its input, already in [0, 1] after
    ``ToTensor``, by 255 once more (``module/mlp.py:18``); we keep that, since the input's
    scale sets how far each Adam step moves the first layer's function."""

    gradcam_layer = None   # no feature maps: Grad-CAM does not apply

    def __init__(self, widths: tuple[int, ...] = (100, 100, 100), num_classes: int = 10,
                 input_shape: tuple[int, int, int] = MNIST_INPUT, input_divisor: float = 255.0):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.input_divisor = input_divisor
        layers: list[nn.Module] = []
        width = input_shape[0] * input_shape[1] * input_shape[2]
        for out in widths:   # hidden layers first, then the classifier: LfF's order
            layers += [nn.Linear(width, out), nn.ReLU()]
            width = out
        self.hidden = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)
        self.num_features = width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x.flatten(1) / self.input_divisor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def has_feature_maps(model: nn.Module) -> bool:
    """Whether the model has conv feature maps (Grad-CAM's target); an MLP has none."""
    return getattr(model, "gradcam_layer", None) is not None


def backbone_has_feature_maps(name: str) -> bool:
    """Whether the registered backbone ``name`` has feature maps (an unknown name, e.g. of a
    record made elsewhere, is taken to have them, as every backbone had before the MLP)."""
    return name not in BACKBONES or has_feature_maps(BACKBONES.get(name)())


MLP_LFF = "mlp-3x100"
BACKBONES.add(MLP_LFF, lambda num_classes=10: MLP((100, 100, 100), num_classes))


def unwrap(model: nn.Module) -> nn.Module:
    """The backbone inside any unit masks."""
    while isinstance(model, UnitMaskedNet):
        model = model.base
    return model


def _register_layout(name: str, layout: ConvGNLayout) -> None:
    def build(num_classes: int = 10) -> ConvGNNet:
        return ConvGNNet(layout, num_classes)
    build.layout = layout
    BACKBONES.add(name, build)


# The network of every record before the calibration: pools between the blocks.
POOL_BETWEEN = ConvGNLayout((16, 32, 16), 3, "between")
# The calibration's candidates (scripts/calibrate_backbone.py); registered so that any of them
# can be trained by name (--backbone). Round 1 was fixed before any run. No round-1 network
# with shape capacity kept ERM's validation-conflicting accuracy flat over epochs 8-12 (each
# was still climbing, the narrower ones more slowly), so round 2, added after reading round
# 1's validation numbers only, narrows the first two blocks further; the rule is unchanged.
# Round 2's networks stayed lazy and flat but their group-balanced models stopped at 0.89;
# round 1's 8-16-16 learnt shape (0.91 in the issue's probe) but ERM drifted 6.3 points. The
# middle block's width is the difference, so round 3, added after reading round 2's
# validation numbers only, keeps a 16-wide middle block with a narrow first block and tries a
# 12-wide middle; the rule is unchanged.
ROUND_1: tuple[ConvGNLayout, ...] = (
    POOL_BETWEEN,
    ConvGNLayout((16, 32, 16), 3, "end"),
    ConvGNLayout((8, 16, 16), 3, "end"),
    ConvGNLayout((8, 16, 16), 5, "end"),
    ConvGNLayout((16, 32, 16), 1, "end"),
)
ROUND_2: tuple[ConvGNLayout, ...] = (
    ConvGNLayout((6, 12, 16), 3, "end"),
    ConvGNLayout((4, 8, 16), 3, "end"),
    ConvGNLayout((8, 8, 16), 3, "end"),
)
ROUND_3: tuple[ConvGNLayout, ...] = (
    ConvGNLayout((8, 12, 16), 3, "end"),
    ConvGNLayout((4, 16, 16), 3, "end"),
    ConvGNLayout((6, 16, 16), 3, "end"),
)
CANDIDATES = ROUND_1 + ROUND_2 + ROUND_3
for _layout in CANDIDATES:
    _register_layout(_layout.name, _layout)
# Chosen by the calibration's pre-registered rule (docs/backbones.md): the only candidate that
# passed both stages (lazy and flat under ERM; 0.903 validation-conflicting when balanced).
BASELINE = ConvGNLayout((4, 16, 16), 3, "end")
# "baseline" is an alias: a run spec stores the layout name it stood for (canonical_name), so a
# record keeps naming the network it trained when the alias moves to another network.
BASELINE_ALIAS = "baseline"
_register_layout(BASELINE_ALIAS, BASELINE)
# What a page title says of a backbone besides its name, so that a reader of an old page
# knows its network is no longer the headline one.
BACKBONE_NOTES = {POOL_BETWEEN.name: "the pre-calibration baseline"}


def canonical_name(name: str) -> str:
    """The registered name a run spec stores: the layout name for the ``baseline`` alias."""
    return BASELINE.name if name == BASELINE_ALIAS else name


def build_backbone(name: str, num_classes: int = 10) -> nn.Module:
    return BACKBONES.get(name)(num_classes)
