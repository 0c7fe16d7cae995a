"""Where leaderboard records come from: a results store and committed ``*.jsonl`` files.

Only completed runs count for the results; failed runs whose seed never completed are kept
apart (:func:`failures`), so that every row can say how many of its runs failed. Records are
identified by their key (spec hash / seed). When the same key is in a committed file and in
the store with different results (a local rerun), the **committed record wins** and the pair
is reported as a conflict; the store wins only when asked (``bench leaderboard
--replace-committed``). Between files, the record created last wins (ties: the first file in
name order).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

from bench.errors import DataError
from bench.escape import confined
from bench.record import RunRecord
from bench.record_schema import RecordError, record_from_text
from bench.store import Store

RECORDS_DIR = Path("leaderboards") / "records"


def record_line(record: RunRecord) -> str:
    """One JSON line, keys sorted; the store-local row id is dropped so that a committed
    file does not depend on which store exported it."""
    return json.dumps({**record.to_json_dict(), "id": None}, sort_keys=True) + "\n"


def read_jsonl(path: Path) -> list[RunRecord]:
    """Every record of a ``.jsonl`` file, each checked (:mod:`bench.record_schema`); the first
    line that is not a record is a one-line error naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the record file ({exc})") from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(record_from_text(line))
        except RecordError as exc:
            raise DataError(f"{path}:{number}: not a run record ({exc}); fix or remove the "
                            f"line (files are written by bench results --format jsonl)") from None
    return out


def read_records_dir(folder: Path) -> list[RunRecord]:
    """Every record of ``folder/*.jsonl`` (missing folder: none)."""
    if not folder.is_dir():
        return []
    merged: dict[str, RunRecord] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for rec in read_jsonl(path):
            old = merged.get(rec.key)
            if old is None or rec.created_at > old.created_at:
                merged[rec.key] = rec
    return list(merged.values())


def read_store(path: Path) -> list[RunRecord]:
    if not path.exists():
        raise DataError(f"results store {path} does not exist; pass --store with an existing "
                        f"database or --no-store to use the record files only")
    with Store(path, readonly=True) as store:
        return store.records()   # merge() keeps the completed, failures() the failed


def sort_records(records: Iterable[RunRecord]) -> list[RunRecord]:
    return sorted(records, key=lambda r: (r.spec.method, r.spec.hash(), r.seed))


def conflicts(file_records: Iterable[RunRecord],
              store_records: Iterable[RunRecord]) -> list[tuple[RunRecord, RunRecord]]:
    """(committed, local) pairs of completed records with the same key and different
    contents; the same record exported and still in the store is no conflict."""
    committed = {r.key: r for r in file_records if r.status == "completed"}
    return [(committed[r.key], r) for r in sort_records(store_records)
            if r.status == "completed" and r.key in committed
            and record_line(committed[r.key]) != record_line(r)]


def merge(file_records: Iterable[RunRecord], store_records: Iterable[RunRecord],
          store_wins: bool = False) -> list[RunRecord]:
    """Completed records, deduplicated by key, in a fixed order. On equal keys the committed
    (file) record is kept unless ``store_wins``."""
    files = {r.key: r for r in file_records if r.status == "completed"}
    stored = {r.key: r for r in store_records if r.status == "completed"}
    merged = {**files, **stored, **({} if store_wins else files)}
    return sort_records(merged.values())


def describe_conflict(committed: RunRecord, local: RunRecord, metric: str = "acc_conflicting"
                      ) -> str:
    def value(r: RunRecord) -> str:
        v = r.metrics.get(metric)
        return f"{v:.4f}" if isinstance(v, float) else "?"
    return (f"{local.spec.method} seed {local.seed} ({local.key}): committed {metric} "
            f"{value(committed)} ({committed.created_at}), yours {value(local)} "
            f"({local.created_at})")


def export(store_records: Iterable[RunRecord], folder: Path,
           file_name: Callable[[RunRecord], str], store_wins: bool = False) -> list[Path]:
    """Adds the store's completed records, and its failed ones whose seed never completed,
    to ``folder/<file_name(record)>.jsonl``, keeping the records already there (on equal keys
    the committed one, unless ``store_wins``). Returns the files written."""
    by_file: dict[str, list[RunRecord]] = {}
    for rec in store_records:
        if rec.status in ("completed", "failed"):
            by_file.setdefault(file_name(rec), []).append(rec)
    paths = {name: confined(folder, f"{name}.jsonl") for name in by_file}   # before writing
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(by_file):
        path = paths[name]
        existing = read_jsonl(path) if path.exists() else []
        records = merge(existing, by_file[name], store_wins)
        records += failures(existing, by_file[name])   # a failure not rerun stays counted
        path.write_text("".join(record_line(r) for r in records), encoding="utf-8")
        written.append(path)
    return written


def failures(file_records: Iterable[RunRecord],
             store_records: Iterable[RunRecord]) -> list[RunRecord]:
    """Failed records whose key has no completed record in either source (the store wins on
    equal keys), in a fixed order: the runs a row counts as failed."""
    file_records, store_records = list(file_records), list(store_records)
    completed = {r.key for r in [*file_records, *store_records] if r.status == "completed"}
    failed = {r.key: r for r in file_records if r.status == "failed"}
    failed.update({r.key: r for r in store_records if r.status == "failed"})
    return sort_records(r for k, r in failed.items() if k not in completed)


def load_failures(store_path: Path | None, records_dir: Path | None) -> list[RunRecord]:
    files = read_records_dir(records_dir) if records_dir is not None else []
    stored = []
    if store_path is not None and store_path.exists():
        with Store(store_path, readonly=True) as store:
            stored = store.records()
    return failures(files, stored)
