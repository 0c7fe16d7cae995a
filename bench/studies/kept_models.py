"""The model ``bench run`` kept for a method's default row: what the analysis scripts
(``scripts/attack_strength.py``, ``scripts/feature_probe.py``) open instead of training again."""
from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from bench.datasets.interface import DataSpec
from bench.errors import BenchError
from bench.harness import make_spec
from bench.store import Store
from bench.weights import kept_weights_path, load_model


def _without_extras(spec) -> dict:
    """The spec as stored JSON compares it (tuples become lists), minus ``extras``."""
    fields = json.loads(json.dumps(spec.to_dict()))
    fields.pop("extras")
    return fields


def stored_model(method: str, data: DataSpec, seed: int, store: Path | str,
                 backbone: str = "baseline") -> nn.Module:
    """The kept model of the method's default run at this seed (on ``backbone``, default the
    suite's baseline). Records are matched on everything but ``extras``: ``bench run`` hashes
    its diagnostics' settings into the key, and which diagnostics ran does not change the
    trained weights."""
    wanted = _without_extras(make_spec(method, {}, data, backbone=backbone))
    with Store(store, readonly=True) as opened:
        matches = sorted((r for r in opened.records(method=method, status="completed")
                          if r.seed == seed and _without_extras(r.spec) == wanted),
                         key=lambda r: r.key)
    if not matches:
        raise BenchError(f"{store} holds no completed default {method} run for seed {seed} on "
                         f"this protocol; run it with bench run first or drop --store to train")
    path = kept_weights_path(store, matches[0].key)
    if not path.exists():
        raise BenchError(f"{method} seed {seed} kept no weights ({path} is missing); rerun it "
                         f"without --no-keep-weights or drop --store to train")
    return load_model(path, record=matches[0])
