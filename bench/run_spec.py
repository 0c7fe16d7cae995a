"""A run's spec, resolved once. :func:`make_spec` is the one place where a method's
hyperparameters are parsed (text from ``--set`` or a grid file) and validated (types, declared
bounds, the dataclass's own rules); the spec it returns carries the frozen object it built
(``RunSpec.typed_hparams``), and the harness trains with exactly that object. A spec read back
from the store has only its stored fields; :func:`typed_hparams` resolves those through the
same ``resolve``. The spec's hash is taken over its canonical encoding (bench.canonical).
"""
from __future__ import annotations

from typing import Any, Sequence

from bench.backbones import canonical_name
from bench.hparams import parse_overrides, resolve, spec_fields
from bench.record import RunSpec
from bench.registry import METHODS
from bench.selection import check_primary, default_rule


def make_spec(method: str, overrides: dict[str, Any], data, dataset: str = "colored",
              backbone: str = "baseline", extras: dict[str, Any] | None = None,
              selection: str | None = None, pairs: Sequence[str] = ()) -> RunSpec:
    """A run spec with the method's full, resolved hyperparameters: defaults, then
    ``overrides`` (typed: a protocol's settings), then ``pairs`` (``key=value`` text).

    ``data``: the dataset family's spec (its fields, seed excepted, are the spec's data).
    ``selection``: the primary selection rule; kept in the extras only when it is not the
    method's default, so that default specs (and every stored key) hash as before. Likewise a
    hyperparameter added after runs were stored is kept only when it differs from its default
    (``bench.hparams.spec_fields``)."""
    cls = METHODS.get(method)
    hparams = resolve(cls.Hparams, {**overrides, **parse_overrides(cls.Hparams, list(pairs))})
    backbone = canonical_name(backbone)   # records name the network, not the alias
    data_fields = {k: v for k, v in data.to_dict().items() if k != "seed"}
    extras = dict(extras or {})
    if selection is not None and check_primary(selection).name != default_rule(cls.supervision):
        extras["selection"] = selection
    return RunSpec(method, spec_fields(hparams), data_fields, dataset, backbone, extras,
                   typed_hparams=hparams)


def typed_hparams(spec: RunSpec) -> Any:
    """The frozen hyperparameters a run trains with: the object :func:`make_spec` built, or,
    for a spec read back from the store, its stored fields resolved the same way."""
    if spec.typed_hparams is not None:
        return spec.typed_hparams
    return resolve(METHODS.get(spec.method).Hparams, spec.hparams)
