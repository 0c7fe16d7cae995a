"""The backbone calibration's acceptance rule, written down before it ran.

``scripts/calibrate_backbone.py`` trains every candidate of :data:`bench.backbones.CANDIDATES`
at the seed protocol and feeds the per-epoch numbers to the pure functions here. Every number
they read comes from the training split or the validation split carved out of it; colour
labels of the validation split are used to find its bias-conflicting images (a backbone choice,
like a method that declares validation bias labels). No test split is built.

The rule (docs/backbones.md):

(a) lazy artist: ERM at the seed protocol (SGD lr 0.1, batch 16, r = 0.05), mean over seeds,
    has training accuracy in [0.94, 0.965] after epoch 10 (it does not fit the ~5%
    conflicting images), validation-conflicting accuracy < 0.20 after epoch 10, and that
    accuracy moves by at most 0.05 over epochs 8-12 (max - min of the seed means), so the
    headline does not sit on a transition;
(b) capacity: the same network trained with group-balanced sampling for 10 epochs reaches
    >= 0.90 validation-conflicting accuracy (mean over seeds): the shape is learnable.

Stage (b) runs only for candidates that pass (a). Among those passing both, the highest (b)
wins; within 0.005 of it, the fewer parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from bench.metrics import mean_std


@dataclass(frozen=True)
class CalibrationRule:
    train_acc_range: tuple[float, float] = (0.94, 0.965)
    max_val_conflicting: float = 0.20
    stability_epochs: tuple[int, int] = (8, 12)
    max_drift: float = 0.05
    min_balanced_val_conflicting: float = 0.90
    protocol_epoch: int = 10
    tie_margin: float = 0.005


@dataclass
class Verdict:
    backbone: str
    params: int
    seeds: int
    train_acc: float
    val_conflicting: float
    val_conflicting_std: float
    drift: float
    lazy: bool
    balanced_val_conflicting: float = math.nan
    balanced_val_conflicting_std: float = math.nan
    capable: bool | None = None   # None: stage (b) not run (the candidate failed (a))

    @property
    def accepted(self) -> bool:
        return bool(self.lazy and self.capable)


def _epoch_means(rows: list[dict], key: str) -> dict[int, tuple[float, float, int]]:
    by_epoch: dict[int, list[float]] = {}
    for row in rows:
        if row.get(key) is not None and not math.isnan(row[key]):
            by_epoch.setdefault(row["epoch"], []).append(row[key])
    return {epoch: mean_std(values) for epoch, values in by_epoch.items()}


def judge_erm(backbone: str, params: int, rows: list[dict],
              rule: CalibrationRule = CalibrationRule()) -> Verdict:
    """Stage (a) from ERM's per-(seed, epoch) rows: ``epoch``, ``seed``,
    ``val_conflicting_acc`` and, at the protocol epoch, ``train_acc``."""
    conflicting = _epoch_means(rows, "val_conflicting_acc")
    train = _epoch_means(rows, "train_acc")
    first, last = rule.stability_epochs
    missing = [e for e in range(first, last + 1) if e not in conflicting]
    if missing or rule.protocol_epoch not in train:
        raise ValueError(f"{backbone}: ERM rows lack epochs {missing or [rule.protocol_epoch]}")
    window = [conflicting[e][0] for e in range(first, last + 1)]
    drift = max(window) - min(window)
    train_acc = train[rule.protocol_epoch][0]
    val_conf, val_std, seeds = conflicting[rule.protocol_epoch]
    low, high = rule.train_acc_range
    lazy = (low <= train_acc <= high and val_conf < rule.max_val_conflicting
            and drift <= rule.max_drift)
    return Verdict(backbone, params, seeds, train_acc, val_conf, val_std, drift, lazy)


def judge_balanced(verdict: Verdict, rows: list[dict],
                   rule: CalibrationRule = CalibrationRule()) -> Verdict:
    """Stage (b) from the group-balanced rows (``val_conflicting_acc`` per seed at the
    protocol epoch)."""
    values = [r["val_conflicting_acc"] for r in rows if r["epoch"] == rule.protocol_epoch]
    if not values:
        raise ValueError(f"{verdict.backbone}: no group-balanced rows at epoch "
                         f"{rule.protocol_epoch}")
    mean, std, _ = mean_std(values)
    verdict.balanced_val_conflicting, verdict.balanced_val_conflicting_std = mean, std
    verdict.capable = mean >= rule.min_balanced_val_conflicting
    return verdict


def choose(verdicts: list[Verdict], rule: CalibrationRule = CalibrationRule()) -> Verdict | None:
    """The accepted candidate with the highest (b); within ``tie_margin`` of it, the one with
    the fewest parameters. None when no candidate passes both stages."""
    accepted = [v for v in verdicts if v.accepted]
    if not accepted:
        return None
    best = max(v.balanced_val_conflicting for v in accepted)
    close = [v for v in accepted if v.balanced_val_conflicting >= best - rule.tie_margin]
    return min(close, key=lambda v: (v.params, -v.balanced_val_conflicting))
