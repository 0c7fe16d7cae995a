"""What the leaderboard needs to know about methods: default hyperparameters (to label
variants and reconstruct ``--set`` overrides), which methods are reference models, and each
method's current supervision class (a record keeps the string it was run under; when a
method is reclassified, e.g. ``greyscale`` to "knowledge of the bias's form", its old records
are shown under the new class without rewriting them or their spec hashes).

Built from the registry in normal use; tests pass a fixed catalog so that golden files do
not change when a method's defaults do.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

# Reference models named by the benchmark design, used when a record's method is not
# registered in this environment (e.g. records exported elsewhere).
KNOWN_REFERENCES = frozenset({"greyscale", "group-balanced"})


@dataclass(frozen=True)
class MethodCatalog:
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    references: frozenset[str] = frozenset()
    supervisions: Mapping[str, str] = field(default_factory=dict)
    # method -> hyperparameters a spec leaves out while they hold their default (added after
    # runs were stored: bench.hparams.spec_fields); a record without one ran at the default
    optional: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # protocol preset -> method -> its defaults there (bench.protocols): a preset's rows are
    # labelled by what differs from the preset, not from the seed protocol
    protocol_defaults: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(
        default_factory=dict)
    # method -> why the LLC is not defined for its models (Method.llc_not_defined)
    llc_undefined: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_registry(cls) -> "MethodCatalog":
        from bench.hparams import added_later, resolve
        from bench.registry import METHODS, PROTOCOLS
        defaults, references, supervisions, optional, llc_undefined = {}, set(), {}, {}, {}
        presets = {n: p for n, p in PROTOCOLS.items() if p.named_in_records}
        by_protocol: dict[str, dict[str, Any]] = {name: {} for name in presets}
        for name, method in METHODS.items():
            supervisions[name] = method.supervision.value
            defaults[name] = _as_stored(method.Hparams())
            optional[name] = added_later(method.Hparams)
            for preset_name, preset in presets.items():
                by_protocol[preset_name][name] = _as_stored(
                    resolve(method.Hparams, preset.overrides_for(name)))
            if getattr(method, "is_reference_model", False):
                references.add(name)
            if getattr(method, "llc_not_defined", ""):
                llc_undefined[name] = method.llc_not_defined
        return cls(defaults, frozenset(references), supervisions, optional, by_protocol,
                   llc_undefined)

    def is_reference(self, method: str) -> bool:
        if method in self.defaults:
            return method in self.references
        return method in KNOWN_REFERENCES

    def supervision(self, method: str, recorded: str) -> str:
        """The method's current declaration; the record's own when the method is unknown."""
        return self.supervisions.get(method, recorded)

    def non_default(self, method: str, hparams: Mapping[str, Any],
                    protocol: str = "") -> dict[str, Any] | None:
        """Hyperparameters that differ from the method's defaults (under ``protocol``, a
        preset's name, its defaults there); None when those defaults are unknown here."""
        base = self.defaults.get(method)
        defaults = self.protocol_defaults.get(protocol, {}).get(method) if protocol else base
        if defaults is None or base is None:
            return None
        # a field left out of the spec held the method's own default
        full = {**{k: base[k] for k in self.optional.get(method, ()) if k in base}, **hparams}
        return {k: v for k, v in sorted(full.items()) if defaults.get(k, object()) != v}

    def predates(self, method: str, hparams: Mapping[str, Any]) -> list[str]:
        """Hyperparameters the method has now that the record lacks: the run predates them,
        so it ran whatever the method did before they existed, not today's defaults. Fields a
        spec leaves out at their default are not among them."""
        return sorted(set(self.defaults.get(method) or {}) - set(hparams)
                      - set(self.optional.get(method, ())))


def _as_stored(hparams: Any) -> dict[str, Any]:
    """Through JSON, as stored records are (tuples become lists), so equal compares equal."""
    return json.loads(json.dumps(dataclasses.asdict(hparams), default=str))
