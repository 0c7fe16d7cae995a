"""Stored keys never move: every committed record's key is rebuilt from its stored spec, and
fresh default specs hash as they did before the protocol presets (when ``optimizer`` joined
``SGDHparams``: a field added later stays out of a spec while it holds its default)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench.datasets.colored_mnist import ColoredMNISTSpec
from bench.harness import make_spec
from bench.hooks import HookOptions, spec_extras
from bench.hparams import added_later
from bench.leaderboard.catalog import MethodCatalog
from bench.record import RunRecord
from bench.registry import METHODS
from bench.runs.grid import SweepGrid, expand

RECORDS = Path(__file__).parents[1] / "leaderboards" / "records"
# make_spec(method, {}, ColoredMNISTSpec(), extras=spec_extras(HookOptions())).hash() at
# 1c1b84b, the commit before the presets (what `bench run --method M` stored then).
BEFORE_PRESETS = {
    "ablate-texture": "e1b8e3d59ad95bc0", "color-kl": "54fa417744a11af8",
    "dfr": "5dc89c9c8dd66936", "erm": "c7529ff7023addb9", "greyscale": "a9c3a29f0141a888",
    "group-balanced": "d82bb829c3a93e3a", "groupdro": "06f797c92fb12a9e",
    "jtt": "747d01d44b601719", "kmeans": "638f732465f5e4ec", "lff": "1a44adeff7566129",
    "lff-paper": "69ef6e4e4aba708e"}


def committed_lines() -> list[dict]:
    lines = []
    for path in sorted(RECORDS.glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines


def test_every_committed_key_is_its_stored_spec_hash():
    lines = committed_lines()
    assert len(lines) > 200
    for line in lines:
        assert RunRecord.from_json_dict(line).key == line["key"], line["key"]


def test_make_spec_rebuilds_every_committed_key_from_its_settings():
    """The path a rerun takes (method, hyperparameters, data, extras -> make_spec) gives the
    stored key, for every record whose method has no field the record predates."""
    rebuilt = predating = 0
    for line in committed_lines():
        record = RunRecord.from_json_dict(line)
        spec = record.spec
        fields = {f.name for f in dataclasses.fields(METHODS.get(spec.method).Hparams)}
        if fields - set(spec.hparams) - added_later(METHODS.get(spec.method).Hparams):
            predating += 1     # e.g. dfr runs made before its `groups` field
            continue
        again = make_spec(spec.method, spec.hparams,
                          ColoredMNISTSpec(**{**spec.data, "seed": record.seed}), spec.dataset,
                          spec.backbone, extras=spec.extras)
        assert again.key(record.seed) == line["key"], (spec.method, line["key"])
        rebuilt += 1
    assert rebuilt > 200 and predating == 5


@pytest.mark.parametrize("method", sorted(BEFORE_PRESETS))
def test_default_specs_hash_as_before_the_presets(method):
    extras = spec_extras(HookOptions())
    assert make_spec(method, {}, ColoredMNISTSpec(), extras=extras).hash() == \
        BEFORE_PRESETS[method]
    # the sweep's path, through the seed preset, gives the same key
    (job,) = expand(SweepGrid((method,)), "mnist")
    assert job.spec.hash() == BEFORE_PRESETS[method]


def test_the_catalog_does_not_call_a_default_added_later_a_field_the_record_predates():
    catalog = MethodCatalog.from_registry()
    erm = make_spec("erm", {}, ColoredMNISTSpec())
    assert "optimizer" not in erm.hparams
    assert catalog.predates("erm", erm.hparams) == []
    assert catalog.non_default("erm", erm.hparams) == {}
    adam = make_spec("erm", {"optimizer": "adam"}, ColoredMNISTSpec())
    assert adam.hparams["optimizer"] == "adam" and adam.hash() != erm.hash()
    assert catalog.non_default("erm", adam.hparams) == {"optimizer": "adam"}
