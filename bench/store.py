"""SQLite results store: one row per (run spec hash, seed), each written in one transaction.

A record that cannot be written (store locked past the timeout) is kept as a JSON file in
``<store>.pending/`` and ingested the next time the store opens, so no result is lost.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Iterable

from bench.errors import StoreError
from bench.record import RunRecord

DEFAULT_STORE = Path("runs") / "results.sqlite"
LOCK_TIMEOUT_S = 30.0
OPEN_TIMEOUT_S = 2.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    spec_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    dataset TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
)"""


def default_store_path() -> Path:
    return Path(os.environ.get("BENCH_STORE") or DEFAULT_STORE)


class Store:
    def __init__(self, path: Path | str | None = None, timeout: float = LOCK_TIMEOUT_S):
        self.path = Path(path or default_store_path())
        self.pending_dir = self.path.with_name(self.path.name + ".pending")
        self.timeout = timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Opening waits briefly: a store locked by another process fails in seconds, not
            # after the long write timeout that puts use.
            self._conn = sqlite3.connect(self.path, timeout=min(timeout, OPEN_TIMEOUT_S),
                                         isolation_level=None)
            self._conn.execute(_SCHEMA)
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None
        except OSError as exc:
            raise StoreError(f"cannot create the results store {self.path} ({exc.strerror}); "
                             f"pass --store with a writable path") from None
        self._ingest_pending()

    def _explain(self, exc: Exception) -> str:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return (f"results store {self.path} is locked by another process; wait for it to "
                    f"finish or pass --store with another path (nothing stored was changed)")
        if "not a database" in text or "malformed" in text:
            return (f"{self.path} is not a readable results database ({text}); move it aside or "
                    f"pass --store with a new path")
        if "readonly" in text or "unable to open" in text:
            return (f"results store {self.path} is not writable ({text}); pass --store with a "
                    f"writable path")
        return f"results store {self.path}: {text}"

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_writable(self, timeout: float = 2.0) -> None:
        """Fails fast (before any training) when another process holds the write lock."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")

    def put(self, record: RunRecord, replace: bool = False) -> bool:
        """Writes a record; a completed row is only overwritten with ``replace``. Returns
        whether the row was written. If the store stays locked, the record is parked in the
        pending folder and StoreError says where."""
        try:
            return self._put(record, replace)
        except sqlite3.DatabaseError as exc:
            parked = self._park(record)
            raise StoreError(f"{self._explain(exc)}; this result was kept in {parked} and is "
                             f"added the next time the store opens") from None

    def _put(self, record: RunRecord, replace: bool) -> bool:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            row = cur.execute("SELECT id, status FROM runs WHERE key = ?", (record.key,)).fetchone()
            if row and row[1] == "completed" and not replace:
                cur.execute("ROLLBACK")
                return False
            blob = json.dumps({**record.to_json_dict(), "id": None}, sort_keys=True)
            values = (record.key, record.spec.hash(), record.seed, record.status,
                      record.spec.method, record.spec.dataset, record.source, record.created_at,
                      blob)
            if row:
                cur.execute("UPDATE runs SET key=?, spec_hash=?, seed=?, status=?, method=?, "
                            "dataset=?, source=?, created_at=?, record=? WHERE id=?",
                            (*values, row[0]))
                record.id = row[0]
            else:
                cur.execute("INSERT INTO runs (key, spec_hash, seed, status, method, dataset, "
                            "source, created_at, record) VALUES (?,?,?,?,?,?,?,?,?)", values)
                record.id = cur.lastrowid
            cur.execute("COMMIT")
            return True
        except BaseException:
            if self._conn.in_transaction:
                cur.execute("ROLLBACK")
            raise

    def _park(self, record: RunRecord) -> Path:
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        path = self.pending_dir / (record.key.replace("/", "-") + ".json")
        path.write_text(json.dumps(record.to_json_dict(), sort_keys=True))
        return path

    def _ingest_pending(self) -> None:
        if not self.pending_dir.is_dir():
            return
        for path in sorted(self.pending_dir.glob("*.json")):
            try:
                self._put(RunRecord.from_json_dict(json.loads(path.read_text())), replace=False)
            except sqlite3.DatabaseError:
                return  # still locked: try again next time, keep the file
            path.unlink()

    def status(self, key: str) -> str | None:
        row = self._conn.execute("SELECT status FROM runs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def completed_keys(self) -> set[str]:
        rows = self._conn.execute("SELECT key FROM runs WHERE status = 'completed'")
        return {r[0] for r in rows}

    def records(self, method: str | None = None, status: str | None = None) -> list[RunRecord]:
        query, args = "SELECT id, record FROM runs WHERE 1=1", []
        if method:
            query += " AND method = ?"
            args.append(method)
        if status:
            query += " AND status = ?"
            args.append(status)
        out = []
        for row_id, blob in self._conn.execute(query + " ORDER BY id", args):
            rec = RunRecord.from_json_dict(json.loads(blob))
            rec.id = row_id
            out.append(rec)
        return out

    def put_many(self, records: Iterable[RunRecord], replace: bool = False) -> int:
        return sum(self.put(r, replace) for r in records)
