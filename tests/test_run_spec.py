"""A run spec is resolved once (bench.run_spec): the harness trains with exactly the object the
resolver built, and the object never enters the spec's hash, equality or stored fields."""
from __future__ import annotations

import dataclasses

import pytest

import bench.run_spec as run_spec
from bench.cli import main
from bench.registry import DATASETS, METHODS
from bench.run_spec import make_spec, typed_hparams

TINY = ["--images", "mnist-5k", "--epochs", "1", "--set", "batch_size=64", "--device", "cpu",
        "--diagnostics", "none", "--no-keep-weights", "--workers", "1"]


def _data():
    return DATASETS.get("colored").spec_class()


def test_the_typed_hparams_stay_out_of_the_hash_and_the_stored_fields():
    spec = make_spec("erm", {}, _data(), pairs=["lr=0.05"])
    assert spec.typed_hparams.lr == 0.05 and "typed_hparams" not in spec.to_dict()
    stored = dataclasses.replace(spec, typed_hparams=None)
    assert stored == spec and stored.hash() == spec.hash()
    assert typed_hparams(stored) == spec.typed_hparams        # resolved the same way again


class _Stop(Exception):
    """Raised by the spy instead of training: the harness records it as a failed run."""


def test_the_harness_trains_with_the_object_the_resolver_built(tmp_path, monkeypatch):
    built, trained_with = [], []
    real_resolve = run_spec.resolve

    def resolve_and_remember(cls, overrides):
        built.append(real_resolve(cls, overrides))
        return built[-1]

    def spy_fit(self, ctx):
        trained_with.append(self.hparams)
        raise _Stop("the spy stops here")

    monkeypatch.setattr(run_spec, "resolve", resolve_and_remember)
    monkeypatch.setattr(METHODS.get("erm"), "fit", spy_fit)
    code = main(["run", "--method", "erm", *TINY, "--store", str(tmp_path / "r.sqlite")])
    assert code == 1                                          # the one seed failed, by design
    # one parse, one object: a second parse path would build another (equal, not identical)
    assert len(built) == 1 and len(trained_with) == 1
    assert trained_with[0] is built[0]
    assert built[0].epochs == 1 and built[0].batch_size == 64


def test_a_bad_value_is_refused_where_the_spec_is_built():
    from bench.errors import ConfigError
    with pytest.raises(ConfigError, match="lr must be > 0"):
        make_spec("erm", {}, _data(), pairs=["lr=-1"])
