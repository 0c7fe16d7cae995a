"""Protocols: records that can share a table (same data, training dataset and backbone).

A protocol is everything in a run spec except the method and its settings: digit source,
colouring mode, conflict ratio, the other data fields (jitter, validation fraction, palette),
the training dataset and the backbone, and the named preset the runs started from
(``bench.protocols``; the seed protocol's records name none). Each protocol gets its own page,
named by its slug; a preset's pages are named and titled by the preset, whose settings its
documentation gives, instead of by a hash of its data fields.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass

from bench.backbones import BACKBONE_NOTES, BASELINE
from bench.escape import markdown_text, slug_part
from bench.record import RunRecord
from bench.registry import DATASETS

# The headline protocol. Its backbone is the layout ``baseline`` stands for today, so pages of
# an earlier baseline stay as they were, under their own slug.
MAIN = {"source": "mnist", "mode": "background", "conflict_ratio": 0.05,
        "backbone": BASELINE.name, "dataset": "colored"}


def main_backbone() -> str:
    return MAIN["backbone"]
_HEADLINE_FIELDS = ("source", "mode", "conflict_ratio")


def _default_rest() -> str:
    fields = {k: v for k, v in asdict(DATASETS.get("colored").spec_class()).items()
              if k not in _HEADLINE_FIELDS and k != "seed"}
    return json.dumps(fields, sort_keys=True)


DEFAULT_REST = _default_rest()


@dataclass(frozen=True, order=True)
class Protocol:
    source: str
    mode: str
    backbone: str
    dataset: str
    rest: str              # the other data fields, canonical JSON
    conflict_ratio: float
    preset: str = ""       # a named protocol preset (bench.protocols); "" for the seed's

    @property
    def is_main(self) -> bool:
        return (all(getattr(self, k) == v for k, v in MAIN.items()) and self.rest == DEFAULT_REST
                and not self.preset)

    @property
    def family(self) -> "Protocol":
        """The same protocol at every conflict ratio (ratio set to -1)."""
        return Protocol(self.source, self.mode, self.backbone, self.dataset, self.rest, -1.0,
                        self.preset)

    @property
    def slug(self) -> str:
        if self.preset:
            return self._preset_slug()
        parts = [self.source, self.mode]
        if self.conflict_ratio >= 0:
            parts.append(f"r{self.conflict_ratio:g}")
        parts.append(self.backbone)
        if self.dataset != "colored":
            parts.append(self.dataset)
        if self.rest != DEFAULT_REST:
            parts.append(hashlib.sha256(self.rest.encode()).hexdigest()[:8])
        return "-".join(parts)

    def _preset_slug(self) -> str:
        """``<preset>-<source>[-r<ratio>]-<backbone>``: the preset fixes the rest."""
        parts = [self.preset, self.source]
        if self.conflict_ratio >= 0:
            parts.append(f"r{self.conflict_ratio:g}")
        return "-".join([*parts, self.backbone])

    @property
    def title(self) -> str:
        if self.preset:
            text = f"{self.preset} protocol · {self.source}"
            if self.conflict_ratio >= 0:
                text += f" · r = {self.conflict_ratio:g}"
            return text + f" · {self.backbone} backbone (docs/protocols.md)"
        text = f"{self.source} · {self.mode}"
        if self.conflict_ratio >= 0:
            text += f" · r = {self.conflict_ratio:g}"
        text += f" · {self.backbone} backbone"
        if self.backbone == main_backbone() != "baseline":
            text += " (baseline)"
        elif self.backbone in BACKBONE_NOTES:
            text += f" ({BACKBONE_NOTES[self.backbone]})"
        if self.dataset != "colored":
            text += f" · trained on {self.dataset}"
        for key, value in self.non_default_fields().items():
            text += f" · {markdown_text(key)} = {markdown_text(json.dumps(value))}"
        return text

    def non_default_fields(self) -> dict:
        rest, default = json.loads(self.rest), json.loads(DEFAULT_REST)
        return {k: v for k, v in sorted(rest.items()) if default.get(k) != v}

    def sort_key(self) -> tuple:
        return (not self.is_main, self.preset, self.source, self.mode, self.backbone,
                self.dataset, self.rest, self.conflict_ratio)


def protocol_of(record: RunRecord) -> Protocol:
    data = record.spec.data
    rest = {k: v for k, v in data.items() if k not in _HEADLINE_FIELDS and k != "seed"}
    rest = {**json.loads(DEFAULT_REST), **json.loads(json.dumps(rest))}
    # The names become the page's file name and text: plain names (records are checked to
    # hold nothing else, see bench.record_schema; a record made in code is made safe here).
    return Protocol(slug_part(data.get("source", "?")),
                    slug_part(data.get("mode", "background")), slug_part(record.spec.backbone),
                    slug_part(record.spec.dataset), json.dumps(rest, sort_keys=True),
                    float(data.get("conflict_ratio", -1.0)),
                    _preset_part(record.spec.extras.get("protocol")))


def _preset_part(preset) -> str:
    """The preset's name as a file-name part; no preset (the seed protocol's old runs): ''."""
    return slug_part(preset) if preset else ""


def group_by_protocol(records: list[RunRecord]) -> dict[Protocol, list[RunRecord]]:
    """Records by protocol, main protocol first, then in a fixed order."""
    groups: dict[Protocol, list[RunRecord]] = defaultdict(list)
    for rec in records:
        groups[protocol_of(rec)].append(rec)
    return {p: groups[p] for p in sorted(groups, key=Protocol.sort_key)}
