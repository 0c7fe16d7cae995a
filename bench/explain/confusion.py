"""Confusion matrix of a model on one split (the seed's Figure 2 on ``conflicting``)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench import metrics
from bench.datasets.interface import Split
from bench.evaluate import predict
from bench.supervision import to_float_images


def confusion_on(model: nn.Module, split: Split, device: torch.device | str = "cpu",
                 num_classes: int = 10) -> np.ndarray:
    """Counts, rows = true digit, columns = predicted class."""
    pred = predict(model, to_float_images(split.images, torch.device(device))).cpu()
    return np.asarray(metrics.confusion_matrix(pred, split.labels, num_classes))


def colour_confusion(model: nn.Module, split: Split, device: torch.device | str = "cpu",
                     num_classes: int = 10) -> np.ndarray:
    """Rows = background colour, columns = predicted class: a lazy artist's mass sits on
    the diagonal of this matrix, not of the digit one."""
    pred = predict(model, to_float_images(split.images, torch.device(device))).cpu()
    keep = split.bias >= 0
    return np.asarray(metrics.confusion_matrix(pred[keep], split.bias[keep], num_classes))
