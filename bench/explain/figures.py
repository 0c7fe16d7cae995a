"""PNG figures of one :class:`~bench.explain.analysis.Explanation` (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.datasets.interface import Split  # noqa: E402
from bench.explain.analysis import Explanation  # noqa: E402

DPI = 110


def _rgb(image: torch.Tensor) -> np.ndarray:
    """uint8 or float (3, H, W) -> float (H, W, 3) for imshow."""
    x = image.float()
    if image.dtype == torch.uint8:
        x = x / 255
    return x.permute(1, 2, 0).clamp(0, 1).numpy()


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _heatmap(ax, matrix, title, xlabel, ylabel, fmt="d", cmap="Blues"):
    ax.imshow(matrix, cmap=cmap)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel,
           xticks=range(matrix.shape[1]), yticks=range(matrix.shape[0]))
    if matrix.shape[0] <= 10:
        peak = np.abs(matrix).max() or 1
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=6,
                    color="white" if abs(v) > peak / 2 else "black")


def confusion(ex: Explanation, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    _heatmap(axes[0], ex.confusion, "conflicting: digit", "predicted", "true digit")
    _heatmap(axes[1], ex.colour_confusion, "conflicting: background colour", "predicted",
             "background colour")
    return _save(fig, path)


def _mosaic(images: torch.Tensor, gap: int = 2) -> np.ndarray:
    """uint8 (rows, cols, 3, H, W) -> one float (H', W', 3) picture with white gaps: one
    imshow instead of rows x cols axes (matplotlib is slow with hundreds of axes)."""
    rows, cols, _, h, w = images.shape
    out = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, 3))
    for r in range(rows):
        for c in range(cols):
            y, x = r * (h + gap), c * (w + gap)
            out[y:y + h, x:x + w] = _rgb(images[r, c])
    return out


def top_k(ex: Explanation, train: Split, path: Path) -> Path:
    n_units, k = ex.top_k.shape
    picked = train.images[ex.train_sample[ex.top_k.flatten()]].reshape(n_units, k, *train.images.shape[1:])
    fig, ax = plt.subplots(figsize=(k * 0.55 + 1.2, n_units * 0.55))
    ax.imshow(_mosaic(picked))
    ax.set_xticks([])
    ax.set_yticks([u * 30 + 14 for u in range(n_units)],
                  [f"{u} {ex.probe.kind(u)} {ex.probe.score[u]:.2f}" for u in range(n_units)],
                  fontsize=7)
    ax.set_title("top training images per unit (kind, texture score)", fontsize=9)
    return _save(fig, path)


def units(ex: Explanation, path: Path) -> Path:
    n = len(ex.probe.score)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    idx = np.arange(n)
    axes[0].bar(idx - 0.2, ex.drops["conflicting"], 0.4, label="conflicting")
    axes[0].bar(idx + 0.2, ex.drops["aligned"], 0.4, label="aligned")
    axes[0].set(title="accuracy drop when the unit is ablated", xlabel="unit", xticks=idx)
    axes[0].legend(fontsize=7)
    colours = ["tab:orange" if t else "tab:blue" for t in ex.probe.texture_driven]
    axes[1].bar(idx, ex.probe.score, color=colours)
    axes[1].axhline(0.5, color="black", lw=0.5)
    axes[1].set(title="texture score T / (T + D) (above 0.5: texture)", xlabel="unit",
                xticks=idx, ylim=(0, 1))
    lim = np.abs(ex.weights).max() or 1
    axes[2].imshow(ex.weights.T, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    axes[2].set(title="classifier weight (class x unit)", xlabel="unit", ylabel="class",
                xticks=idx, yticks=range(ex.weights.shape[1]))
    return _save(fig, path)


def pca(ex: Explanation, path: Path) -> Path:
    ratio = ex.pca.explained_variance_ratio
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    comps = np.arange(1, len(ratio) + 1)
    ax.bar(comps, ratio, label="per component")
    ax.plot(comps, np.cumsum(ratio), "o-", color="tab:red", label="cumulative")
    ax.axhline(0.9, ls="--", color="grey", lw=0.8)
    ax.set(title=f"PCA of pooled features: {ex.pca.components_for_90} components for 90%",
           xlabel="component", ylabel="explained variance ratio", ylim=(0, 1.02))
    ax.legend(fontsize=7)
    return _save(fig, path)


def nmi(ex: Explanation, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(ex.nmi, cmap="viridis", vmin=0, vmax=1)
    ax.set(title="normalised mutual information between units", xlabel="unit", ylabel="unit",
           xticks=range(len(ex.nmi)), yticks=range(len(ex.nmi)))
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def gradcam(ex: Explanation, path: Path) -> Path:
    rows = list(ex.gradcam)
    n = max(len(p.images) for p in ex.gradcam.values())
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 1.2, len(rows) * 1.45), squeeze=False)
    for r, name in enumerate(rows):
        panel = ex.gradcam[name]
        for j in range(n):
            ax = axes[r, j]
            ax.set_xticks([]), ax.set_yticks([])
            if j >= len(panel.images):
                continue
            ax.imshow(_rgb(panel.images[j]))
            ax.imshow(panel.maps[j].numpy(), cmap="jet", alpha=0.45, vmin=0, vmax=1)
            ax.set_title(f"y={int(panel.digits[j])} p={int(panel.predicted[j])}", fontsize=7)
        axes[r, 0].set_ylabel(name, fontsize=8)
    return _save(fig, path)


def class_visualisation(ex: Explanation, path: Path) -> Path:
    n = len(ex.classes.images)
    fig, axes = plt.subplots(1, n, figsize=(n * 1.1, 1.6), squeeze=False)
    for c in range(n):
        ax = axes[0, c]
        ax.imshow(_rgb(ex.classes.images[c]))
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{c}: {ex.classes.logit_end[c]:.0f}", fontsize=7)
    fig.suptitle("activation maximisation (class: final logit)", fontsize=9)
    return _save(fig, path)


def patching(ex: Explanation, path: Path) -> Path:
    p = ex.patching
    idx = np.arange(len(p.to_colour))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].bar(idx - 0.2, p.before, 0.4, label="before")
    axes[0].bar(idx + 0.2, p.to_colour, 0.4, label=f"unit {p.unit} patched")
    axes[0].set(title=f"aligned images predicted as class c, unit {p.unit} set to its "
                      f"colour-c texture value", xlabel="colour c", xticks=idx, ylim=(0, 1))
    axes[0].title.set_fontsize(8)
    axes[0].legend(fontsize=7)
    axes[1].bar(idx, p.values, color="tab:purple")
    axes[1].set(title=f"unit {p.unit} activation on each colour's texture", xlabel="colour",
                xticks=idx)
    return _save(fig, path)


def draw_all(ex: Explanation, train: Split, folder: Path, prefix: str) -> dict[str, Path]:
    """Every figure, as ``<folder>/<prefix>-<name>.png``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, draw in (("confusion", confusion), ("units", units), ("pca", pca), ("nmi", nmi),
                       ("gradcam", gradcam), ("class-visualisation", class_visualisation),
                       ("patching", patching)):
        if name == "gradcam" and not ex.gradcam:
            continue   # no feature maps: the report says Grad-CAM does not apply
        out[name] = draw(ex, folder / f"{prefix}-{name}.png")
    out["top-k"] = top_k(ex, train, folder / f"{prefix}-top-k.png")
    return out
