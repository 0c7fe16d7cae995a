"""Group inference: "which training examples are bias-conflicting?"

Two-stage methods compose a group-inference stage with one robust-training stage
(:func:`bench.robust_training.reweighted_retraining`), as SpuCo separates group inference from
robust training. A stage is an object with ``infer(ctx) -> InferredWeights``:

* :class:`ErrorSet` — JTT's rule: the examples a briefly trained ERM model gets wrong,
  upweighted by a factor (:func:`error_set`, :func:`upweight`).
* :class:`ClustersWithinClass` — the seed's rule: k-means on an ERM model's pooled features
  inside each class; each class's clusters get equal total weight
  (:func:`cluster_within_class`, :func:`balanced_weights`).
* :class:`KnownGroups` — no inference: the training bias labels' (class, bias) groups, each
  drawn equally often (``group-balanced``; it reads bias labels).

The functions are pure functions of a model's outputs and the digit labels; the first two
stages read no colour labels, so the methods built on them can declare ``Supervision.NONE``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from bench.evaluate import eval_batch, predict
from bench.method import RunContext

if TYPE_CHECKING:
    from bench.training import SGDConfig


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
                    batch_size: int | None = None) -> torch.Tensor:
    """``model.features`` (the pooled units) for every image, in eval mode."""
    batch_size = batch_size or eval_batch(images.device)
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


def group_balanced_weights(groups: torch.Tensor) -> torch.Tensor:
    """Per-example sampling weights 1 / |group|: each non-empty group gets total weight 1.

    Empty groups simply have no examples, so they are never drawn and never divided by.
    """
    _, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse].double()


# --- Stages: what a two-stage method composes --------------------------------------------------

@dataclass
class InferredWeights:
    """Per-example sampling weights for the retraining stage, and what inference logs."""
    weights: torch.Tensor
    logs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorSet:
    """Train ERM for ``epochs`` (no selection), upweight its training errors ``factor`` times."""
    epochs: int
    factor: float
    erm: Callable[[int], "SGDConfig"]     # the ERM optimiser for a number of epochs

    def infer(self, ctx: RunContext) -> InferredWeights:
        from bench.training import train
        identifier = train(ctx.new_model(), ctx, self.erm(self.epochs), select=False,
                           phase="identify").model
        errors = error_set(identifier, ctx.train.images, ctx.train.labels)
        return InferredWeights(upweight(errors, self.factor),
                               {"error_set_size": float(errors.sum()),
                                "error_set_fraction": float(errors.float().mean())})


@dataclass(frozen=True)
class ClustersWithinClass:
    """Train ERM for ``epochs`` (no selection), split each class's pooled features into ``k``
    clusters, give every cluster of a class the same total weight."""
    epochs: int
    k: int
    restarts: int
    erm: Callable[[int], "SGDConfig"]

    def infer(self, ctx: RunContext) -> InferredWeights:
        from bench.training import train
        model = train(ctx.new_model(), ctx, self.erm(self.epochs), select=False,
                      phase="erm features").model
        features = pooled_features(model, ctx.train.images)
        clusters = cluster_within_class(features, ctx.train.labels, self.k,
                                        seed=ctx.seed_from_generator() % 2**31,
                                        n_init=self.restarts)
        return InferredWeights(balanced_weights(clusters.groups, ctx.train.labels),
                               {"minority_size": float(clusters.minority.sum()),
                                "minority_fraction": float(clusters.minority.float().mean())})


@dataclass(frozen=True)
class KnownGroups:
    """The training split's (class, bias value) groups, each drawn equally often (reads the
    bias labels: only for methods that declare them)."""

    def infer(self, ctx: RunContext) -> InferredWeights:
        return InferredWeights(group_balanced_weights(ctx.train.groups))
