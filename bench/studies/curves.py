"""Learning curves: test-split accuracies after every training epoch, for reporting only.

They answer "when does the model learn the shape?" — for instance whether ERM reads colour
after its first epoch and learns shape from the few conflicting images later. Model
selection never sees these numbers (it reads validation, see ``bench.training``); the
recorder is an epoch observer of the run context and leaves model and generator untouched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from bench import metrics
from bench.data import Splits
from bench.diagnostics.color import color_following
from bench.evaluate import predict
from bench.supervision import to_float_images

CURVE_SPLITS = ("aligned", "conflicting", "cycled")


@dataclass
class CurveRecorder:
    """Call it as ``epoch_observer``; ``rows`` gets one dict per (phase, epoch) with
    ``acc_<split>`` for each split and ``color_following`` when ``cycled`` is among them."""
    splits: Splits
    device: torch.device
    names: tuple[str, ...] = CURVE_SPLITS
    rows: list[dict] = field(default_factory=list)
    _images: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        unknown = [n for n in self.names if n not in self.splits.tests]
        if unknown:
            raise ValueError(f"no test split {unknown}; have {sorted(self.splits.tests)}")

    def __call__(self, phase: str, epoch: int, model: nn.Module) -> None:
        row: dict = {"phase": phase, "epoch": epoch}
        for name in self.names:
            split = self.splits.tests[name]
            if name not in self._images:   # converted once, not every epoch
                self._images[name] = to_float_images(split.images, self.device)
            pred = predict(model, self._images[name]).cpu()
            row[f"acc_{name}"] = metrics.accuracy(pred, split.labels)
            if name == "cycled":
                row["color_following"] = color_following(
                    pred, self.splits.info.class_of_bias(split.bias))
        self.rows.append(row)


def summarize_curves(rows: list[dict], by: tuple[str, ...] = ("conflict_ratio", "phase", "epoch")
                     ) -> list[dict]:
    """Mean, std and n over seeds of every numeric column, one row per ``by`` key, in the
    order the keys first appear (phases stay in training order)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    values = [k for k in rows[0] if k not in by and k != "seed"] if rows else []
    out = []
    for key, members in groups.items():
        summary = dict(zip(by, key))
        for name in values:
            mean, std, _ = metrics.mean_std([m[name] for m in members])
            summary[name] = mean
            summary[f"{name}_std"] = std
        summary["n"] = len(members)   # seeds
        out.append(summary)
    return out


def plot_band(ax, mean: list[float], std: list[float], **style):
    """A curve of means over epochs 1, 2, ... with a ± std band in its colour (a NaN std, from
    one seed, draws no band); returns the line."""
    step = range(1, len(mean) + 1)      # epochs of all phases, in training order
    spread = [0.0 if math.isnan(d) else d for d in std]
    line, = ax.plot(step, mean, **style)
    ax.fill_between(step, [m - d for m, d in zip(mean, spread)],
                    [m + d for m, d in zip(mean, spread)], alpha=0.2, color=line.get_color())
    return line

