"""What an LLC is measured on, for the scripts that re-measure kept models: the stored runs
(read from a results store without writing to it), their kept weights, and the training
subset the diagnostic samples. Only the training split is built: no validation or test
split is read, so nothing measured here can select on them.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bench.data import prepare_splits
from bench.data import data_spec_of
from bench.diagnostics.llc import LLCSettings
from bench.diagnostics.pgd import sample_positions
from bench.errors import BenchError
from bench.record import RunRecord
from bench.supervision import to_float_images
from bench.weights import kept_weights_path, load_model


def read_records(store: Path | str) -> list[RunRecord]:
    """Completed records of a store, opened read-only (a store another process is writing
    can be read this way; ``bench.store.Store`` would take its write lock)."""
    path = Path(store)
    if not path.is_file():
        raise BenchError(f"no results store at {path}")
    uri = f"file:{path.resolve()}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=30) as conn:
        rows = conn.execute("SELECT id, record FROM runs WHERE status = 'completed' "
                            "ORDER BY id").fetchall()
    records = []
    for row_id, blob in rows:
        record = RunRecord.from_json_dict(json.loads(blob))
        record.id = row_id
        records.append(record)
    return records


@dataclass(frozen=True)
class Measured:
    """A stored run whose kept model is re-measured."""
    record: RunRecord
    weights: Path

    @property
    def label(self) -> str:
        return f"{self.record.spec.method} seed {self.record.seed}"

    def model(self, device: torch.device = torch.device("cpu")) -> nn.Module:
        return load_model(self.weights, device, record=self.record)


def find_runs(store: Path | str, method: str | None = None, seed: int | None = None,
              conflict_ratio: float | None = None, source: str | None = None,
              backbone: str | None = None, weights_only: bool = True) -> list[Measured]:
    """Completed runs matching every given field, with their weights' paths (runs without
    kept weights are left out unless ``weights_only`` is False)."""
    out = []
    for record in read_records(store):
        if not _matches(record, method, seed, conflict_ratio, source, backbone):
            continue
        path = kept_weights_path(store, record.key)
        if path.is_file() or not weights_only:
            out.append(Measured(record, path))
    return out


def _matches(record: RunRecord, method, seed, conflict_ratio, source, backbone) -> bool:
    data, spec = record.spec.data, record.spec
    return not ((method is not None and spec.method != method)
                or (seed is not None and record.seed != seed)
                or (conflict_ratio is not None and data.get("conflict_ratio") != conflict_ratio)
                or (source is not None and data.get("source") != source)
                or (backbone is not None and spec.backbone != backbone))


def find_zoo_runs(zoo: Path | str, method: str | None = None, seed: int | None = None,
                  conflict_ratio: float | None = None, source: str | None = None,
                  backbone: str | None = None) -> list[Measured]:
    """Like :func:`find_runs`, from the committed model zoo (its manifest and the records
    beside it) instead of a results store: anyone with a clone can re-measure the pages'
    models. Every file is checked against the manifest's SHA-256 before it is used."""
    from bench.leaderboard.sources import read_records_dir
    from bench.zoo import read_manifest, records_dir, verified_path
    zoo = Path(zoo)
    records = {(r.key, r.created_at): r for r in read_records_dir(records_dir(zoo))}
    out = []
    for entry in read_manifest(zoo):
        record = records.get((entry.key, entry.created_at))
        if record is None:
            raise BenchError(f"zoo entry {entry.file}: no committed record {entry.key} made at "
                             f"{entry.created_at}; regenerate the manifest with bench "
                             f"leaderboard --export")
        if _matches(record, method, seed, conflict_ratio, source, backbone):
            out.append(Measured(record, verified_path(entry, zoo)))
    return out


def training_split(record: RunRecord, data_root: Path | None, cache_dir: Path | None = None):
    """The run's training split, built as its run built it (no other split is built)."""
    spec = data_spec_of(record.spec, record.seed)
    return prepare_splits(spec, record.spec.dataset, data_root, cache_dir, test_names=()).train


def subset_of(train, settings: LLCSettings,
              device: torch.device = torch.device("cpu")) -> tuple[torch.Tensor, torch.Tensor]:
    """The images (float, on ``device``) and digit labels the diagnostic samples from a
    training split at ``settings``: the same fixed subset as ``run_llc``."""
    index = sample_positions(len(train), settings.subset, settings.seed)
    return to_float_images(train.images[index], device), train.labels[index].to(device)


def training_subset(record: RunRecord, settings: LLCSettings, data_root: Path | None,
                    device: torch.device = torch.device("cpu"),
                    cache_dir: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and digit labels the diagnostic samples for this run (``subset_of`` its
    ``training_split``)."""
    return subset_of(training_split(record, data_root, cache_dir), settings, device)
