"""SQLite results store: one row per (run spec hash, seed), each written in one transaction.

Only files that are results stores are opened (:mod:`bench.store_identity`); commands that
only read open the store read-only and never create one. Every row read is checked as a
record (:mod:`bench.record_schema`): a bad one is named by its row id and skipped, with one
warning line, and commands that train check the whole store before they start.

A record that cannot be written (store locked past the timeout, or no longer writable) is
kept as a JSON file in ``<store>.pending/``, or, when that folder cannot be written either, in
the unsaved-results folder (``$BENCH_UNSAVED_DIR`` or a user cache); the next store that opens
writable ingests both, so no result is lost.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Iterable

from bench.errors import StoreError
from bench.record import RunRecord
from bench.record_schema import RecordError, record_from_text
from bench.store_identity import open_readonly, open_writable

log = logging.getLogger(__name__)
# (store path, row id) already reported, so a command that reads a store twice warns once
_REPORTED: set[tuple[str, int]] = set()

DEFAULT_STORE = Path("runs") / "results.sqlite"
LOCK_TIMEOUT_S = 30.0
OPEN_TIMEOUT_S = 2.0

def default_store_path() -> Path:
    return Path(os.environ.get("BENCH_STORE") or DEFAULT_STORE)


def unsaved_dir() -> Path:
    """Where a record goes when neither its store nor the store's pending folder is writable."""
    env = os.environ.get("BENCH_UNSAVED_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "lazy-artist-bench" / "unsaved-results"


class Store:
    """``readonly``: for commands that only read (never creates, stamps or ingests anything);
    ``missing_ok`` with it: a missing store reads as an empty one."""

    def __init__(self, path: Path | str | None = None, timeout: float = LOCK_TIMEOUT_S,
                 readonly: bool = False, missing_ok: bool = False):
        self.path = Path(path or default_store_path())
        self.pending_dir = self.path.with_name(self.path.name + ".pending")
        self.timeout = timeout
        self.readonly = readonly
        # Opening waits briefly: a store locked by another process fails in seconds, not
        # after the long write timeout that puts use.
        wait = min(timeout, OPEN_TIMEOUT_S)
        try:
            self._conn = open_readonly(self.path, wait, missing_ok) if readonly else \
                open_writable(self.path, wait)
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None
        except OSError as exc:
            raise StoreError(f"cannot create the results store {self.path} ({exc.strerror}); "
                             f"pass --store with a writable path") from None
        self.ingested: list[Path] = []   # pending or unsaved records added on opening
        if not readonly:
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
        """Fails fast, before any training, when a record could not be written: another
        process holds the write lock, the file or its folder is read-only. The probe writes a
        row and rolls it back, which needs everything a real write needs (the journal beside
        the file included); nothing stored changes."""
        for target, what in ((self.path, "file"), (self.path.parent, "folder")):
            if target.exists() and not os.access(target, os.W_OK):
                raise StoreError(f"results store {self.path}: its {what} {target} is read-only; "
                                 f"pass --store with a writable path (nothing was run)")
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("INSERT INTO runs (key, spec_hash, seed, status, method, "
                                   "dataset, source, created_at, record) VALUES "
                                   "('write-probe', '', 0, '', '', '', '', '', '')")
            finally:
                self._conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc) + " (nothing was run)") from None
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
                             f"added the next time a writable store opens") from None

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
        """The record as a JSON file: beside the store, else in the unsaved-results folder,
        else in the system's temporary folder. Written whole or not at all."""
        text = json.dumps(record.to_json_dict(), sort_keys=True)
        name = record.key.replace("/", "-") + ".json"
        errors = []
        for folder in (self.pending_dir, unsaved_dir(), Path(tempfile.gettempdir())):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.tmp{os.getpid()}"
                tmp.write_text(text)
                os.replace(tmp, folder / name)
                return folder / name
            except OSError as exc:
                errors.append(f"{folder}: {exc.strerror or exc}")
        raise StoreError(f"results store {self.path} is not writable and no folder could keep "
                         f"the record ({'; '.join(errors)})")

    def _ingest_pending(self) -> None:
        for folder in (self.pending_dir, unsaved_dir()):
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                try:
                    record = record_from_text(path.read_text())
                except (OSError, UnicodeDecodeError, RecordError):
                    continue   # not one of ours, or unreadable: left for the user
                try:
                    self._put(record, replace=False)
                    path.unlink()
                except sqlite3.DatabaseError:
                    return     # still locked or read-only: try again next time, keep the file
                except OSError:
                    pass       # ingested; the file stays where we cannot delete it
                self.ingested.append(path)

    def status(self, key: str) -> str | None:
        row = self._conn.execute("SELECT status FROM runs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def completed_keys(self) -> set[str]:
        rows = self._conn.execute("SELECT key FROM runs WHERE status = 'completed'")
        return {r[0] for r in rows}

    def records(self, method: str | None = None, status: str | None = None) -> list[RunRecord]:
        query, args = "SELECT id, key, record FROM runs WHERE 1=1", []
        if method:
            query += " AND method = ?"
            args.append(method)
        if status:
            query += " AND status = ?"
            args.append(status)
        out = []
        for row_id, key, blob in self._conn.execute(query + " ORDER BY id", args):
            try:
                rec = self._row_record(key, blob)
            except RecordError as exc:
                self._report(row_id, exc)
                continue
            rec.id = row_id
            out.append(rec)
        return out

    @staticmethod
    def _row_record(key: str, blob: object) -> RunRecord:
        if not isinstance(blob, str):
            raise RecordError(f"its record is {type(blob).__name__}, not JSON text")
        record = record_from_text(blob)
        if record.key != key:
            raise RecordError(f"its key column {key!r} is not its record's key ({record.key})")
        return record

    def _report(self, row_id: int, exc: RecordError) -> None:
        if (str(self.path), row_id) not in _REPORTED:
            _REPORTED.add((str(self.path), row_id))
            log.warning("warning: results store %s, row %d: %s; skipped", self.path, row_id,
                        " ".join(str(exc).split()))

    def bad_rows(self) -> list[tuple[int, str]]:
        """(row id, why) of every row that is not a readable record."""
        bad = []
        for row_id, key, blob in self._conn.execute("SELECT id, key, record FROM runs "
                                                    "ORDER BY id"):
            try:
                self._row_record(key, blob)
            except RecordError as exc:
                bad.append((row_id, " ".join(str(exc).split())))
        return bad

    def check_rows(self) -> None:
        """Before training: a store with rows this bench cannot read is refused with one line
        (a run would otherwise be paid for and then meet them), naming the rows and the fix."""
        bad = self.bad_rows()
        if bad:
            ids = ", ".join(str(i) for i, _ in bad[:10]) + (", ..." if len(bad) > 10 else "")
            raise StoreError(f"results store {self.path} has {len(bad)} row(s) that are not "
                             f"readable records (row {bad[0][0]}: {bad[0][1]}); move the store "
                             f"aside, or delete them: sqlite3 {self.path} 'DELETE FROM runs "
                             f"WHERE id IN ({ids})' (nothing was run)")

    def put_many(self, records: Iterable[RunRecord], replace: bool = False) -> int:
        return sum(self.put(r, replace) for r in records)
