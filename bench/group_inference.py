"""Group inference without bias labels: "which training examples are bias-conflicting?"

Two-stage methods compose one of these with a robust trainer (``bench.training.train`` with
``sample_weights``), as SpuCo separates group inference from robust training:

* :func:`error_set` — JTT's rule: the examples a (briefly trained) model gets wrong.
* :func:`cluster_within_class` — the seed's rule: k-means on a model's pooled features inside
  each class; the smallest cluster of a class is taken as its bias-conflicting examples.

Everything here is a pure function of a model's outputs and the digit labels: no colour
labels are read, so the methods built on it can declare ``Supervision.NONE``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from bench.evaluate import EVAL_BATCH, predict


def error_set(model: nn.Module, images: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the examples ``model`` misclassifies (JTT's error set)."""
    return predict(model, images) != digits


def upweight(mask: torch.Tensor, factor: float) -> torch.Tensor:
    """Sampling weights: ``factor`` for members of ``mask``, 1 for everyone else."""
    weights = torch.ones(mask.shape, dtype=torch.float64, device=mask.device)
    weights[mask] = float(factor)
    return weights


@torch.inference_mode()
def pooled_features(model: nn.Module, images: torch.Tensor,
                    batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """``model.features`` (the pooled units) for every image, in eval mode."""
    was_training = model.training
    model.eval()
    out = [model.features(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


@dataclass(frozen=True)
class Clusters:
    """Per-example cluster index (``digit * k + cluster``) and the minority-cluster mask."""
    groups: torch.Tensor
    minority: torch.Tensor


def cluster_within_class(features: torch.Tensor, digits: torch.Tensor, k: int = 2,
                         seed: int = 0, n_init: int = 10) -> Clusters:
    """k-means with ``k`` clusters inside each class; the smallest cluster of each class is
    its inferred minority (ties go to the lower cluster index). Classes with fewer than ``k``
    examples form one cluster and have no minority."""
    x = features.detach().cpu().double().numpy()
    y = digits.detach().cpu().numpy()
    groups = np.zeros(len(y), dtype=np.int64)
    minority = np.zeros(len(y), dtype=bool)
    for digit in np.unique(y):
        members = np.flatnonzero(y == digit)
        if len(members) < k:
            groups[members] = digit * k
            continue
        # One seed per class, derived from the run's seed: reproducible, and the classes
        # do not share a random stream.
        kmeans = KMeans(n_clusters=k, n_init=n_init, random_state=(seed + int(digit)) % 2**31)
        labels = kmeans.fit_predict(x[members])
        sizes = np.bincount(labels, minlength=k)
        groups[members] = digit * k + labels
        minority[members] = labels == int(np.argmin(sizes))
    device = digits.device
    return Clusters(torch.from_numpy(groups).to(device), torch.from_numpy(minority).to(device))


def balanced_weights(groups: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Sampling weights giving every group of a class an equal share of that class's mass:
    ``w_i = n_class / (n_groups_in_class * n_group)``. Class frequencies stay as in the data;
    inside a class a 5% cluster is upweighted about 19x (close to JTT's 20x)."""
    weights = torch.empty(groups.shape, dtype=torch.float64, device=groups.device)
    for c in torch.unique(classes):
        in_class = classes == c
        ids, counts = torch.unique(groups[in_class], return_counts=True)
        n_class = int(in_class.sum())
        for gid, count in zip(ids.tolist(), counts.tolist()):
            weights[in_class & (groups == gid)] = n_class / (len(ids) * count)
    return weights
