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

    @classmethod
    def from_registry(cls) -> "MethodCatalog":
        from bench.registry import METHODS
        defaults, references, supervisions = {}, set(), {}
        for name, method in METHODS.items():
            supervisions[name] = method.supervision.value
            # Through JSON, as stored records are (tuples become lists), so equal compares equal.
            defaults[name] = json.loads(json.dumps(dataclasses.asdict(method.Hparams()),
                                                   default=str))
            if getattr(method, "is_reference_model", False):
                references.add(name)
        return cls(defaults, frozenset(references), supervisions)

    def is_reference(self, method: str) -> bool:
        if method in self.defaults:
            return method in self.references
        return method in KNOWN_REFERENCES

    def supervision(self, method: str, recorded: str) -> str:
        """The method's current declaration; the record's own when the method is unknown."""
        return self.supervisions.get(method, recorded)

    def non_default(self, method: str, hparams: Mapping[str, Any]) -> dict[str, Any] | None:
        """Hyperparameters that differ from the method's defaults; None when the method's
        defaults are unknown here."""
        defaults = self.defaults.get(method)
        if defaults is None:
            return None
        return {k: v for k, v in sorted(hparams.items()) if defaults.get(k, object()) != v}

    def predates(self, method: str, hparams: Mapping[str, Any]) -> list[str]:
        """Hyperparameters the method has now that the record lacks: the run predates them,
        so it ran whatever the method did before they existed, not today's defaults."""
        return sorted(set(self.defaults.get(method) or {}) - set(hparams))
