"""Deep Feature Reweighting (Kirichenko, Izmailov & Wilson, ICLR 2023): retrain the last layer.

ERM features already hold the core (shape) information; the spurious reliance sits largely in
the last layer. DFR keeps the ERM feature extractor and refits the classifier on a
*group-balanced* subset of the validation data, where groups are (digit, colour): this needs
validation bias labels and nothing from training beyond the ERM model.

Protocol of the paper's code (``dfr_evaluate_spurious.py``): features standardised; L1
logistic regression (liblinear); the inverse regularisation ``C`` tuned by training on a
balanced half of validation and scoring on the other half (mean per-group accuracy here, see
``tune_c``); then
``retrains`` fits on balanced subsets of the whole validation split (each group subsampled to
the smallest group's size), whose coefficients are averaged.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from torch import nn

from bench import group_inference
from bench.hparams import hparam
from bench.method import FitResult, Method, RunContext
from bench.registry import METHODS
from bench.supervision import Supervision
from bench.training import SGDConfig, train


@dataclass(frozen=True)
class DFRHparams:
    """ERM stage: the seed's ERM (10 epochs, SGD lr 0.1, batch 16), final epoch as in the
    paper. Last layer: the paper's code defaults (C grid for Waterbirds, 20 averaged retrains,
    one tuning split)."""
    erm_epochs: int = hparam(10, low=1)
    batch_size: int = hparam(16, low=1, at_most_train_size=True)
    lr: float = hparam(0.1, low=0, low_open=True)
    c_grid: tuple[float, ...] = hparam((1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01), low=0,
                                       low_open=True)
    retrains: int = hparam(20, low=1)
    tuning_splits: int = hparam(1, low=1)

    def __post_init__(self):
        # Records store JSON lists; keep the dataclass hashable and equal after a round trip.
        object.__setattr__(self, "c_grid", tuple(float(c) for c in self.c_grid))


def balanced_subset(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices with every present group subsampled to the smallest present group's size.
    On Colored MNIST some (digit, colour) groups of validation may be empty; they are skipped
    (the paper's datasets have no empty groups)."""
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    smallest = min(len(m) for m in members)
    return np.concatenate([rng.choice(m, smallest, replace=False) for m in members])


def _fit(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> OneVsRestClassifier:
    """L1 logistic regression with liblinear, one-vs-rest: what the paper's code ran (older
    scikit-learn applied liblinear one-vs-rest itself; 1.9 needs the explicit wrapper)."""
    binary = LogisticRegression(l1_ratio=1.0, C=c, solver="liblinear", random_state=seed)
    return OneVsRestClassifier(binary).fit(x, y)


def _linear_weights(model: OneVsRestClassifier, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class rows of the one-vs-rest decision functions; classes absent from the fit get
    zeros. With two classes there is one decision function, for the second class."""
    estimators = model.estimators_
    coef = np.zeros((num_classes, estimators[0].coef_.shape[1]))
    intercept = np.zeros(num_classes)
    owners = model.classes_[1:] if len(model.classes_) == 2 else model.classes_
    for cls, estimator in zip(owners, estimators):
        coef[cls], intercept[cls] = estimator.coef_[0], estimator.intercept_[0]
    return coef, intercept


def tune_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, hp: DFRHparams,
           rng: np.random.Generator) -> float:
    """The C with the best mean per-group accuracy on the held-out half of validation.

    The paper scores worst-group accuracy over 4 groups; with 100 (digit, colour) groups the
    held-out half has ~1-2 images per conflicting group, so the minimum is 0 for every C and
    would tie. The mean over groups weighs every group equally and does not degenerate."""
    scores = dict.fromkeys(hp.c_grid, 0.0)
    for _ in range(hp.tuning_splits):
        order = rng.permutation(len(y))
        held, fit_part = order[:len(y) // 2], order[len(y) // 2:]
        fit_part = fit_part[balanced_subset(groups[fit_part], rng)]
        scaler = StandardScaler().fit(x[fit_part])
        for c in hp.c_grid:
            model = _fit(scaler.transform(x[fit_part]), y[fit_part], c, int(rng.integers(2**31)))
            correct = model.predict(scaler.transform(x[held])) == y[held]
            scores[c] += np.mean([correct[groups[held] == g].mean() for g in np.unique(groups[held])])
    return max(hp.c_grid, key=lambda c: scores[c])


def retrain_last_layer(x: np.ndarray, y: np.ndarray, groups: np.ndarray, hp: DFRHparams,
                       rng: np.random.Generator, num_classes: int) -> tuple[nn.Linear, float]:
    """A linear layer on raw features equal to the averaged, standardised DFR classifier."""
    c = tune_c(x, y, groups, hp, rng)
    scaler = StandardScaler().fit(x)
    coefs, intercepts = [], []
    for _ in range(hp.retrains):
        part = balanced_subset(groups, rng)
        model = _fit(scaler.transform(x[part]), y[part], c, int(rng.integers(2**31)))
        coef, intercept = _linear_weights(model, num_classes)
        coefs.append(coef)
        intercepts.append(intercept)
    coef, intercept = np.mean(coefs, axis=0), np.mean(intercepts, axis=0)
    # Fold the standardisation into the layer: w·(x - mu)/sigma + b.
    weight = coef / scaler.scale_
    bias = intercept - weight @ scaler.mean_
    # skip_init: the weights are overwritten, and a default init would draw from the global RNG.
    layer = nn.utils.skip_init(nn.Linear, x.shape[1], num_classes)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
    return layer, c


@METHODS.register("dfr")
class DFR(Method):
    Hparams = DFRHparams
    supervision = Supervision.VAL_BIAS
    reference = "Kirichenko, Izmailov & Wilson 2023, Last Layer Re-Training is Sufficient (ICLR)"
    summary = "ERM features, last layer refit on group-balanced validation data"
    epochs_field = "erm_epochs"     # the last layer is fitted by liblinear, not in epochs

    def fit(self, ctx: RunContext) -> FitResult:
        hp = self.hparams
        erm = train(ctx.new_model(), ctx, SGDConfig(hp.erm_epochs, hp.batch_size, hp.lr),
                    select=False, phase="erm").model
        features = group_inference.pooled_features(erm, ctx.val.images).cpu().double().numpy()
        rng = np.random.default_rng(ctx.seed_from_generator())
        layer, c = retrain_last_layer(features, ctx.val.digits.cpu().numpy(),
                                      ctx.val.groups.cpu().numpy(), hp, rng, ctx.num_classes)
        model = copy.deepcopy(erm)
        model.classifier = layer.to(ctx.device)
        return FitResult(model=model, logs={"dfr_c": c})
