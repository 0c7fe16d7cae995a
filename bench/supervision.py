"""What bias labels a method may read, and the guarded views that enforce it.

A method *declares* its supervision; the harness hands it views of the data that withhold
everything else. Reading a withheld label raises :class:`SupervisionError`.
"""
from __future__ import annotations

from enum import Enum

import torch

from bench.errors import SupervisionError
from bench.datasets.colored_mnist import Split


class Supervision(str, Enum):
    NONE = "none"
    VAL_BIAS = "bias labels on validation"
    TRAIN_BIAS = "bias labels on train"   # implies validation bias labels too

    def allows(self, split: str) -> bool:
        if self is Supervision.TRAIN_BIAS:
            return True
        return self is Supervision.VAL_BIAS and split == "val"

    def selection_rule(self) -> str:
        """Model selection on validation. Without bias labels: plain (biased) validation
        accuracy. With them: accuracy on the bias-conflicting validation images. Not worst-group
        accuracy: with 100 (digit, colour) groups the ~6,000 validation images leave ~3 per
        conflicting group (0-1 on mnist-5k), so the worst group scores 0 at every epoch and the
        rule degenerates to "keep epoch 1"."""
        return "val_acc" if self is Supervision.NONE else "val_conflicting_acc"


class SplitView:
    """A split as a method sees it: float images and digits on the run's device, and colour
    labels (the bias attribute) only when the method's supervision allows them."""

    def __init__(self, split: Split, device: torch.device, bias_visible: bool,
                 images: torch.Tensor | None = None):
        self.name = split.name
        self.images = images if images is not None else to_float_images(split.images, device)
        self.digits = split.digits.to(device)
        self._colors = split.colors.to(device)
        self.bias_visible = bias_visible

    def __len__(self) -> int:
        return len(self.digits)

    @property
    def colors(self) -> torch.Tensor:
        if not self.bias_visible:
            raise SupervisionError(
                f"colour labels of the {self.name!r} split are withheld: the method's declared "
                f"supervision does not include them (declare a stronger supervision to read them)")
        return self._colors

    @property
    def groups(self) -> torch.Tensor:
        return self.digits * 10 + self.colors


def to_float_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, 3, 28, 28) -> float32 in [0, 1] on the device, converted once per run."""
    return images.to(device).float().div_(255)
