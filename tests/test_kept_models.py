"""bench.studies.kept_models: which kept model the analysis scripts load for a method's default row."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.backbones import build_backbone
from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.errors import BenchError
from bench.harness import make_spec
from bench.studies.kept_models import stored_model
from bench.record import RunRecord
from bench.store import Store
from bench.weights import save_model, weights_dir_for, weights_path

DATA = ColoredMNISTSpec(source="mnist", conflict_ratio=0.05)
# what bench run hashes into a stored record's key besides the run itself
DIAGNOSTICS = {"diagnostics": {"pgd": {"steps": 10}, "color": {"split": "cycled"}}}


OLD_NETWORK = "k3-16-32-16-pool-between"


def keep(store_path: Path, overrides: dict, seed: int, fill: float, weights: bool = True,
         backbone: str = "baseline"):
    spec = make_spec("erm", overrides, DATA, backbone=backbone, extras=DIAGNOSTICS)
    with Store(store_path) as store:
        store.put(RunRecord(spec, seed, "completed", "none"))
    if weights:
        model = build_backbone(backbone)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(fill)
        save_model(model, spec.backbone, weights_path(weights_dir_for(store_path), spec.key(seed)))


def first_weight(model: torch.nn.Module) -> float:
    return next(model.parameters()).flatten()[0].item()


def test_loads_the_default_run_that_bench_run_stored_with_its_diagnostics(tmp_path):
    store = tmp_path / "results.sqlite"
    keep(store, {"epochs": 20}, seed=0, fill=2.0)    # not the default row
    keep(store, {}, seed=1, fill=3.0)                # another seed
    keep(store, {}, seed=0, fill=1.0)
    assert first_weight(stored_model("erm", DATA, 0, store)) == 1.0


def test_no_default_run_or_no_kept_weights_is_a_clear_error(tmp_path):
    store = tmp_path / "results.sqlite"
    keep(store, {"epochs": 20}, seed=0, fill=2.0)
    with pytest.raises(BenchError, match="no completed default erm run for seed 0"):
        stored_model("erm", DATA, 0, store)
    keep(store, {}, seed=0, fill=1.0, weights=False)
    with pytest.raises(BenchError, match="kept no weights"):
        stored_model("erm", DATA, 0, store)


def test_the_backbone_is_part_of_the_default_row(tmp_path):
    store = tmp_path / "results.sqlite"
    keep(store, {}, seed=0, fill=1.0)
    keep(store, {}, seed=0, fill=4.0, backbone=OLD_NETWORK)
    assert first_weight(stored_model("erm", DATA, 0, store)) == 1.0
    assert first_weight(stored_model("erm", DATA, 0, store, backbone=OLD_NETWORK)) == 4.0
