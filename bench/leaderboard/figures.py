"""Leaderboard figures as PNG files, byte-identical for the same inputs.

Determinism: matplotlib's default style (the user's matplotlibrc is ignored), the bundled
DejaVu Sans font, a fixed size and dpi, no ``Software`` metadata, and figures drawn through
``matplotlib.figure.Figure`` (no pyplot, so no global backend or state is touched).
Every function takes plain data (no records) so it can be tested on its own.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

DPI = 100
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
         "figure.facecolor": "white", "savefig.facecolor": "white", "image.interpolation": "nearest"}
SPLIT_ORDER = ("train", "val", "aligned", "conflicting", "cycled", "greyscale")
QUANTILES = ("q10", "q25", "median", "q75", "q90")


@contextmanager
def _figure(width: float, height: float) -> Iterator:
    import matplotlib
    from matplotlib.figure import Figure
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(STYLE)
        yield Figure(figsize=(width, height), dpi=DPI)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def splits_grid(images: dict[str, np.ndarray], path: Path) -> Path:
    """One row per split, one column per example: ``images[split]`` is uint8 (k, 3, 28, 28)
    (the seed report's Figure 1)."""
    names = [n for n in SPLIT_ORDER if n in images] + sorted(set(images) - set(SPLIT_ORDER))
    cols = max(len(images[n]) for n in names)
    with _figure(cols * 0.8 + 1.2, len(names) * 0.85) as fig:
        axes = fig.subplots(len(names), cols, squeeze=False)
        for i, name in enumerate(names):
            for j in range(cols):
                ax = axes[i][j]
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if j < len(images[name]):
                    ax.imshow(np.transpose(images[name][j], (1, 2, 0)))
            axes[i][0].set_ylabel(name, rotation=0, ha="right", va="center")
        fig.subplots_adjust(left=1.1 / (cols * 0.8 + 1.2), right=0.99, top=0.98, bottom=0.02,
                            wspace=0.05, hspace=0.08)
        return _save(fig, path)


def ratio_curves(series: dict[str, Sequence[tuple[float, float, float]]], path: Path,
                 title: str) -> Path:
    """``series[label]`` = [(conflict ratio, mean acc %, std %)]; error bars are the std
    over seeds (0 drawn for a single seed)."""
    with _figure(6.4, 4.0) as fig:
        ax = fig.subplots()
        for label in sorted(series):
            points = sorted(series[label])
            x = [p[0] * 100 for p in points]
            ax.errorbar(x, [p[1] for p in points], yerr=[p[2] for p in points], marker="o",
                        markersize=4, capsize=3, label=label)
        ax.set_xscale("log")
        ticks = sorted({p[0] * 100 for pts in series.values() for p in pts})
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("conflict ratio in training data (%)")
        ax.set_ylabel("acc_conflicting (%)")
        ax.set_ylim(0, 100)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        return _save(fig, path)


def confusion_pair(panels: Sequence[tuple[str, np.ndarray]], path: Path) -> Path:
    """Row-normalised confusion matrices (rows: true digit, columns: prediction) side by side."""
    with _figure(4.2 * len(panels), 4.0) as fig:
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (label, counts) in zip(axes, panels):
            counts = np.asarray(counts, dtype=float)
            rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
            ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
            for (i, j), v in np.ndenumerate(rates):
                if v >= 0.005:
                    ax.text(j, i, f"{v * 100:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if v > 0.5 else "black")
            ax.set_xticks(range(10))
            ax.set_yticks(range(10))
            ax.set_xlabel("predicted digit")
            ax.set_ylabel("true digit")
            ax.set_title(label)
        fig.tight_layout()
        return _save(fig, path)


def eps_boxes(rows: Sequence[tuple[str, dict[str, dict[str, float]]]], path: Path) -> Path:
    """``rows`` = [(label, {split: {q10, q25, median, q75, q90}})]: box q25-q75, line at the
    median, whiskers q10-q90 (missing quantiles are simply not drawn)."""
    splits = sorted({s for _, per_split in rows for s in per_split})
    with _figure(3.2 * max(len(splits), 1) + 1.5, 0.45 * len(rows) + 1.4) as fig:
        axes = fig.subplots(1, max(len(splits), 1), squeeze=False, sharey=True)[0]
        for ax, split in zip(axes, splits):
            for y, (label, per_split) in enumerate(rows):
                q = per_split.get(split, {})
                if "q10" in q and "q90" in q:
                    ax.plot([q["q10"], q["q90"]], [y, y], color="black", linewidth=1)
                if "q25" in q and "q75" in q:
                    ax.barh(y, q["q75"] - q["q25"], left=q["q25"], height=0.5, color="#9ecae1",
                            edgecolor="black", linewidth=0.8)
                if "median" in q:
                    ax.plot([q["median"]] * 2, [y - 0.25, y + 0.25], color="#d62728", linewidth=2)
            ax.set_title(f"ε-to-flip on {split}")
            ax.set_xlabel("L∞ ε (images in [0, 1])")
            ax.set_xlim(left=0)
            ax.grid(True, axis="x", alpha=0.3)
        axes[0].set_yticks(range(len(rows)))
        axes[0].set_yticklabels([label for label, _ in rows])
        axes[0].invert_yaxis()
        fig.tight_layout()
        return _save(fig, path)


def gradcam_rows(images: np.ndarray, digits: Sequence[int],
                 panels: Sequence[tuple[str, np.ndarray, Sequence[int]]], path: Path) -> Path:
    """One column per image. Top row: the uint8 (n, 3, 28, 28) ``images`` with their true
    digit; then one row per ``(label, maps (n, 28, 28) in [0, 1], predictions)``: the model's
    Grad-CAM overlay, titled with its prediction (green when right, red when wrong)."""
    import textwrap

    from bench.explain.gradcam_overlays import draw_overlay
    n, rows = len(images), 1 + len(panels)
    width = n * 0.95 + 1.3
    with _figure(width, rows * 1.1 + 0.1) as fig:
        axes = fig.subplots(rows, n, squeeze=False)
        for j in range(n):
            axes[0][j].imshow(np.transpose(images[j], (1, 2, 0)))
            axes[0][j].set_title(f"digit {int(digits[j])}", fontsize=7)
            for r, (_, maps, predicted) in enumerate(panels, start=1):
                draw_overlay(axes[r][j], images[j], maps[j])
                right = int(predicted[j]) == int(digits[j])
                axes[r][j].set_title(f"pred {int(predicted[j])}", fontsize=7,
                                     color="#2ca02c" if right else "#d62728")
        for r, label in enumerate(["image", *(label for label, _, _ in panels)]):
            axes[r][0].set_ylabel(textwrap.fill(label, 16), rotation=0, ha="right",
                                  va="center", fontsize=8)
        for ax in (a for row in axes for a in row):
            ax.set_xticks([])
            ax.set_yticks([])
        fig.subplots_adjust(left=1.2 / width, right=0.99, top=0.93, bottom=0.01,
                            wspace=0.08, hspace=0.35)
        return _save(fig, path)
