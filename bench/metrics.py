"""Pure metric functions of prediction and label tensors (or arrays)."""
from __future__ import annotations

import math

import torch


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    if len(target) == 0:
        return float("nan")
    return (pred == target).float().mean().item()


def group_accuracies(pred: torch.Tensor, target: torch.Tensor,
                     groups: torch.Tensor) -> dict[int, float]:
    """Accuracy per group id (groups < 0 are ignored)."""
    correct = (pred == target).float()
    out = {}
    for g in torch.unique(groups[groups >= 0]).tolist():
        mask = groups == g
        out[int(g)] = correct[mask].mean().item()
    return out


def worst_group_accuracy(pred: torch.Tensor, target: torch.Tensor, groups: torch.Tensor) -> float:
    accs = group_accuracies(pred, target, groups)
    return min(accs.values()) if accs else float("nan")


def bias_conflicting_accuracy(pred: torch.Tensor, target: torch.Tensor,
                              conflicting: torch.Tensor) -> float:
    """Accuracy on the bias-conflicting examples (a boolean mask; the dataset says which:
    ``DatasetInfo.conflicting``)."""
    return accuracy(pred[conflicting], target[conflicting])


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> list[list[int]]:
    """Rows are true classes, columns predicted classes."""
    flat = target.long().cpu() * num_classes + pred.long().cpu()
    counts = torch.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).tolist()


def mean_std(values: list[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (Bessel's n - 1) and n, with None and NaN dropped. The
    std is NaN for fewer than two values: one seed says nothing about spread, and 0 would claim
    it does. The one implementation: the run summary and the leaderboard both use it."""
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(clean)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = math.fsum(clean) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in clean) / (n - 1)) if n > 1 else math.nan
    return mean, std, n
