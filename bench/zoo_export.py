"""Keeping the zoo whole: ``bench leaderboard --export`` copies each exported record's kept
weights into ``leaderboards/models/`` and regenerates the manifest (:mod:`bench.zoo`).

A zoo file belongs to exactly one committed record (its key and creation time are stamped
inside it); files of records no longer committed (a record replaced by its rerun) are removed,
so the zoo never serves a model whose numbers are not on a page.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from bench.leaderboard.catalog import MethodCatalog
from bench.leaderboard.protocol import group_by_protocol
from bench.leaderboard.tables import build_rows
from bench.protocols import zoo_exclusion_of
from bench.record import RunRecord
from bench.weights import file_sha256 as sha256_of
from bench.zoo import MANIFEST


def zoo_file(record: RunRecord, slug: str) -> str:
    spec_hash, seed = record.key.split("/")
    return f"{slug}/{spec_hash}-{seed}.pt"


def _stamp(path: Path) -> tuple[str | None, str | None]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:    # unreadable: not a file of ours
        return None, None
    return payload.get("key"), payload.get("created_at")


def copy_weights(records: list[RunRecord], find_weights, zoo: Path) -> tuple[list[Path], list[str]]:
    """Copies the kept weights of every record that has none in the zoo yet; ``find_weights(key)``
    gives a candidate file. Returns (files copied, keys whose weights were not kept). Records of
    a preset that keeps its models out of the zoo (``zoo_exclusion``) are neither."""
    copied, missing = [], []
    for protocol, recs in group_by_protocol(records).items():
        if zoo_exclusion_of(protocol.preset):
            continue
        for rec in recs:
            if rec.status != "completed":
                continue
            target = zoo / zoo_file(rec, protocol.slug)
            if target.is_file() and _stamp(target) == (rec.key, rec.created_at):
                continue
            source = find_weights(rec.key)
            if source is None or not Path(source).is_file() or \
                    _stamp(Path(source)) != (rec.key, rec.created_at):
                missing.append(rec.key)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            copied.append(target)
    return copied, missing


def manifest_entries(records: list[RunRecord], catalog: MethodCatalog, zoo: Path) -> list[dict]:
    """One entry per committed record whose zoo file carries its stamp; stale files removed."""
    entries, wanted = [], set()
    for protocol, recs in group_by_protocol(records).items():
        for row in build_rows(recs, catalog):
            for rec in row.records:
                path = zoo / zoo_file(rec, protocol.slug)
                if not path.is_file() or _stamp(path) != (rec.key, rec.created_at):
                    continue
                wanted.add(path.resolve())
                entries.append({
                    "file": zoo_file(rec, protocol.slug), "sha256": sha256_of(path),
                    "bytes": path.stat().st_size, "key": rec.key,
                    "created_at": rec.created_at, "protocol": protocol.slug, "row": row.label,
                    "default_settings": row.non_default == {}, "method": rec.spec.method,
                    "seed": rec.seed, "supervision": row.supervision,
                    "backbone": rec.spec.backbone,
                    "acc_conflicting": rec.metrics.get("acc_conflicting")})
    for path in zoo.glob("*/*.pt"):
        if path.resolve() not in wanted:
            path.unlink()
    return sorted(entries, key=lambda e: (e["protocol"], e["row"], e["seed"]))


def write_manifest(records: list[RunRecord], catalog: MethodCatalog, zoo: Path) -> Path:
    entries = manifest_entries([r for r in records if r.status == "completed"], catalog, zoo)
    total = sum(e["bytes"] for e in entries)
    path = zoo / MANIFEST
    zoo.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"models": entries, "total_bytes": total,
                                "licence": "trained on MNIST (CC BY-SA 3.0): docs/zoo.md"},
                               indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def kept_keys(zoo: Path) -> set[str]:
    """Keys of the records whose models the manifest lists (for the pages' Models section)."""
    path = zoo / MANIFEST
    if not path.is_file():
        return set()
    return {e["key"] for e in json.loads(path.read_text(encoding="utf-8"))["models"]}
