"""The Grad-CAM figure of a protocol page: ERM beside the best method on the same images.

Unlike the other figures it needs more than records: the kept weights of both runs and the
test data. So it follows its own rule, which keeps the pages independent of the machine that
regenerates them:

- Which runs: the same pair as the confusion figure (:func:`~bench.leaderboard.plan.erm_and_best`),
  each at its lowest seed. The file name carries a digest of both records (key and creation
  time), so a figure of another pair, or of a run since redone, is never linked by mistake.
- Drawing: ``bench leaderboard`` (without ``--no-figures``) draws it *before* writing the pages,
  when both weight files exist under the weights folder; a figure of an older pair for the
  same page is then removed. Missing weights or data skip the figure with a note.
- Linking: a page links the figure exactly when its file exists in the output folder. A
  committed PNG is therefore linked by every regeneration, ``--no-figures`` and machines
  without weights included.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.backbones import backbone_has_feature_maps
from bench.data import prepare_splits
from bench.data import data_spec_of
from bench.diagnostics.pgd import sample_positions
from bench.errors import BenchError
from bench.explain.gradcam_overlays import cams
from bench.leaderboard import figures
from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.plan import PlannedFigure, erm_and_best
from bench.leaderboard.protocol import Protocol, group_by_protocol
from bench.leaderboard.tables import Row, build_rows
from bench.record import RunRecord
from bench.supervision import to_float_images
from bench.weights import find_weights, load_model

SPLIT = "conflicting"
IMAGES = 8
SAMPLE_SEED = 0     # which images: a fixed seeded sample, the same for every page and model


@dataclass(frozen=True)
class GradCAMPair:
    protocol: Protocol
    erm: Row
    best: Row

    @property
    def records(self) -> tuple[RunRecord, RunRecord]:
        """The lowest seed of each row (rows keep their records sorted by seed)."""
        return self.erm.records[0], self.best.records[0]

    @property
    def path(self) -> str:
        """Relative to the leaderboard folder."""
        identity = "|".join(f"{r.key}@{r.created_at}" for r in self.records)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
        return f"figures/{self.protocol.slug}-gradcam-{digest}.png"

    def caption(self) -> str:
        erm, best = self.records
        return (f"Grad-CAM (last conv block, for the predicted class) on the same {IMAGES} "
                f"`{SPLIT}` test images (a seeded sample, test data of seed {erm.seed}): "
                f"{self.erm.label} (seed {erm.seed}) beside the best method, {self.best.label} "
                f"(seed {best.seed}, supervision: {self.best.supervision}). Predictions in "
                f"green when right, red when wrong.")


@dataclass(frozen=True)
class WeightSource:
    """Where kept weights and the digit files are (``data_root`` None: $BENCH_DATA_ROOT, else
    the MNIST shipped with the suite, as for ``bench run``)."""
    weights_dir: Path
    data_root: Path | None = None
    cache_dir: Path | None = None
    legacy_dir: Path | None = None   # the shared weights/ folder of stores made before 2026-11-30

    def path(self, key: str) -> Path:
        """The file for ``key``: in ``weights_dir``, else in ``legacy_dir``."""
        return find_weights(key, self.weights_dir, self.legacy_dir)


def gradcam_pair(protocol: Protocol, rows: list[Row]) -> GradCAMPair | None:
    pair = erm_and_best(rows)
    return None if pair is None else GradCAMPair(protocol, *pair)


def _already_drawn(path: Path) -> Path:
    """Drawn before the pages were rendered (or committed): left as it is."""
    return path


def planned_gradcam(protocol: Protocol, rows: list[Row], out: Path) -> PlannedFigure | None:
    """The figure to link, exactly when its file exists under ``out``."""
    pair = gradcam_pair(protocol, rows)
    if pair is None or not (out / pair.path).is_file():
        return None
    return PlannedFigure(pair.path, "Grad-CAM overlays on conflicting images, ERM beside the "
                         "best method", pair.caption(), _already_drawn)


def draw_pair(pair: GradCAMPair, source: WeightSource, path: Path) -> Path:
    """Loads both models (CPU), rebuilds the test split of ERM's seed and draws the figure."""
    models = [load_model(source.path(r.key), record=r) for r in pair.records]
    erm = pair.records[0]
    spec = data_spec_of(erm.spec, erm.seed)
    split = prepare_splits(spec, erm.spec.dataset, source.data_root, source.cache_dir).tests[SPLIT]
    split = split.subset(sample_positions(len(split), IMAGES, SAMPLE_SEED))
    images = to_float_images(split.images, torch.device("cpu"))
    panels = []
    for row, model in zip((pair.erm, pair.best), models):
        maps, predicted = cams(model, images)
        panels.append((row.label, maps.numpy(), predicted.tolist()))
    return figures.gradcam_rows(split.images.numpy(), split.labels.tolist(), panels, path)


def draw_figures(records: list[RunRecord], catalog: MethodCatalog, out: Path,
                 source: WeightSource) -> tuple[list[Path], list[str]]:
    """Draws every page's figure whose two weight files exist; returns (files written,
    one note per page skipped although it has a pair)."""
    written, notes = [], []
    for protocol, recs in group_by_protocol(records).items():
        pair = gradcam_pair(protocol, build_rows(recs, catalog))
        if pair is None:
            continue
        if not backbone_has_feature_maps(protocol.backbone):
            notes.append(f"{protocol.slug}: no Grad-CAM figure, not applicable to "
                         f"{protocol.backbone} (no feature maps)")
            continue
        missing = [r.key for r in pair.records
                   if not source.path(r.key).is_file()]
        if missing:
            notes.append(f"{protocol.slug}: no Grad-CAM figure drawn, no kept weights for "
                         f"{', '.join(missing)} under {source.weights_dir}")
            continue
        target = out / pair.path
        try:
            written.append(draw_pair(pair, source, target))
        except BenchError as exc:   # unreadable weights, digit files not found
            notes.append(f"{protocol.slug}: no Grad-CAM figure drawn ({exc})")
            continue
        for stale in target.parent.glob(f"{protocol.slug}-gradcam-*.png"):
            if stale != target:
                stale.unlink()
    return written, notes
