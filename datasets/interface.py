"""What a dataset declares: its classes, its bias attribute, its splits and how they are formed.

Everything downstream reads these facts from a :class:`DatasetInfo`, never from literals:
class counts (the network's outputs, LfF's per-class losses, confusion matrices), group ids
(GroupDRO's 100 groups are ``classes x bias values``), which images are bias-conflicting, the
test splits and the headline one (ranking and ``worst_group_acc``). A dataset family builds
its splits deterministically from a hashable spec (``spec.hash()``); the run spec stores that
spec's fields, so the fields are the dataset's part of a record's key (docs/datasets.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

VALIDATION_FORMS = ("carved", "given")   # carved out of the training data, or its own split


class DataSpec(Protocol):
    """What every dataset family's spec offers: frozen, hashable fields (``seed`` among them)."""
    seed: int

    def to_dict(self) -> dict: ...

    def hash(self) -> str: ...


@dataclass(frozen=True)
class Split:
    """Images (uint8, N x 3 x H x W), class ``labels`` and ``bias`` values (-1 = none, e.g. a
    greyscale image). Group ids come from the dataset's :meth:`DatasetInfo.group_ids`."""
    name: str
    images: torch.Tensor
    labels: torch.Tensor
    bias: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor, name: str | None = None) -> "Split":
        return Split(name or self.name, self.images[index], self.labels[index], self.bias[index])


@dataclass(frozen=True)
class BiasAttribute:
    """The spurious attribute: its name and the name of each value (index = value). Value -1
    means "none" (an image without the attribute, e.g. a greyscale test image)."""
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class SplitRoles:
    """Split names by role. ``validation``: "carved" (a fraction of the training split, with
    the same bias: never test data) or "given" (a split of its own)."""
    train: str
    val: str
    tests: tuple[str, ...]
    headline: str            # the test split a leaderboard ranks on
    validation: str = "carved"

    def __post_init__(self):
        if self.headline not in self.tests:
            raise ValueError(f"headline split {self.headline!r} is not a test split {self.tests}")
        if self.validation not in VALIDATION_FORMS:
            raise ValueError(f"validation must be one of {VALIDATION_FORMS}")

    @property
    def all(self) -> tuple[str, ...]:
        return (self.train, self.val, *self.tests)


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's declaration. ``aligned_bias[c]``: the bias value class ``c`` is correlated
    with in training (for the colour datasets, colour c); an image whose bias value differs is
    bias-conflicting."""
    name: str
    classes: tuple[str, ...]
    bias: BiasAttribute
    splits: SplitRoles
    aligned_bias: tuple[int, ...]

    def __post_init__(self):
        if len(self.aligned_bias) != len(self.classes):
            raise ValueError("aligned_bias needs one bias value per class")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_bias_values(self) -> int:
        return len(self.bias.values)

    @property
    def num_groups(self) -> int:
        """Groups are (class, bias value) pairs."""
        return self.num_classes * self.num_bias_values

    def group_ids(self, labels: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Group id ``class * num_bias_values + bias``; -1 where the image has no bias value."""
        return torch.where(bias >= 0, labels * self.num_bias_values + bias, -1)

    def conflicting(self, labels: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Mask of bias-conflicting images (a bias value other than the class's aligned one)."""
        aligned = torch.tensor(self.aligned_bias, device=labels.device)[labels]
        return (bias >= 0) & (bias != aligned)

    def class_of_bias(self, bias: torch.Tensor) -> torch.Tensor:
        """The class each bias value is aligned with (what a model reading only the bias
        would predict); -1 where the image has no bias value."""
        lookup = torch.full((self.num_bias_values,), -1, dtype=torch.long)
        for cls, value in enumerate(self.aligned_bias):
            lookup[value] = cls
        lookup = lookup.to(bias.device)
        return torch.where(bias >= 0, lookup[bias.clamp(min=0)], -1)

    def metric_names(self) -> tuple[str, ...]:
        """Accuracy metrics every run of this dataset stores, in split order."""
        return tuple(f"acc_{name}" for name in self.splits.all)

    def summary(self) -> str:
        """One line for ``bench list``."""
        tests = ", ".join(f"{t} (headline)" if t == self.splits.headline else t
                          for t in self.splits.tests)
        return (f"{self.num_classes} classes ({', '.join(self.classes)}); bias: "
                f"{self.bias.name} ({', '.join(self.bias.values)}); splits: train "
                f"{self.splits.train}, validation {self.splits.val} ({self.splits.validation}), "
                f"test {tests}")
