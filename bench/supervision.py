"""What bias information a method may use, and the guarded views that enforce part of it.

A method *declares* its supervision; the harness hands it views of the data that withhold
the colour labels it did not declare. What the guard prevents: reading a withheld label
(``view.bias``, ``view.groups``) raises :class:`SupervisionError`; a view built without
labels holds none (no private copy to reach), and its visibility is fixed when the harness
builds it (``bias_visible`` cannot be set). What it cannot prevent: a method that recovers the
colour from the pixels (the palette is public, and the background colour is plain to see),
or one written to use how the bias was painted. It is a guard against accidents, not a
barrier against a determined author; :attr:`Supervision.BIAS_FORM` is the honest label for
methods that use knowledge of the bias's form without its labels.
"""
from __future__ import annotations

import copy
from enum import Enum

import torch

from bench.errors import SupervisionError
from bench.datasets.interface import Split
from bench.datasets.interface import DatasetInfo


class Supervision(str, Enum):
    NONE = "none"
    # No bias labels, but built on knowing how the bias was painted (e.g. ``decolorize``
    # inverts the background-colour painting): ranked apart from methods that know nothing.
    BIAS_FORM = "knowledge of the bias's form"
    VAL_BIAS = "bias labels on validation"
    TRAIN_BIAS = "bias labels on train"   # implies validation bias labels too

    def allows(self, split: str) -> bool:
        if self is Supervision.TRAIN_BIAS:
            return True
        return self is Supervision.VAL_BIAS and split == "val"

    @property
    def reads_no_labels(self) -> bool:
        return self in (Supervision.NONE, Supervision.BIAS_FORM)


class SplitView:
    """A split as a method sees it: float images and class labels on the run's device, and colour
    labels (the bias attribute) only when the method's supervision allows them. A view
    without them holds no copy of them at all, and visibility is read-only. ``dataset``: the
    declaration that says what a group and a bias-conflicting image are."""

    def __init__(self, split: Split, device: torch.device, bias_visible: bool,
                 images: torch.Tensor | None = None, dataset: DatasetInfo | None = None):
        self.name = split.name
        self.dataset = dataset
        self.images = images if images is not None else to_float_images(split.images, device)
        self.labels = split.labels.to(device)
        self._bias = split.bias.to(device) if bias_visible else None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def bias_visible(self) -> bool:
        return self._bias is not None

    def head(self, n: int) -> "SplitView":
        """The first ``n`` images, with the same visibility (for tests and probes)."""
        view = copy.copy(self)
        view.images, view.labels = self.images[:n], self.labels[:n]
        view._bias = None if self._bias is None else self._bias[:n]
        return view

    @property
    def bias(self) -> torch.Tensor:
        if self._bias is None:
            raise SupervisionError(
                f"colour labels of the {self.name!r} split are withheld: the method's declared "
                f"supervision does not include them (declare a stronger supervision to read them)")
        return self._bias

    @property
    def groups(self) -> torch.Tensor:
        """(class, bias value) group ids, as the dataset numbers them."""
        colors = self.bias   # withheld labels raise SupervisionError before anything else
        return self._declared().group_ids(self.labels, colors)

    @property
    def conflicting(self) -> torch.Tensor:
        """Mask of bias-conflicting images (reads the bias labels)."""
        colors = self.bias
        return self._declared().conflicting(self.labels, colors)

    def _declared(self) -> DatasetInfo:
        if self.dataset is None:
            raise ValueError(f"the {self.name!r} view was built without its dataset's "
                             f"declaration; pass dataset=splits.info")
        return self.dataset


def to_float_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float32 in [0, 1] on the device, converted once per run."""
    return images.to(device).float().div_(255)
